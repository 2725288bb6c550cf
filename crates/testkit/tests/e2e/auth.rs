//! API keys: missing, unknown, revoked, expired, wrong kind, other project, other mode.

use crate::support::*;
use serde_json::json;

e2e!(missing_and_unknown_keys, |app| {
    let before = count(app).await;
    let id = create_session(app).await;
    for (path, body) in [(SESSION, session_body()), (PAYMENT, payment_body("wave"))] {
        let r = post(app, path, None, &body, &[]).await;
        assert_error(&r, 401, "missing_api_key");
        let r = post(app, path, Some("   "), &body, &[]).await;
        assert_error(&r, 401, "missing_api_key");
        for bad in [
            "nxp_sk_test_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "garbage",
            &"k".repeat(500),
        ] {
            let r = post(app, path, Some(bad), &body, &[]).await;
            assert_error(&r, 401, "invalid_api_key");
        }
        // Keys go in x-api-key, not as a bearer token.
        let auth = format!("Bearer {}", app.write_key);
        let r = post(app, path, None, &body, &[("authorization", &auth)]).await;
        assert_error(&r, 401, "missing_api_key");
    }
    let r = get(app, &session_path(&id), None).await;
    assert_error(&r, 401, "missing_api_key");
    let r = get(app, &session_path(&id), Some("garbage")).await;
    assert_error(&r, 401, "invalid_api_key");
    let r = post(
        app,
        &checkout_path(&id),
        None,
        &json!({"provider_code": "wave"}),
        &[],
    )
    .await;
    assert_error(&r, 401, "missing_api_key");
    assert_eq!(
        count(app).await,
        before + 1,
        "only the session created with a good key"
    );
});

e2e!(revoked_and_expired_keys, |app| {
    let (revoked_id, revoked) = insert_key(app, &app.project_id, "write", "test", None).await;
    let r = post(app, SESSION, Some(&revoked), &session_body(), &[]).await;
    assert_eq!(r.status, 200, "works before revocation: {}", r.text);
    // Revoked the operator's way (admin API), which every wiring's key cache honours at
    // once; a change made behind NexPay's back in the database is picked up within a
    // second (the gateway re-reads a key fingerprint every 500 ms).
    let token = admin_token(app).await;
    revoke(app, &token, &revoked_id).await;

    let past = nexpay_store::now() - chrono::Duration::seconds(5);
    let (_, expired) = insert_key(app, &app.project_id, "write", "test", Some(past)).await;
    let (_, expired_read) = insert_key(app, &app.project_id, "read", "test", Some(past)).await;
    let soon = nexpay_store::now() + chrono::Duration::hours(1);
    let (_, expiring) = insert_key(app, &app.project_id, "write", "test", Some(soon)).await;

    let before = count(app).await;
    let id = create_session(app).await;
    for key in [&revoked, &expired] {
        for (path, body) in [(SESSION, session_body()), (PAYMENT, payment_body("om"))] {
            let r = post(app, path, Some(key), &body, &[]).await;
            assert_error(&r, 401, "invalid_api_key");
        }
    }
    for key in [&revoked, &expired, &expired_read] {
        let r = get(app, &session_path(&id), Some(key)).await;
        assert_error(&r, 401, "invalid_api_key");
    }
    assert_eq!(count(app).await, before + 1);
    // A key that expires later still works.
    let r = post(app, SESSION, Some(&expiring), &session_body(), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Revoking the first-start write key itself.
    let keys = app.store.list_api_keys(&app.project_id).await.unwrap();
    let first_write = keys
        .iter()
        .find(|k| app.write_key.starts_with(&k.prefix))
        .expect("the first-start key is listed");
    revoke(app, &token, &first_write.id).await;
    let r = post(app, SESSION, Some(&app.write_key), &session_body(), &[]).await;
    assert_error(&r, 401, "invalid_api_key");
});

e2e!(read_key_cannot_write, |app| {
    let before = count(app).await;
    for (path, body) in [(SESSION, session_body()), (PAYMENT, payment_body("wave"))] {
        let r = post(app, path, Some(&app.read_key), &body, &[]).await;
        assert_error(&r, 403, "forbidden");
        let r = post(
            app,
            path,
            Some(&app.read_key),
            &body,
            &[("Idempotency-Key", "read-key-try")],
        )
        .await;
        assert_error(&r, 403, "forbidden");
    }
    assert_eq!(count(app).await, before);
});

e2e!(sessions_are_scoped_to_project_and_mode, |app| {
    let id = create_session(app).await;
    let other = other_project(app).await;
    let unknown = get(
        app,
        &session_path("cs_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
        Some(&app.read_key),
    )
    .await;
    assert_error(&unknown, 404, "not_found");
    for key in [&other.read_key, &other.write_key] {
        let r = get(app, &session_path(&id), Some(key)).await;
        assert_error(&r, 404, "not_found");
        assert_eq!(r.json["message"], unknown.json["message"]);
        assert!(
            !r.text.contains(&id) && !r.text.contains("Mouhamed"),
            "no leak: {}",
            r.text
        );
    }
    // A live key of the same project does not see test sessions.
    let (_, live_read) = insert_key(app, &app.project_id, "read", "live", None).await;
    let r = get(app, &session_path(&id), Some(&live_read)).await;
    assert_error(&r, 404, "not_found");
    // The other project's own session is visible to it only.
    let theirs = post(app, SESSION, Some(&other.write_key), &session_body(), &[]).await;
    assert_eq!(theirs.status, 200, "{}", theirs.text);
    let their_id = theirs.data()["sessionId"].as_str().unwrap();
    assert_eq!(
        get(app, &session_path(their_id), Some(&other.read_key))
            .await
            .status,
        200
    );
    assert_error(
        &get(app, &session_path(their_id), Some(&app.read_key)).await,
        404,
        "not_found",
    );
    assert_eq!(
        app.store.count_payments(&other.id, "test").await.unwrap(),
        1
    );
});

e2e!(unknown_and_malformed_session_ids, |app| {
    create_session(app).await;
    let ids = [
        "cs_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "cs_short",
        "abc",
        "CS_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "cs_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1",
        "pay_aaaaaaaaaaaaaaaaaaaaaaaaaa",
        "%27%20OR%201%3D1--",
        "cs_%00",
    ];
    for id in ids {
        for key in [&app.read_key, &app.write_key] {
            let r = get(app, &session_path(id), Some(key)).await;
            assert_error(&r, 404, "not_found");
        }
        let r = post(
            app,
            &checkout_path(id),
            Some(&app.write_key),
            &json!({"provider_code": "wave"}),
            &[],
        )
        .await;
        assert_error(&r, 404, "not_found");
    }
    assert_eq!(count(app).await, 1);
});

async fn revoke(app: &nexpay_testkit::TestApp, token: &str, key_id: &str) {
    let r = admin(
        app,
        reqwest::Method::POST,
        &format!("/projects/{}/keys/{key_id}/revoke", app.project_id),
        Some(token),
        None,
    )
    .await;
    assert!(r.status < 300, "revoked: {} {}", r.status, r.text);
}
