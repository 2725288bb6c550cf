//! Choosing and switching the provider of a session.

use crate::support::*;
use nexpay_testkit::TestApp;
use serde_json::json;

fn active(attempts: &[nexpay_store::AttemptRow]) -> usize {
    attempts
        .iter()
        .filter(|a| a.status == "created" || a.status == "pending")
        .count()
}

async fn payment_of(app: &TestApp, session_id: &str) -> nexpay_store::PaymentRow {
    let (_, payment, _) = app
        .store
        .get_session_view(session_id)
        .await
        .unwrap()
        .expect("session");
    payment
}

e2e!(checkout_then_switch_provider, |app| {
    let id = create_session(app).await;
    let wave = post(
        app,
        &checkout_path(&id),
        Some(&app.write_key),
        &json!({"provider_code": "wave"}),
        &[],
    )
    .await;
    assert_eq!(wave.status, 200, "{}", wave.text);
    assert_eq!(
        wave.json["message"],
        json!("Payment data successfully initialized")
    );
    let d = wave.data();
    assert_eq!(d["sessionId"], json!(id));
    assert_eq!(d["provider"]["code"], json!("wave"));
    assert_eq!(d["amount"], json!(10000));
    assert_eq!(d["checkout_urls"].as_array().map(Vec::len), Some(1));
    assert!(d["qr_code"]["data"].as_str().is_some_and(|q| !q.is_empty()));
    let reference = d["reference"].as_str().unwrap().to_owned();

    let status = get(app, &session_path(&id), Some(&app.read_key)).await;
    assert_eq!(status.data()["status"], json!("pending"));
    assert_eq!(
        status.data()["provider"],
        json!({"name": "Wave", "code": "wave"})
    );

    let payment = payment_of(app, &id).await;
    assert_eq!(payment.reference, reference);
    let attempts = app.store.list_attempts(&payment.id).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].status, "pending");

    // A double click on the same provider returns the open checkout, no new attempt.
    let again = post(
        app,
        &checkout_path(&id),
        Some(&app.write_key),
        &json!({"provider_code": "wave"}),
        &[],
    )
    .await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.data()["reference"], json!(reference));
    assert_eq!(again.data()["checkout_urls"], d["checkout_urls"]);
    assert_eq!(again.data()["qr_code"], d["qr_code"]);
    let attempts = app.store.list_attempts(&payment.id).await.unwrap();
    assert_eq!(attempts.len(), 1, "same provider twice: same attempt");

    // Switching cancels the open attempt; never two active ones.
    let om = post(
        app,
        &checkout_path(&id),
        Some(&app.read_key),
        &json!({"provider_code": "om"}),
        &[],
    )
    .await;
    assert_eq!(
        om.status, 200,
        "a read (publishable) key may choose the provider: {}",
        om.text
    );
    assert_eq!(om.data()["provider"]["code"], json!("om"));
    assert_eq!(
        om.data()["reference"],
        json!(reference),
        "one payment per session"
    );
    assert_eq!(om.data()["checkout_urls"].as_array().map(Vec::len), Some(2));
    let attempts = app.store.list_attempts(&payment.id).await.unwrap();
    let states: Vec<(&str, &str)> = attempts
        .iter()
        .map(|a| (a.provider_code.as_str(), a.status.as_str()))
        .collect();
    assert_eq!(states, [("wave", "cancelled"), ("om", "pending")]);
    assert_eq!(active(&attempts), 1);
    assert_ne!(
        attempts[0].provider_reference, attempts[1].provider_reference,
        "each attempt has its own provider reference"
    );

    let status = get(app, &session_path(&id), Some(&app.write_key)).await;
    assert_eq!(status.data()["status"], json!("pending"));
    assert_eq!(
        status.data()["provider"],
        json!({"name": "Orange Money", "code": "om"})
    );
    assert_eq!(payment_of(app, &id).await.status, "PENDING");
    assert_eq!(
        count(app).await,
        1,
        "a session is one payment, whatever the attempts"
    );
});

