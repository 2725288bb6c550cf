//! Projects: CRUD, validation and the audit trail.

use actix_web::http::StatusCode;
use nexpay_store::testing::TestDb;
use serde_json::{json, Value};

use crate::common::*;

both_backends!(projects_crud_with_audit, project_validation_errors);

const BASE: &str = "/admin/api/v1/projects";

async fn projects_crud_with_audit(db: TestDb) {
    let ctx = Ctx::new(db);
    let app = app!(ctx.state);
    let (user, token) = ctx.admin().await;
    let t = Some(token.as_str());

    let body = json!({
        "name": "  Boutique  ",
        "successUrl": "https://shop.example/ok",
        "cancelUrl": "http://localhost:3000/cancel",
        "settings": {"accentColor": "#FF8800", "logoUrl": "https://cdn.example/logo.png", "locale": "fr"}
    });
    let (status, _, created) = send(&app, request("POST", BASE, t, Some(body)).to_request()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("proj_"));
    assert_eq!(created["name"], "Boutique");
    assert_eq!(created["successUrl"], "https://shop.example/ok");
    assert_eq!(created["failureUrl"], Value::Null);
    assert_eq!(created["settings"]["accentColor"], "#ff8800");
    assert_eq!(created["isDefault"], false);
    assert_eq!(created["archivedAt"], Value::Null);

    let (status, _, got) = send(
        &app,
        request("GET", &format!("{BASE}/{id}"), t, None).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, created);
    let (_, _, list) = send(&app, request("GET", BASE, t, None).to_request()).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);

    // PATCH: absent fields stay, null clears, settings are replaced as a whole.
    let patch = json!({"name": "Boutique 2", "successUrl": null, "settings": {"locale": "en"}});
    let (status, _, updated) = send(
        &app,
        request("PATCH", &format!("{BASE}/{id}"), t, Some(patch)).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["name"], "Boutique 2");
    assert_eq!(updated["successUrl"], Value::Null);
    assert_eq!(updated["cancelUrl"], "http://localhost:3000/cancel");
    assert_eq!(updated["settings"], json!({"locale": "en"}));

    let (status, _, archived) = send(
        &app,
        request("DELETE", &format!("{BASE}/{id}"), t, None).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{archived}");
    assert_eq!(archived["archived"], true);
    assert!(archived["message"]
        .as_str()
        .unwrap()
        .contains("never deleted"));
    assert!(archived["project"]["archivedAt"].is_string());

    // Archived: hidden by default, still readable, no longer changeable.
    let (_, _, list) = send(&app, request("GET", BASE, t, None).to_request()).await;
    assert!(list["data"].as_array().unwrap().is_empty());
    let (_, _, list) = send(
        &app,
        request("GET", &format!("{BASE}?includeArchived=true"), t, None).to_request(),
    )
    .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let (status, _, _) = send(
        &app,
        request("GET", &format!("{BASE}/{id}"), t, None).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = send(
        &app,
        request(
            "PATCH",
            &format!("{BASE}/{id}"),
            t,
            Some(json!({"name": "x"})),
        )
        .to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(assert_envelope(status, &body), "conflict");
    let (status, _, _) = send(
        &app,
        request("DELETE", &format!("{BASE}/{id}"), t, None).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);

    for (method, body) in [
        ("GET", None),
        ("PATCH", Some(json!({"name": "x"}))),
        ("DELETE", None),
    ] {
        let (status, _, body) = send(
            &app,
            request(method, &format!("{BASE}/proj_unknown"), t, body).to_request(),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method}");
        assert_eq!(assert_envelope(status, &body), "not_found");
    }

    let audit = ctx.store().list_audit(50).await.unwrap();
    for action in ["project.create", "project.update", "project.archive"] {
        let row = audit
            .iter()
            .find(|a| a.action == action)
            .unwrap_or_else(|| panic!("{action} audited"));
        assert_eq!(row.actor, user.id);
        assert_eq!(row.target.as_deref(), Some(id.as_str()));
    }
    assert_eq!(audit.len(), 3, "refused calls write nothing");
    ctx.finish().await;
}

async fn project_validation_errors(db: TestDb) {
    let ctx = Ctx::new(db);
    let app = app!(ctx.state);
    let (_, token) = ctx.admin().await;
    let t = Some(token.as_str());
    let cases = [
        (
            json!({"name": "Shop", "successUrl": "not a url"}),
            "successUrl",
        ),
        (
            json!({"name": "Shop", "failureUrl": "ftp://files.example/x"}),
            "failureUrl",
        ),
        (
            json!({"name": "Shop", "cancelUrl": "https://user:pw@shop.example/"}),
            "cancelUrl",
        ),
        (
            json!({"name": "Shop", "settings": {"color": "#ffffff"}}),
            "settings.color",
        ),
        (
            json!({"name": "Shop", "settings": {"accentColor": "red"}}),
            "settings.accentColor",
        ),
        (
            json!({"name": "Shop", "settings": {"logoUrl": "http://cdn.example/l.png"}}),
            "settings.logoUrl",
        ),
        (
            json!({"name": "Shop", "settings": {"locale": "de"}}),
            "settings.locale",
        ),
        (json!({"name": "Shop", "settings": ["fr"]}), "settings"),
        (json!({"name": "   "}), "name"),
        (json!({"name": "x".repeat(101)}), "name"),
        (json!({"successUrl": "https://shop.example"}), "name"),
    ];
    for (body, field) in cases {
        let (status, _, answer) = send(
            &app,
            request("POST", BASE, t, Some(body.clone())).to_request(),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(assert_envelope(status, &answer), "validation_error");
        assert_eq!(answer["error"]["details"][0]["field"], field, "{answer}");
    }
    // Several problems are reported together.
    let body = json!({"name": "", "successUrl": "nope", "settings": {"x": 1}});
    let (_, _, answer) = send(&app, request("POST", BASE, t, Some(body)).to_request()).await;
    assert_eq!(
        answer["error"]["details"].as_array().unwrap().len(),
        3,
        "{answer}"
    );
    // Unknown top-level fields are refused, not ignored.
    let (status, _, answer) = send(
        &app,
        request(
            "POST",
            BASE,
            t,
            Some(json!({"name": "Shop", "successURL": "https://a.example"})),
        )
        .to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["message"].as_str().unwrap().contains("successURL"),
        "{answer}"
    );
    // Exactly 100 characters is fine.
    let (status, _, _) = send(
        &app,
        request("POST", BASE, t, Some(json!({"name": "é".repeat(100)}))).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(ctx.store().list_projects(true).await.unwrap().len(), 1);
    ctx.finish().await;
}
