//! `Idempotency-Key`: replays, mismatches, failed first requests, concurrency.

use crate::support::*;
use nexpay_testkit::TestApp;
use serde_json::{json, Value};

fn replayed(r: &Resp) -> bool {
    r.header("idempotent-replayed") == Some("true")
}

/// Same key and body twice: one object, identical bodies, the second marked replayed.
async fn replay_twice(app: &TestApp, path: &str, body: &Value, key: &str) -> Value {
    let before = count(app).await;
    let headers = [("Idempotency-Key", key)];
    let first = post(app, path, Some(&app.write_key), body, &headers).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert!(!replayed(&first), "the first response is not a replay");
    let second = post(app, path, Some(&app.write_key), body, &headers).await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert!(replayed(&second), "idempotent-replayed: true on the replay");
    assert_eq!(second.text, first.text, "byte-identical replay");
    assert!(second.header("x-request-id").is_some());
    assert_eq!(count(app).await, before + 1, "exactly one object created");
    first.json
}

e2e!(session_initiate_replays, |app| {
    let first = replay_twice(app, SESSION, &session_body(), "idem-session-1").await;
    let id = first["data"]["sessionId"].as_str().unwrap();
    assert!(app.store.get_session(id).await.unwrap().is_some());
    // Another key creates another session.
    let other = replay_twice(app, SESSION, &session_body(), "idem-session-2").await;
    assert_ne!(other["data"]["sessionId"], first["data"]["sessionId"]);
});

e2e!(payment_initiate_replays, |app| {
    for provider in ["om", "wave"] {
        let key = format!("idem-payment-{provider}");
        let first = replay_twice(app, PAYMENT, &payment_body(provider), &key).await;
        let reference = first["data"]["reference"].as_str().unwrap();
        let payment = app
            .store
            .get_payment_by_reference(reference)
            .await
            .unwrap()
            .expect("stored");
        assert_eq!(payment.request_key.as_deref(), Some(key.as_str()));
        assert_eq!(
            app.store.list_attempts(&payment.id).await.unwrap().len(),
            1,
            "one attempt only"
        );
    }
});

e2e!(same_key_different_body_conflicts, |app| {
    let headers = [("Idempotency-Key", "idem-mismatch")];
    let first = post(
        app,
        PAYMENT,
        Some(&app.write_key),
        &payment_body("wave"),
        &headers,
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.text);
    let before = count(app).await;
    let mut changed = payment_body("wave");
    changed["amount"] = json!(20000);
    let r = post(app, PAYMENT, Some(&app.write_key), &changed, &headers).await;
    assert_error(&r, 409, "idempotency_error");
    assert!(!replayed(&r));
    // The same key on another route is another request too.
    let r = post(
        app,
        SESSION,
        Some(&app.write_key),
        &session_body(),
        &headers,
    )
    .await;
    assert_error(&r, 409, "idempotency_error");
    assert_eq!(count(app).await, before);
    // The original still replays.
    let again = post(
        app,
        PAYMENT,
        Some(&app.write_key),
        &payment_body("wave"),
        &headers,
    )
    .await;
    assert_eq!(again.text, first.text);
    assert!(replayed(&again));

    // A malformed key is refused before anything runs.
    let long = "k".repeat(256);
    let r = post(
        app,
        PAYMENT,
        Some(&app.write_key),
        &payment_body("wave"),
        &[("Idempotency-Key", &long)],
    )
    .await;
    assert_invalid_field(&r, "Idempotency-Key");
    assert_eq!(count(app).await, before);
});

e2e!(failed_first_request_replays_its_error, |app| {
    let before = count(app).await;
    let mut body = session_body();
    body["amount"] = json!(0);
    let headers = [("Idempotency-Key", "idem-invalid")];
    let first = post(app, SESSION, Some(&app.write_key), &body, &headers).await;
    assert_invalid_field(&first, "amount");
    let second = post(app, SESSION, Some(&app.write_key), &body, &headers).await;
    assert_eq!(second.status, 400);
    assert!(replayed(&second));
    assert_eq!(second.json["error"], first.json["error"]);
    assert_eq!(second.json["message"], first.json["message"]);
    assert_eq!(count(app).await, before);
    // A fixed body under the same key is a different request.
    let fixed = post(
        app,
        SESSION,
        Some(&app.write_key),
        &session_body(),
        &headers,
    )
    .await;
    assert_error(&fixed, 409, "idempotency_error");
    assert_eq!(count(app).await, before);
});

e2e!(concurrent_requests_with_one_key, |app| {
    let before = count(app).await;
    let body = payment_body("wave");
    let headers = [("Idempotency-Key", "idem-concurrent")];
    let calls = (0..10).map(|_| post(app, PAYMENT, Some(&app.write_key), &body, &headers));
    let results = futures::future::join_all(calls).await;
    let oks: Vec<&Resp> = results.iter().filter(|r| r.status == 200).collect();
    assert!(!oks.is_empty(), "at least one request succeeds");
    for r in &results {
        if r.status != 200 {
            assert_error(r, 409, "idempotency_error");
        }
    }
    for r in &oks {
        assert_eq!(
            r.data(),
            oks[0].data(),
            "every success carries the same payment"
        );
    }
    assert_eq!(count(app).await, before + 1, "exactly one payment");
    let reference = oks[0].data()["reference"].as_str().unwrap();
    let payment = app
        .store
        .get_payment_by_reference(reference)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(app.store.list_attempts(&payment.id).await.unwrap().len(), 1);
    // Once settled, the key replays.
    let after = post(app, PAYMENT, Some(&app.write_key), &body, &headers).await;
    assert_eq!(after.status, 200);
    assert!(replayed(&after));
    assert_eq!(after.data(), oks[0].data());
});

e2e!(key_order_does_not_matter, |app| {
    let a = r#"{"amount":10000,"currency":"XOF","customer":{"name":"A B","phone":"+221771234567","email":"a@example.com"},"metadata":{"x":1,"y":"z"}}"#;
    let b = r#"{ "metadata": {"y": "z", "x": 1}, "customer": {"email": "a@example.com", "phone": "+221771234567", "name": "A B"}, "currency": "XOF", "amount": 10000 }"#;
    let before = count(app).await;
    let headers = [("Idempotency-Key", "idem-order")];
    let send_raw = |text: &'static str| {
        send(
            app,
            reqwest::Method::POST,
            SESSION,
            Some(&app.write_key),
            Some((Some("application/json"), text.as_bytes().to_vec())),
            &headers,
        )
    };
    let first = send_raw(a).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let second = send_raw(b).await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert!(replayed(&second));
    assert_eq!(second.text, first.text);
    assert_eq!(count(app).await, before + 1);
});