e2e!(concurrent_checkouts_leave_one_active_attempt, |app| {
    let id = create_session(app).await;
    let path = checkout_path(&id);
    let bodies = [
        json!({"provider_code": "wave"}),
        json!({"provider_code": "om"}),
    ];
    let calls = (0..6).map(|i| post(app, &path, Some(&app.read_key), &bodies[i % 2], &[]));
    let results = futures::future::join_all(calls).await;
    for r in &results {
        assert!(
            r.status == 200 || r.status == 409,
            "200 or a 409 conflict: {} {}",
            r.status,
            r.text
        );
        if r.status == 409 {
            assert_error(r, 409, "conflict");
        }
    }
    assert!(results.iter().any(|r| r.status == 200));
    let payment = payment_of(app, &id).await;
    let attempts = app.store.list_attempts(&payment.id).await.unwrap();
    assert_eq!(
        active(&attempts),
        1,
        "exactly one active attempt: {:?}",
        attempts
            .iter()
            .map(|a| (&a.provider_code, &a.status))
            .collect::<Vec<_>>()
    );
});

e2e!(checkout_cannot_change_redirects, |app| {
    let id = create_session(app).await;
    let before = app.store.get_session(&id).await.unwrap().unwrap();
    for (field, value) in [
        ("success_url", json!("https://evil.example/ok")),
        ("cancel_url", json!("https://evil.example/no")),
        ("amount", json!(1)),
    ] {
        let mut body = json!({"provider_code": "wave"});
        body[field] = value;
        for key in [&app.read_key, &app.write_key] {
            let r = post(app, &checkout_path(&id), Some(key), &body, &[]).await;
            assert_invalid_field(&r, field);
        }
    }
    let after = app.store.get_session(&id).await.unwrap().unwrap();
    assert_eq!(after, before, "nothing changed");
    assert_eq!(
        after.success_url.as_deref(),
        Some("https://shop.example/success")
    );
    let payment = payment_of(app, &id).await;
    assert!(
        app.store
            .list_attempts(&payment.id)
            .await
            .unwrap()
            .is_empty(),
        "no attempt started"
    );
    let status = get(app, &session_path(&id), Some(&app.read_key)).await;
    assert_eq!(status.data()["status"], json!("opened"));

    // Missing or unknown provider.
    let r = post(
        app,
        &checkout_path(&id),
        Some(&app.read_key),
        &json!({}),
        &[],
    )
    .await;
    assert_invalid_field(&r, "provider_code");
    let r = post(
        app,
        &checkout_path(&id),
        Some(&app.read_key),
        &json!({"provider_code": "paypal"}),
        &[],
    )
    .await;
    assert_invalid_field(&r, "provider_code");
    assert!(app
        .store
        .list_attempts(&payment.id)
        .await
        .unwrap()
        .is_empty());
});

e2e!(checkout_of_another_project_is_not_found, |app| {
    let id = create_session(app).await;
    let other = other_project(app).await;
    let unknown = post(
        app,
        &checkout_path("cs_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
        Some(&other.write_key),
        &json!({"provider_code": "wave"}),
        &[],
    )
    .await;
    assert_error(&unknown, 404, "not_found");
    for key in [&other.write_key, &other.read_key] {
        let r = post(
            app,
            &checkout_path(&id),
            Some(key),
            &json!({"provider_code": "wave"}),
            &[],
        )
        .await;
        assert_error(&r, 404, "not_found");
        assert_eq!(
            r.json["message"], unknown.json["message"],
            "indistinguishable from an unknown session"
        );
        let g = get(app, &session_path(&id), Some(key)).await;
        assert_error(&g, 404, "not_found");
    }
    let payment = payment_of(app, &id).await;
    assert!(app
        .store
        .list_attempts(&payment.id)
        .await
        .unwrap()
        .is_empty());
    let status = get(app, &session_path(&id), Some(&app.read_key)).await;
    assert_eq!(status.data()["status"], json!("opened"));
    assert_eq!(
        app.store.count_payments(&other.id, "test").await.unwrap(),
        0
    );
});
