//! Currencies no provider accepts, and disabled providers.

use crate::support::*;
use serde_json::json;

fn with_currency(mut body: serde_json::Value, currency: &str) -> serde_json::Value {
    body["currency"] = json!(currency);
    body
}

e2e!(currencies_and_providers, |app| {
    let before = count(app).await;
    // A known currency that no provider accepts.
    let r = post(
        app,
        SESSION,
        Some(&app.write_key),
        &with_currency(session_body(), "EUR"),
        &[],
    )
    .await;
    assert_error(&r, 422, "unsupported_currency");
    let r = post(
        app,
        PAYMENT,
        Some(&app.write_key),
        &with_currency(payment_body("om"), "EUR"),
        &[],
    )
    .await;
    assert_error(&r, 422, "unsupported_currency");

    // A disabled provider.
    assert!(app.store.set_provider_enabled("om", false).await.unwrap());
    let r = post(app, PAYMENT, Some(&app.write_key), &payment_body("om"), &[]).await;
    assert_error(&r, 422, "provider_unavailable");
    let id = create_session(app).await;
    let r = post(
        app,
        &checkout_path(&id),
        Some(&app.write_key),
        &json!({"provider_code": "om"}),
        &[],
    )
    .await;
    assert_error(&r, 422, "provider_unavailable");
    let status = get(app, &session_path(&id), Some(&app.read_key)).await;
    assert_eq!(status.data()["status"], json!("opened"));
    assert_eq!(count(app).await, before + 1, "only the session");

    // With no provider left for XOF, sessions are refused too.
    assert!(app.store.set_provider_enabled("wave", false).await.unwrap());
    let r = post(app, SESSION, Some(&app.write_key), &session_body(), &[]).await;
    assert_error(&r, 422, "unsupported_currency");
    assert_eq!(count(app).await, before + 1);

    // Enabled again, it works.
    assert!(app.store.set_provider_enabled("om", true).await.unwrap());
    let r = post(app, PAYMENT, Some(&app.write_key), &payment_body("om"), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
});
