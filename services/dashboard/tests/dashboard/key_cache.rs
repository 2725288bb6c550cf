//! With the gateway's cache: revoking or rotating a key, or archiving its project,
//! deletes the cached lookup of the key as soon as the change is committed, through
//! the admin API and through the CLI actions alike.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use nexpay_cache::{names, Cache, MemoryCache};
use nexpay_dashboard::cli;
use nexpay_security::hash_api_key;
use nexpay_store::testing::TestDb;
use serde_json::json;

use crate::common::*;

both_backends!(
    admin_api_key_changes_delete_cached_keys,
    cli_key_changes_delete_cached_keys
);

/// Stands for what the gateway caches: any value under the key's name.
async fn cached(cache: &MemoryCache, key: &str) -> String {
    let name = names::api_key(&hash_api_key(key));
    cache
        .set(&name, b"cached", Duration::from_secs(60))
        .await
        .unwrap();
    name
}

async fn admin_api_key_changes_delete_cached_keys(db: TestDb) {
    let mut ctx = Ctx::new(db);
    let cache = Arc::new(MemoryCache::new());
    ctx.state = ctx.state.clone().with_cache(cache.clone());
    let app = app!(ctx.state);
    let (_, token) = ctx.admin().await;
    let project = project!(app, &token, "Shop");
    let mut keys = Vec::new();
    for _ in 0..4 {
        let req = request(
            "POST",
            &format!("/admin/api/v1/projects/{project}/keys"),
            Some(&token),
            Some(json!({"kind": "read", "mode": "test"})),
        );
        let (status, _, body) = send(&app, req.to_request()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let id = body["id"].as_str().unwrap().to_owned();
        let key = body["key"].as_str().unwrap().to_owned();
        let name = cached(&cache, &key).await;
        keys.push((id, name));
    }
    let (revoked, rotated, kept, archived) = (&keys[0], &keys[1], &keys[2], &keys[3]);

    let path = format!("/admin/api/v1/projects/{project}/keys/{}/revoke", revoked.0);
    let (status, _, body) = send(
        &app,
        request("POST", &path, Some(&token), None).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        cache.get(&revoked.1).await.unwrap(),
        None,
        "revoked: deleted"
    );

    let path = format!("/admin/api/v1/projects/{project}/keys/{}/rotate", rotated.0);
    let body = json!({"graceSeconds": 60});
    let (status, _, body) = send(
        &app,
        request("POST", &path, Some(&token), Some(body)).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        cache.get(&rotated.1).await.unwrap(),
        None,
        "rotated: deleted"
    );
    assert!(cache.get(&kept.1).await.unwrap().is_some(), "others stay");

    let path = format!("/admin/api/v1/projects/{project}");
    let (status, _, body) = send(
        &app,
        request("DELETE", &path, Some(&token), None).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (_, name) in [kept, archived] {
        assert_eq!(cache.get(name).await.unwrap(), None, "archived: deleted");
    }
    ctx.finish().await;
}

async fn cli_key_changes_delete_cached_keys(db: TestDb) {
    let ctx = Ctx::new(db);
    let store = ctx.store();
    let config = ctx.state.config.clone();
    let cache = MemoryCache::new();
    let mut out = Vec::new();
    let project = cli::project_create(store, &config, "Shop", None, None, None, &mut out)
        .await
        .unwrap();
    let (kind, mode) = (
        nexpay_security::KeyKind::Write,
        nexpay_security::KeyMode::Live,
    );
    let a = cli::keys_create(store, &project.id, kind, mode, None, &mut out)
        .await
        .unwrap();
    let b = cli::keys_create(store, &project.id, kind, mode, None, &mut out)
        .await
        .unwrap();
    let name_a = cached(&cache, a.key.expose()).await;
    let name_b = cached(&cache, b.key.expose()).await;

    cli::keys_rotate_with_cache(store, Some(&cache), &project.id, &a.id, Some(0), &mut out)
        .await
        .unwrap();
    assert_eq!(cache.get(&name_a).await.unwrap(), None);
    assert!(cache.get(&name_b).await.unwrap().is_some());
    cli::keys_revoke_with_cache(store, Some(&cache), &project.id, &b.id, &mut out)
        .await
        .unwrap();
    assert_eq!(cache.get(&name_b).await.unwrap(), None);
    // Without a cache the actions work as before.
    let c = cli::keys_create(store, &project.id, kind, mode, None, &mut out)
        .await
        .unwrap();
    cli::keys_revoke(store, &project.id, &c.id, &mut out)
        .await
        .unwrap();
    ctx.finish().await;
}
