//! MemoryCache against the shared adapter contract, plus its size bound.
// A test fails by panicking: unwrap is how it says "this must succeed".
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{eventually, suite};
use nexpay_cache::{Cache, MemoryCache};

#[tokio::test]
async fn get_set_delete() {
    suite::get_set_delete(&MemoryCache::new()).await;
}

#[tokio::test]
async fn ttl_expiry() {
    suite::ttl_expiry(&MemoryCache::new()).await;
}

#[tokio::test]
async fn set_if_absent() {
    suite::set_if_absent_semantics(&MemoryCache::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn set_if_absent_has_one_winner_among_16_tasks() {
    suite::set_if_absent_one_winner(&MemoryCache::new()).await;
}

#[tokio::test]
async fn token_bucket() {
    suite::token_bucket(&MemoryCache::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn token_bucket_burst_allows_exactly_capacity() {
    let cache = MemoryCache::new();
    let allowed = suite::burst(&[cache.clone(), cache], "burst", 10, 50).await;
    assert_eq!(allowed, 10);
}

#[tokio::test]
async fn size_is_bounded_evicting_oldest() {
    let cache = MemoryCache::with_max_entries(100);
    for i in 0..150 {
        cache
            .set(&format!("k{i}"), b"v", Duration::from_secs(60))
            .await
            .unwrap();
        assert!(cache.len() <= 100);
    }
    assert_eq!(cache.len(), 100);
    assert_eq!(cache.get("k0").await.unwrap(), None, "oldest not evicted");
    assert_eq!(cache.get("k49").await.unwrap(), None);
    assert!(cache.get("k50").await.unwrap().is_some());
    assert!(cache.get("k149").await.unwrap().is_some());
}

#[tokio::test]
async fn eviction_prefers_expired_entries() {
    let cache = MemoryCache::with_max_entries(4);
    let long = Duration::from_secs(60);
    cache.set("old", b"v", long).await.unwrap();
    cache
        .set("short1", b"v", Duration::from_millis(30))
        .await
        .unwrap();
    cache
        .set("short2", b"v", Duration::from_millis(30))
        .await
        .unwrap();
    cache.set("newer", b"v", long).await.unwrap();
    let expired = eventually(Duration::from_secs(2), || async {
        cache.get("short2").await.unwrap().is_none()
    })
    .await;
    assert!(expired);
    // Full again after two inserts; the expired entry goes before the oldest live one.
    cache.set("a", b"v", long).await.unwrap();
    cache.set("b", b"v", long).await.unwrap();
    assert!(
        cache.get("old").await.unwrap().is_some(),
        "live entry evicted"
    );
    assert_eq!(cache.len(), 4);
    // With nothing expired, the oldest write goes.
    cache.set("c", b"v", long).await.unwrap();
    assert_eq!(cache.get("old").await.unwrap(), None);
    assert!(cache.get("newer").await.unwrap().is_some());
}

#[tokio::test]
async fn clones_share_entries() {
    let cache = MemoryCache::new();
    let clone = cache.clone();
    cache.set("k", b"v", Duration::from_secs(60)).await.unwrap();
    assert_eq!(clone.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
}
