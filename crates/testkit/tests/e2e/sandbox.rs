//! The provider simulators under `/sandbox/wave` and `/sandbox/om`, answering like the
//! real APIs (auth errors, the content-type rule), beside the merchant API: served by
//! the standalone binary itself, and by the sandbox service in the distributed stack.

use serde_json::Value;

e2e!(simulators_are_served, |app| {
    // Wave: a call without credentials gets Wave's own error body.
    let r = app
        .client
        .get(app.url("/sandbox/wave/v1/checkout/sessions/cos-1234567890abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "missing-auth-header", "{body}");

    // Orange Money: unknown OAuth client.
    let r = app
        .client
        .post(app.url("/sandbox/om/oauth/v1/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "nobody"),
            ("client_secret", "nothing"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client", "{body}");

    // Orange Money: every API call needs `Content-Type: application/json`, GETs too.
    let r = app
        .client
        .get(app.url("/sandbox/om/api/eWallet/v1/transactions?reference=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);

    // The merchant API still answers on the same port.
    let r = app
        .client
        .get(app.url("/api/v1/payment/session/cs_unknown"))
        .header("x-api-key", &app.read_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
});
