//! The gateway's cache seen from outside: per-key rate limits, key changes that apply at
//! once although the key was just cached, session statuses that follow every change, and
//! idempotent replays served from the cache that stay byte for byte the first answer.

use std::time::{Duration, Instant};

use crate::support::*;
use nexpay_testkit::{eventually, TestApp};
use serde_json::{json, Value};

/// Reads the session until one answer is not 200; returns the successes before it and
/// that answer.
async fn read_until_refused(app: &TestApp, id: &str, key: &str, max: usize) -> (usize, Resp) {
    for ok in 0..max {
        let r = get(app, &session_path(id), Some(key)).await;
        if r.status != 200 {
            return (ok, r);
        }
    }
    panic!("{max} reads in a row were all accepted: no rate limit");
}

e2e!(
    rate_limit_refuses_with_retry_after_then_recovers,
    env = [("RATE_LIMIT_PER_SEC", "1"), ("RATE_LIMIT_BURST", "3")],
    |app| {
        let id = create_session(app).await;
        let started = Instant::now();
        let (ok, refused) = read_until_refused(app, &id, &app.read_key, 30).await;
        // The burst, plus at most what refilled meanwhile (one token a second).
        let refilled = started.elapsed().as_secs() as usize + 1;
        assert!(
            (3..=3 + refilled).contains(&ok),
            "{ok} reads before the first refusal"
        );
        assert_error(&refused, 429, "rate_limited");
        let retry_after: u64 = refused
            .header("retry-after")
            .expect("Retry-After on a 429")
            .parse()
            .expect("Retry-After in whole seconds");
        assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");

        // Per key: the write key of the same project has its own budget.
        let r = get(app, &session_path(&id), Some(&app.write_key)).await;
        assert_eq!(r.status, 200, "{}", r.text);

        tokio::time::sleep(Duration::from_secs(retry_after)).await;
        let r = get(app, &session_path(&id), Some(&app.read_key)).await;
        assert_eq!(r.status, 200, "after Retry-After: {}", r.text);
        assert_eq!(r.data()["sessionId"], json!(id));
    }
);

