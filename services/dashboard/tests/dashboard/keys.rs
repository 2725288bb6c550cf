//! API keys: shown once, listed without secrets, rotated with a grace period, revoked,
//! and never reachable through another project.

use actix_web::http::StatusCode;
use nexpay_security::hash_api_key;
use nexpay_store::testing::TestDb;
use serde_json::{json, Value};

use crate::common::*;

both_backends!(
    created_key_is_shown_once_and_never_listed,
    rotation_keeps_the_old_key_until_expiry,
    revocation_is_immediate,
    keys_of_another_project_are_not_found,
    key_input_is_validated,
);

/// Creates a project through the API and returns its id.
macro_rules! project {
    ($app:expr, $token:expr, $name:expr) => {{
        let req = request("POST", "/admin/api/v1/projects", Some($token), Some(json!({"name": $name})));
        let (status, _, body) = send(&$app, req.to_request()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }};
}

fn keys_path(project: &str) -> String {
    format!("/admin/api/v1/projects/{project}/keys")
}

async fn created_key_is_shown_once_and_never_listed(db: TestDb) {
    let ctx = Ctx::new(db);
    let app = app!(ctx.state);
    let (user, token) = ctx.admin().await;
    let project = project!(app, &token, "Shop");
    let body = json!({"kind": "write", "mode": "live", "label": "server"});
    let (status, headers, created) = send(
        &app,
        request("POST", &keys_path(&project), Some(&token), Some(body)).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(headers.get("cache-control").unwrap(), "no-store");
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("nxp_sk_live_"), "{key}");
    let prefix = created["prefix"].as_str().unwrap();
    assert!(key.starts_with(prefix) && prefix.len() < key.len());
    assert_eq!(
        (
            created["kind"].as_str(),
            created["mode"].as_str(),
            created["label"].as_str()
        ),
        (Some("write"), Some("live"), Some("server"))
    );
    assert!(
        created["createdAt"].is_string() && created["id"].as_str().unwrap().starts_with("key_")
    );

    // The gateway finds it by hash.
    let found = ctx
        .store()
        .find_key_by_hash(&hash_api_key(&key))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.key.id, created["id"].as_str().unwrap());
    assert_eq!(found.project.id, project);

    let (status, _, list) = send(
        &app,
        request("GET", &keys_path(&project), Some(&token), None).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let text = list.to_string();
    assert!(!text.contains(&key), "full key listed: {text}");
    assert!(!text.contains(&hash_api_key(&key)), "hash listed: {text}");
    let item = &list["data"][0];
    let mut fields: Vec<&str> = item
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "createdAt",
            "expiresAt",
            "id",
            "kind",
            "label",
            "lastUsedAt",
            "mode",
            "prefix",
            "revokedAt",
            "status"
        ]
    );
    assert_eq!(item["status"], "active");

    let audit = ctx.store().list_audit(10).await.unwrap();
    let row = audit.iter().find(|a| a.action == "key.create").unwrap();
    assert_eq!(row.actor, user.id);
    assert!(!row.detail.contains(&key) && !row.detail.contains(&hash_api_key(&key)));
    ctx.finish().await;
}

