//! API keys: shown once, listed without secrets, never reachable through another
//! project.

use actix_web::http::StatusCode;
use nexpay_security::hash_api_key;
use nexpay_store::testing::TestDb;
use serde_json::{json, Value};

use crate::common::*;

both_backends!(
    created_key_is_shown_once_and_never_listed,
    keys_of_another_project_are_not_found,
    key_input_is_validated,
);

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
