//! API keys: lookup by hash, uniqueness, revocation, rotation, usage stamps.

use chrono::Duration;
use nexpay_store::{now, StoreError};

use crate::fixtures::{api_key, seed_project};
use crate::support::{Ctx, TestResult};

contract!(insert_and_find_by_hash);
async fn insert_and_find_by_hash(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let project = seed_project(s).await?;
    let key = api_key(&project.id, "live");
    s.insert_api_key(&key).await?;
    let found = s.find_key_by_hash(&key.key_hash).await?.expect("found");
    assert_eq!(found.key, key);
    assert_eq!(found.project, project, "joined with its project");
    assert_eq!(s.get_api_key(&key.id).await?, Some(key.clone()));
    assert_eq!(s.list_api_keys(&project.id).await?, vec![key]);
    assert_eq!(s.find_key_by_hash("no-such-hash").await?, None);
    Ok(())
}

contract!(duplicate_hash_is_conflict);
async fn duplicate_hash_is_conflict(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let project = seed_project(s).await?;
    let key = api_key(&project.id, "test");
    s.insert_api_key(&key).await?;
    let mut twin = api_key(&project.id, "test");
    twin.key_hash = key.key_hash.clone();
    let err = s
        .insert_api_key(&twin)
        .await
        .expect_err("duplicate key_hash");
    assert!(
        matches!(err, StoreError::Conflict(_)),
        "expected Conflict, got {err:?}"
    );
    assert_eq!(s.get_api_key(&twin.id).await?, None);
    Ok(())
}

contract!(revoke_only_own_key);
async fn revoke_only_own_key(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let owner = seed_project(s).await?;
    let stranger = seed_project(s).await?;
    let key = api_key(&owner.id, "test");
    s.insert_api_key(&key).await?;

    assert!(
        !s.revoke_api_key(&stranger.id, &key.id).await?,
        "another project's key"
    );
    assert_eq!(s.get_api_key(&key.id).await?.expect("key").revoked_at, None);
    assert!(!s.revoke_api_key(&owner.id, "key_missing").await?);

    assert!(s.revoke_api_key(&owner.id, &key.id).await?);
    let revoked = s.get_api_key(&key.id).await?.expect("key");
    assert!(revoked.revoked_at.is_some());
    assert!(
        !s.revoke_api_key(&owner.id, &key.id).await?,
        "already revoked"
    );
    let lookup = s
        .find_key_by_hash(&key.key_hash)
        .await?
        .expect("caller checks revocation");
    assert_eq!(lookup.key.revoked_at, revoked.revoked_at);
    Ok(())
}

contract!(rotate_is_atomic);
async fn rotate_is_atomic(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let project = seed_project(s).await?;
    let old = api_key(&project.id, "live");
    s.insert_api_key(&old).await?;
    let grace = now() + Duration::hours(24);

    let new = api_key(&project.id, "live");
    s.rotate_api_key(&project.id, &old.id, grace, &new).await?;
    assert_eq!(
        s.get_api_key(&old.id).await?.expect("old").expires_at,
        Some(grace)
    );
    assert_eq!(s.get_api_key(&new.id).await?, Some(new.clone()));
    assert!(
        s.find_key_by_hash(&old.key_hash).await?.is_some(),
        "valid during grace"
    );
    assert!(s.find_key_by_hash(&new.key_hash).await?.is_some());

    let orphan = api_key(&project.id, "live");
    let err = s
        .rotate_api_key(&project.id, "key_missing", grace, &orphan)
        .await
        .expect_err("unknown old key");
    assert!(matches!(err, StoreError::NotFound), "got {err:?}");
    assert_eq!(
        s.get_api_key(&orphan.id).await?,
        None,
        "new key not inserted"
    );
    assert_eq!(s.find_key_by_hash(&orphan.key_hash).await?, None);

    let other = seed_project(s).await?;
    let err = s
        .rotate_api_key(&other.id, &new.id, grace, &orphan)
        .await
        .expect_err("key of another project");
    assert!(matches!(err, StoreError::NotFound), "got {err:?}");
    assert_eq!(s.get_api_key(&new.id).await?.expect("new").expires_at, None);
    assert_eq!(s.get_api_key(&orphan.id).await?, None);

    assert!(s.revoke_api_key(&project.id, &new.id).await?);
    let err = s
        .rotate_api_key(&project.id, &new.id, grace, &orphan)
        .await
        .expect_err("revoked");
    assert!(matches!(err, StoreError::NotFound), "got {err:?}");
    assert_eq!(s.list_api_keys(&project.id).await?.len(), 2);
    Ok(())
}

contract!(touch_writes_at_most_once_a_minute);
async fn touch_writes_at_most_once_a_minute(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let project = seed_project(s).await?;
    let key = api_key(&project.id, "test");
    s.insert_api_key(&key).await?;
    let last_used = |row: Option<nexpay_store::ApiKeyRow>| row.and_then(|k| k.last_used_at);

    let t0 = now();
    s.touch_api_key(&key.id, t0).await?;
    assert_eq!(last_used(s.get_api_key(&key.id).await?), Some(t0));
    s.touch_api_key(&key.id, t0 + Duration::seconds(59)).await?;
    assert_eq!(
        last_used(s.get_api_key(&key.id).await?),
        Some(t0),
        "not rewritten within 60 s"
    );
    let t1 = t0 + Duration::seconds(61);
    s.touch_api_key(&key.id, t1).await?;
    assert_eq!(last_used(s.get_api_key(&key.id).await?), Some(t1));
    s.touch_api_key("key_missing", t1).await?;
    Ok(())
}
