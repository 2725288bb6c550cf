//! The OpenAPI document and Swagger UI outside production; production mode with the
//! legacy `X_WRITE_KEY` / `X_READ_KEY` as live keys.

use crate::support::*;
use serde_json::json;

e2e!(openapi_and_swagger_ui, |app| {
    let r = get(app, "/api-docs/openapi.json", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json")));
    assert!(
        r.json["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with('3')),
        "an OpenAPI 3 document"
    );
    let paths = r.json["paths"].as_object().expect("paths");
    for p in [
        "/api/v1/payment/initiate",
        "/api/v1/payment/session/initiate",
        "/api/v1/payment/session/{id}",
    ] {
        assert!(
            paths.contains_key(p),
            "{p} documented; have {:?}",
            paths.keys().collect::<Vec<_>>()
        );
    }
    assert!(paths["/api/v1/payment/initiate"].get("post").is_some());
    assert!(paths["/api/v1/payment/session/{id}"].get("get").is_some());

    let ui = app
        .client
        .get(format!("{}/docs/", app.service_url("gateway")))
        .send()
        .await
        .unwrap();
    let ui = Resp::read(ui).await;
    assert_eq!(ui.status, 200, "{}", ui.text);
    assert!(ui
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/html")));
    assert!(
        ui.text.to_lowercase().contains("swagger"),
        "Swagger UI page"
    );
});

const LIVE_WRITE: &str = "LiveWriteKey-7f3a9c2e1b5d8f4a6c0e";
const LIVE_READ: &str = "LiveReadKey-2b8d4f6a1c3e5x7y9z0k";

e2e!(
    production_mode,
    env = [
        ("NEXPAY_ENV", "production"),
        (
            "ENCRYPTION_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
        ),
        (
            "WEBHOOK_SECRETS_KEY",
            "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="
        ),
        ("JWT_SECRET", "e2e-jwt-9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e"),
        ("ADMIN_PASSWORD", "Prod-Admin-Pa55-for-e2e-runs"),
        ("X_WRITE_KEY", LIVE_WRITE),
        ("X_READ_KEY", LIVE_READ),
    ],
    |app| {
        for path in ["/api-docs/openapi.json", "/docs/"] {
            let r = get(app, path, None).await;
            assert_eq!(
                r.status, 404,
                "{path} is not served in production: {}",
                r.text
            );
        }
        let live_before = app
            .store
            .count_payments(&app.project_id, "live")
            .await
            .unwrap();

        // The legacy write key is a live write key of the default project.
        let r = post(app, SESSION, Some(LIVE_WRITE), &session_body(), &[]).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let id = r.data()["sessionId"].as_str().unwrap().to_owned();
        let session = app.store.get_session(&id).await.unwrap().unwrap();
        assert_eq!(
            (session.project_id.as_str(), session.mode.as_str()),
            (app.project_id.as_str(), "live")
        );
        let g = get(app, &session_path(&id), Some(LIVE_READ)).await;
        assert_eq!(g.status, 200, "{}", g.text);
        assert_eq!(g.data()["mode"], json!("live"));
        // Test keys do not see live sessions.
        assert_error(
            &get(app, &session_path(&id), Some(&app.read_key)).await,
            404,
            "not_found",
        );
        assert_error(
            &post(app, SESSION, Some(LIVE_READ), &session_body(), &[]).await,
            403,
            "forbidden",
        );

        // No live connector yet: a clear 422, never a call to a simulator.
        let r = post(app, PAYMENT, Some(LIVE_WRITE), &payment_body("wave"), &[]).await;
        assert_error(&r, 422, "provider_not_configured");
        let r = post(
            app,
            &checkout_path(&id),
            Some(LIVE_READ),
            &json!({"provider_code": "om"}),
            &[],
        )
        .await;
        assert_error(&r, 422, "provider_not_configured");
        assert_eq!(
            get(app, &session_path(&id), Some(LIVE_READ)).await.data()["status"],
            json!("opened"),
            "the session stays payable"
        );
        assert_eq!(
            app.store
                .count_payments(&app.project_id, "live")
                .await
                .unwrap(),
            live_before + 1,
            "only the session's payment: a refused live payment writes nothing"
        );

        // Test keys keep working with the simulators in production.
        let r = post(
            app,
            PAYMENT,
            Some(&app.write_key),
            &payment_body("wave"),
            &[],
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
);
