//! Provider configuration through the admin API: validated, sealed, never shown back;
//! `live` / `missing`; live payments through the merchant API once configured (Wave
//! pointed at this instance's own simulator, with an API key registered there); the
//! dashboard's test payment.

use crate::support::*;
use nexpay_testkit::{eventually, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

const WAVE_LIVE_KEY: &str = "wave_sn_prod_e2eLiveKey0123456789abcdWXYZ";
const WAVE_WEBHOOK_SECRET: &str = "wave_sn_WHS_e2eWebhookSecret0123456LMNO";
const OM_CLIENT_SECRET: &str = "om-e2e-client-secret-0123456789GHIJ";

fn secrets() -> [&'static str; 3] {
    [WAVE_LIVE_KEY, WAVE_WEBHOOK_SECRET, OM_CLIENT_SECRET]
}

#[track_caller]
fn assert_no_secret(text: &str) {
    for s in secrets() {
        assert!(!text.contains(s), "a secret leaked: {text}");
        assert!(!text.contains(&s[..16]), "part of a secret leaked: {text}");
    }
}

async fn provider(app: &TestApp, token: &str, code: &str) -> Value {
    let r = admin(
        app,
        Method::GET,
        &format!("/providers/{code}"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_no_secret(&r.text);
    r.json
}

/// The `cos-…` session id in a Wave launch URL.
fn session_id(launch_url: &str) -> &str {
    let tail = launch_url.rsplit('/').next().unwrap_or_default();
    tail.split('?').next().unwrap_or_default()
}

e2e!(provider_configuration_and_live_payments, |app| {
    let token = admin_token(app).await;
    let (_, live_key) = insert_key(app, &app.project_id, "write", "live", None).await;

    // Fresh instance: nothing live, the webhook URLs to register at the providers.
    let r = admin(app, Method::GET, "/providers", Some(&token), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    for p in r.json["data"].as_array().unwrap() {
        let code = p["code"].as_str().unwrap();
        assert_eq!(p["live"], json!(false), "{p}");
        assert_eq!(p["missing"], json!(["secrets", "webhook"]), "{p}");
        assert_eq!(
            p["webhookUrl"],
            json!(format!("{}/api/v1/webhook/{code}", app.base_url))
        );
    }
    let r = post(app, PAYMENT, Some(&live_key), &payment_body("wave"), &[]).await;
    assert_error(&r, 422, "provider_not_configured");

    // Rejected configurations: 422 naming the field, nothing stored.
    let r = admin(
        app,
        Method::PUT,
        "/providers/wave/config",
        Some(&token),
        Some(json!({
            "apiKey": WAVE_LIVE_KEY,
            "webhook": {"strategy": "signing_secret", "secret": "only-nineteen-chars"},
        })),
    )
    .await;
    assert_eq!(
        fields(assert_error(&r, 422, "validation_error")),
        ["webhook.secret"]
    );
    assert_no_secret(&r.text);
    let r = admin(
        app,
        Method::PUT,
        "/providers/om/config",
        Some(&token),
        Some(json!({
            "clientId": "om-e2e-client",
            "clientSecret": OM_CLIENT_SECRET,
            "merchantCode": "62151",
            "merchantName": "Ma Boutique",
            "webhook": {"strategy": "auto"},
        })),
    )
    .await;
    assert_eq!(
        fields(assert_error(&r, 422, "validation_error")),
        ["merchantCode"]
    );
    for code in ["wave", "om"] {
        let row = app.store.get_provider(code).await.unwrap().unwrap();
        assert_eq!(row.sealed_config, None, "{code}: nothing stored");
    }

    // The simulator learns the live key, as Wave's portal would issue it; NexPay's Wave
    // configuration points at the simulator.
    let r = post(
        app,
        "/sandbox/wave/_sim/api-keys",
        None,
        &json!({"key": WAVE_LIVE_KEY, "business_name": "Ma Boutique"}),
        &[],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = admin(
        app,
        Method::PUT,
        "/providers/wave/config",
        Some(&token),
        Some(json!({
            "apiKey": WAVE_LIVE_KEY,
            "webhook": {"strategy": "signing_secret", "secret": WAVE_WEBHOOK_SECRET},
            "baseUrl": format!("{}/sandbox/wave", app.base_url),
        })),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_no_secret(&r.text);
    assert_eq!(r.json["live"], json!(true), "{}", r.text);
    assert_eq!(r.json["missing"], json!([]));
    assert_eq!(r.json["config"]["apiKey"]["last4"], json!("WXYZ"));
    assert_eq!(
        r.json["config"]["webhook"]["secret"]["last4"],
        json!("LMNO")
    );
    let row = app.store.get_provider("wave").await.unwrap().unwrap();
    let sealed = row.sealed_config.unwrap();
    assert_no_secret(&sealed);
    assert_no_secret(&row.config_summary);
    assert_no_secret(&provider(app, &token, "wave").await.to_string());

    // Real Wave wants https return URLs: the merchant's project has them.
    let r = admin(
        app,
        Method::PATCH,
        &format!("/projects/{}", app.project_id),
        Some(&token),
        Some(json!({
            "successUrl": "https://shop.example/paid",
            "failureUrl": "https://shop.example/failed",
        })),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // A live payment through the merchant API goes to the configured Wave (the
    // connectors re-read the configuration within a second).
    let live = eventually(std::time::Duration::from_secs(8), || async {
        let r = post(app, PAYMENT, Some(&live_key), &payment_body("wave"), &[]).await;
        (r.status == 200).then_some(r)
    })
    .await
    .expect("a live Wave payment once configured");
    let data = live.data();
    let launch = data["checkout_urls"][0]["url"].as_str().unwrap().to_owned();
    assert!(
        launch.contains("/sandbox/wave/c/cos-"),
        "a checkout of the configured Wave: {launch}"
    );
    assert!(data["qr_code"]["data"]
        .as_str()
        .is_some_and(|q| !q.is_empty()));
    let reference = data["reference"].as_str().unwrap();
    let payment = app
        .store
        .get_payment_by_reference(reference)
        .await
        .unwrap()
        .expect("the payment is stored");
    assert_eq!(payment.mode, "live");
    // The simulator holds the session, opened with the live key's wallet.
    let r = get(
        app,
        &format!("/sandbox/wave/_sim/sessions/{}", session_id(&launch)),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["session"]["amount"], json!("10000"), "{}", r.text);
    assert_eq!(r.json["business_name"], json!("Ma Boutique"), "{}", r.text);

    // The dashboard's test payment: 100 XOF, live, with what is needed to pay it.
    let r = admin(
        app,
        Method::POST,
        "/providers/wave/test-payment",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_no_secret(&r.text);
    assert!(
        r.json["qrCode"].as_str().is_some_and(|q| !q.is_empty()),
        "{}",
        r.text
    );
    let link = r.json["checkoutUrl"].as_str().unwrap();
    assert!(link.contains("/sandbox/wave/c/cos-"), "{link}");
    assert!(r.json["reference"]
        .as_str()
        .unwrap()
        .starts_with("NEXPAY_TX_"));
    rfc3339(&r.json["expiresAt"]);
    assert_eq!(r.json["amount"], json!(100));
    let test = app
        .store
        .get_payment_by_reference(r.json["reference"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((test.mode.as_str(), test.amount), ("live", 100));
    let view = provider(app, &token, "wave").await;
    assert!(view["testPassedAt"].is_string(), "{view}");
    assert!(app
        .store
        .get_provider("wave")
        .await
        .unwrap()
        .unwrap()
        .test_passed_at
        .is_some());

    // Orange Money in auto mode waits for its callback registration: not live.
    let r = admin(
        app,
        Method::PUT,
        "/providers/om/config",
        Some(&token),
        Some(json!({
            "clientId": "om-e2e-client",
            "clientSecret": OM_CLIENT_SECRET,
            "merchantCode": "621513",
            "merchantName": "Ma Boutique",
            "webhook": {"strategy": "auto"},
            "baseUrl": format!("{}/sandbox/om", app.base_url),
        })),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_no_secret(&r.text);
    assert_eq!(r.json["missing"], json!(["webhook"]));
    let r = admin(
        app,
        Method::POST,
        "/providers/om/test-payment",
        Some(&token),
        None,
    )
    .await;
    assert_error(&r, 409, "provider_not_live");

    // Disabled: no longer live, and live payments are refused.
    let r = admin(
        app,
        Method::POST,
        "/providers/wave/disable",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["live"], json!(false));
    let r = post(app, PAYMENT, Some(&live_key), &payment_body("wave"), &[]).await;
    assert_error(&r, 422, "provider_unavailable");
});