e2e!(
    rate_limit_off_with_zero,
    env = [("RATE_LIMIT_PER_SEC", "0"), ("RATE_LIMIT_BURST", "1")],
    |app| {
        let id = create_session(app).await;
        for _ in 0..20 {
            let r = get(app, &session_path(&id), Some(&app.read_key)).await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
    }
);

/// The id of the project's key whose full value is `key`.
async fn key_id(app: &TestApp, token: &str, key: &str) -> String {
    let list = admin(
        app,
        reqwest::Method::GET,
        &format!("/projects/{}/keys", app.project_id),
        Some(token),
        None,
    )
    .await;
    assert_eq!(list.status, 200, "{}", list.text);
    list.json["data"]
        .as_array()
        .expect("key list")
        .iter()
        .find(|k| key.starts_with(k["prefix"].as_str().unwrap_or("-")))
        .and_then(|k| k["id"].as_str())
        .expect("the key is listed")
        .to_owned()
}

e2e!(revoked_key_is_refused_at_once_although_cached, |app| {
    let token = admin_token(app).await;
    let id = create_session(app).await;
    let created = admin(
        app,
        reqwest::Method::POST,
        &format!("/projects/{}/keys", app.project_id),
        Some(&token),
        Some(json!({"kind": "read", "mode": "test"})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let key = created.json["key"].as_str().unwrap().to_owned();
    let key_id = created.json["id"].as_str().unwrap().to_owned();
    // Used twice: the second lookup is served from the cache.
    for _ in 0..2 {
        let r = get(app, &session_path(&id), Some(&key)).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let revoked = admin(
        app,
        reqwest::Method::POST,
        &format!("/projects/{}/keys/{key_id}/revoke", app.project_id),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    // No waiting: the very next request is refused.
    let r = get(app, &session_path(&id), Some(&key)).await;
    assert_error(&r, 401, "invalid_api_key");

    // The CLI's path, on the store, as `nexpay keys revoke` does from its own process:
    // the gateway re-reads the key fingerprint at least twice a second.
    let (other_id, other) = insert_key(app, &app.project_id, "read", "test", None).await;
    for _ in 0..2 {
        assert_eq!(get(app, &session_path(&id), Some(&other)).await.status, 200);
    }
    let mut out = Vec::new();
    nexpay_dashboard::cli::keys_revoke(&app.store, &app.project_id, &other_id, &mut out)
        .await
        .unwrap();
    let refused = eventually(Duration::from_millis(1500), || async {
        let r = get(app, &session_path(&id), Some(&other)).await;
        (r.status == 401).then_some(r)
    })
    .await
    .expect("the key revoked by the CLI is refused within 1.5 s");
    assert_error(&refused, 401, "invalid_api_key");
    // Other keys are unaffected.
    assert_eq!(
        get(app, &session_path(&id), Some(&app.read_key))
            .await
            .status,
        200
    );
});

e2e!(rotated_key_works_during_grace_only, |app| {
    let token = admin_token(app).await;
    let id = create_session(app).await;
    for _ in 0..2 {
        assert_eq!(
            get(app, &session_path(&id), Some(&app.read_key))
                .await
                .status,
            200
        );
    }
    let old_id = key_id(app, &token, &app.read_key).await;
    let rotated = admin(
        app,
        reqwest::Method::POST,
        &format!("/projects/{}/keys/{old_id}/rotate", app.project_id),
        Some(&token),
        Some(json!({"graceSeconds": 2})),
    )
    .await;
    assert_eq!(rotated.status, 201, "{}", rotated.text);
    let expires = rfc3339(&rotated.json["previousKey"]["expiresAt"]);
    let new_key = rotated.json["key"].as_str().unwrap().to_owned();
    // During the grace period both work.
    for key in [&app.read_key, &new_key] {
        let r = get(app, &session_path(&id), Some(key)).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    // Once it has passed the old one is refused, although it was cached with a
    // deadline: the deadline is checked at every request.
    let wait = (expires - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(100)).await;
    let r = get(app, &session_path(&id), Some(&app.read_key)).await;
    assert_error(&r, 401, "invalid_api_key");
    let r = get(app, &session_path(&id), Some(&new_key)).await;
    assert_eq!(r.status, 200, "{}", r.text);
});

e2e!(session_status_follows_changes_at_once, |app| {
    let id = create_session(app).await;
    let other = other_project(app).await;
    let first = get(app, &session_path(&id), Some(&app.read_key)).await;
    assert_eq!(first.data()["status"], json!("opened"));
    assert_eq!(first.data()["provider"], Value::Null);
    // Served again (from the cache): the same bytes; other projects still see nothing.
    let again = get(app, &session_path(&id), Some(&app.read_key)).await;
    assert_eq!(again.text, first.text);
    assert_eq!(
        again.header("content-type"),
        Some("application/json"),
        "{:?}",
        again.headers
    );
    for key in [&other.read_key, &other.write_key] {
        let r = get(app, &session_path(&id), Some(key)).await;
        assert_error(&r, 404, "not_found");
        assert!(!r.text.contains("Mouhamed"), "{}", r.text);
    }

    // Choosing a provider: the very next read shows it.
    let r = post(
        app,
        &checkout_path(&id),
        Some(&app.read_key),
        &json!({"provider_code": "wave"}),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let status = get(app, &session_path(&id), Some(&app.read_key)).await;
    assert_eq!(status.data()["status"], json!("pending"));
    assert_eq!(
        status.data()["provider"],
        json!({"name": "Wave", "code": "wave"})
    );
    // Switching too.
    let r = post(
        app,
        &checkout_path(&id),
        Some(&app.read_key),
        &json!({"provider_code": "om"}),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let status = get(app, &session_path(&id), Some(&app.read_key)).await;
    assert_eq!(status.data()["provider"]["code"], json!("om"));
    // Cached again by now.
    let cached = get(app, &session_path(&id), Some(&app.read_key)).await;
    assert_eq!(cached.text, status.text);
});

e2e!(
    session_status_follows_expiry_by_the_sweeper,
    env = [("SWEEP_INTERVAL_MS", "100")],
    |app| {
        let id = create_session(app).await;
        for _ in 0..2 {
            let r = get(app, &session_path(&id), Some(&app.read_key)).await;
            assert_eq!(r.data()["status"], json!("opened"));
        }
        let past = nexpay_store::now() - chrono::Duration::seconds(1);
        assert!(app.store.set_session_deadline(&id, past).await.unwrap());
        // The database is the witness of when the sweeper committed.
        eventually(Duration::from_secs(10), || async {
            let s = app.store.get_session(&id).await.unwrap().unwrap();
            (s.status == "expired").then_some(())
        })
        .await
        .expect("the sweeper expires the session");
        // The status read just before was cached for seconds; the API must not keep
        // serving it (a little slack for the marker written right after the commit).
        let seen = eventually(Duration::from_millis(500), || async {
            let r = get(app, &session_path(&id), Some(&app.read_key)).await;
            (r.data()["status"] == json!("expired")).then_some(r)
        })
        .await
        .expect("the API shows the expiry at once, not after the cache TTL");
        assert_eq!(seen.data()["paymentStatus"], json!("EXPIRED"));
        assert!(seen.data()["resolvedAt"].is_string(), "{}", seen.text);
    }
);

e2e!(idempotent_replays_stay_identical, |app| {
    let key = [("Idempotency-Key", "cache-replay-1")];
    let first = post(app, SESSION, Some(&app.write_key), &session_body(), &key).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.header("idempotent-replayed"), None);
    // Several replays: the first may come from the database, the next from the cache;
    // all are the first answer, byte for byte.
    for _ in 0..3 {
        let replay = post(app, SESSION, Some(&app.write_key), &session_body(), &key).await;
        assert_eq!(replay.status, 200, "{}", replay.text);
        assert_eq!(replay.text, first.text);
        assert_eq!(replay.header("idempotent-replayed"), Some("true"));
        assert_eq!(replay.header("content-type"), Some("application/json"));
    }
    let mut other_body = session_body();
    other_body["amount"] = json!(12345);
    let conflict = post(app, SESSION, Some(&app.write_key), &other_body, &key).await;
    assert_error(&conflict, 409, "idempotency_error");
    // An error answer replays identically too.
    let bad_key = [("Idempotency-Key", "cache-replay-2")];
    let mut invalid = session_body();
    invalid["customer"] = Value::Null;
    let refused = post(app, SESSION, Some(&app.write_key), &invalid, &bad_key).await;
    assert_error(&refused, 400, "validation_error");
    for _ in 0..2 {
        let replay = post(app, SESSION, Some(&app.write_key), &invalid, &bad_key).await;
        assert_eq!(replay.status, 400);
        assert_eq!(replay.text, refused.text);
        assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    }
    assert_eq!(count(app).await, 1, "one session created");
});