async fn rotation_keeps_the_old_key_until_expiry(db: TestDb) {
    let ctx = Ctx::new(db);
    let app = app!(ctx.state);
    let (_, token) = ctx.admin().await;
    let project = project!(app, &token, "Shop");
    let (_, _, old) = send(
        &app,
        request(
            "POST",
            &keys_path(&project),
            Some(&token),
            Some(json!({"kind": "read", "mode": "test"})),
        )
        .to_request(),
    )
    .await;
    let old_id = old["id"].as_str().unwrap().to_owned();
    let old_key = old["key"].as_str().unwrap().to_owned();
    let rotate = format!("{}/{old_id}/rotate", keys_path(&project));

    let before = nexpay_store::now();
    let (status, _, new) = send(
        &app,
        request(
            "POST",
            &rotate,
            Some(&token),
            Some(json!({"graceSeconds": 3600})),
        )
        .to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{new}");
    let new_key = new["key"].as_str().unwrap().to_owned();
    assert!(new_key.starts_with("nxp_pk_test_") && new_key != old_key);
    assert_eq!(new["previousKey"]["id"], old_id.as_str());
    assert_eq!(new["previousKey"]["status"], "expiring");

    // Old key: still found and not revoked, expiring in about an hour.
    let found = ctx
        .store()
        .find_key_by_hash(&hash_api_key(&old_key))
        .await
        .unwrap()
        .unwrap();
    assert!(found.key.revoked_at.is_none());
    let expires = found.key.expires_at.unwrap();
    let grace = (expires - before).num_seconds();
    assert!((3599..=3605).contains(&grace), "expires after {grace}s");
    let found_new = ctx
        .store()
        .find_key_by_hash(&hash_api_key(&new_key))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            found_new.key.kind.as_str(),
            found_new.key.mode.as_str(),
            found_new.key.expires_at
        ),
        ("read", "test", None)
    );

    // A second rotation of the old key never extends its life; the default grace is a day.
    let (status, _, _) = send(
        &app,
        request("POST", &rotate, Some(&token), None).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let again = ctx.store().get_api_key(&old_id).await.unwrap().unwrap();
    assert_eq!(again.expires_at, Some(expires));
    let new_id = new["id"].as_str().unwrap();
    let before = nexpay_store::now();
    let (status, _, _) = send(
        &app,
        request(
            "POST",
            &format!("{}/{new_id}/rotate", keys_path(&project)),
            Some(&token),
            None,
        )
        .to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let rotated = ctx.store().get_api_key(new_id).await.unwrap().unwrap();
    let grace = (rotated.expires_at.unwrap() - before).num_seconds();
    assert!((86_399..=86_405).contains(&grace), "default grace {grace}s");

    let (_, _, list) = send(
        &app,
        request("GET", &keys_path(&project), Some(&token), None).to_request(),
    )
    .await;
    let statuses: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["expiring", "expiring", "active", "active"]);

    for bad in [
        json!({"graceSeconds": 30 * 86_400 + 1}),
        json!({"graceSeconds": -1}),
        json!({"grace": 10}),
    ] {
        let (status, _, body) = send(
            &app,
            request("POST", &rotate, Some(&token), Some(bad.clone())).to_request(),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (status, _, _) = send(
        &app,
        request(
            "POST",
            &rotate,
            Some(&token),
            Some(json!({"graceSeconds": 2_592_000})),
        )
        .to_request(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "30 days is the maximum, included"
    );
    assert!(ctx
        .store()
        .list_audit(50)
        .await
        .unwrap()
        .iter()
        .any(|a| a.action == "key.rotate" && a.target.as_deref() == Some(old_id.as_str())));
    ctx.finish().await;
}

async fn revocation_is_immediate(db: TestDb) {
    let ctx = Ctx::new(db);
    let app = app!(ctx.state);
    let (_, token) = ctx.admin().await;
    let project = project!(app, &token, "Shop");
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (_, _, key) = send(
            &app,
            request(
                "POST",
                &keys_path(&project),
                Some(&token),
                Some(json!({"kind": "write", "mode": "test"})),
            )
            .to_request(),
        )
        .await;
        ids.push(key["id"].as_str().unwrap().to_owned());
    }
    let revoke = format!("{}/{}/revoke", keys_path(&project), ids[0]);
    let (status, _, body) = send(
        &app,
        request("POST", &revoke, Some(&token), None).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "revoked");
    assert!(ctx
        .store()
        .get_api_key(&ids[0])
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
    let (status, _, _) = send(
        &app,
        request("POST", &revoke, Some(&token), None).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let rotate = format!("{}/{}/rotate", keys_path(&project), ids[0]);
    let (status, _, _) = send(
        &app,
        request("POST", &rotate, Some(&token), None).to_request(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a revoked key cannot be rotated"
    );

    let delete = format!("{}/{}", keys_path(&project), ids[1]);
    let (status, _, body) = send(
        &app,
        request("DELETE", &delete, Some(&token), None).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "revoked");
    let audit = ctx.store().list_audit(50).await.unwrap();
    assert_eq!(audit.iter().filter(|a| a.action == "key.revoke").count(), 2);
    ctx.finish().await;
}

async fn keys_of_another_project_are_not_found(db: TestDb) {
    let ctx = Ctx::new(db);
    let app = app!(ctx.state);
    let (_, token) = ctx.admin().await;
    let mine = project!(app, &token, "Mine");
    let theirs = project!(app, &token, "Theirs");
    let (_, _, key) = send(
        &app,
        request(
            "POST",
            &keys_path(&theirs),
            Some(&token),
            Some(json!({"kind": "write", "mode": "live"})),
        )
        .to_request(),
    )
    .await;
    let key_id = key["id"].as_str().unwrap();
    let base = keys_path(&mine);
    for (method, path) in [
        ("POST", format!("{base}/{key_id}/rotate")),
        ("POST", format!("{base}/{key_id}/revoke")),
        ("DELETE", format!("{base}/{key_id}")),
        ("POST", format!("{base}/key_unknown/revoke")),
        ("GET", keys_path("proj_unknown")),
        ("POST", keys_path("proj_unknown")),
    ] {
        let body = path
            .ends_with("/keys")
            .then(|| json!({"kind": "write", "mode": "live"}));
        let (status, _, answer) = send(
            &app,
            request(method, &path, Some(&token), body).to_request(),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {answer}");
        assert_eq!(assert_envelope(status, &answer), "not_found");
    }
    let key = ctx.store().get_api_key(key_id).await.unwrap().unwrap();
    assert!(
        key.revoked_at.is_none() && key.expires_at.is_none(),
        "untouched"
    );
    assert_eq!(ctx.store().list_api_keys(&mine).await.unwrap().len(), 0);
    ctx.finish().await;
}

async fn key_input_is_validated(db: TestDb) {
    let ctx = Ctx::new(db);
    let app = app!(ctx.state);
    let (_, token) = ctx.admin().await;
    let project = project!(app, &token, "Shop");
    let cases: [(Value, &[&str]); 4] = [
        (json!({"kind": "admin", "mode": "test"}), &["kind"]),
        (json!({"kind": "read"}), &["mode"]),
        (json!({}), &["kind", "mode"]),
        (
            json!({"kind": "read", "mode": "test", "label": "x".repeat(101)}),
            &["label"],
        ),
    ];
    for (body, fields) in cases {
        let (status, _, answer) = send(
            &app,
            request(
                "POST",
                &keys_path(&project),
                Some(&token),
                Some(body.clone()),
            )
            .to_request(),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let got: Vec<&str> = answer["error"]["details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["field"].as_str().unwrap())
            .collect();
        assert_eq!(got, fields, "{answer}");
    }
    assert!(ctx
        .store()
        .list_api_keys(&project)
        .await
        .unwrap()
        .is_empty());
    ctx.finish().await;
}
