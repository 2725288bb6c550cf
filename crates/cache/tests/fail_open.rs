//! FailOpen's degradation rules, over an in-memory cache that can be made to fail.
// A test fails by panicking: unwrap is how it says "this must succeed".
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use nexpay_cache::{Cache, CacheError, FailOpen, MemoryCache, RateDecision};

/// MemoryCache that fails every call while `down` is set.
#[derive(Clone, Default)]
struct Flaky {
    inner: MemoryCache,
    down: Arc<AtomicBool>,
}

impl Flaky {
    fn check(&self) -> Result<(), CacheError> {
        if self.down.load(Ordering::Relaxed) {
            return Err(CacheError::Unavailable("simulated outage".into()));
        }
        Ok(())
    }
}

#[async_trait]
impl Cache for Flaky {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        self.check()?;
        self.inner.get(key).await
    }
    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), CacheError> {
        self.check()?;
        self.inner.set(key, value, ttl).await
    }
    async fn set_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, CacheError> {
        self.check()?;
        self.inner.set_if_absent(key, value, ttl).await
    }
    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        self.check()?;
        self.inner.delete(key).await
    }
    async fn take_token(
        &self,
        key: &str,
        capacity: u32,
        rate: f64,
    ) -> Result<RateDecision, CacheError> {
        self.check()?;
        self.inner.take_token(key, capacity, rate).await
    }
    async fn health(&self) -> Result<(), CacheError> {
        self.check()
    }
}

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn passes_through_while_healthy() {
    let cache = FailOpen::new(Flaky::default());
    cache.set("k", b"v", MINUTE).await.unwrap();
    assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    assert!(!cache.set_if_absent("k", b"w", MINUTE).await.unwrap());
    assert!(cache.take_token("r", 1, 0.01).await.unwrap().allowed);
    assert!(!cache.take_token("r", 1, 0.01).await.unwrap().allowed);
    cache.health().await.unwrap();
    assert!(!cache.degraded());
    assert_eq!(cache.last_error(), None);
}

#[tokio::test]
async fn degrades_during_an_outage_and_recovers() {
    let flaky = Flaky::default();
    let cache = FailOpen::new(flaky.clone());
    cache.set("k", b"v", MINUTE).await.unwrap();
    assert!(cache.take_token("r", 1, 0.01).await.unwrap().allowed);

    flaky.down.store(true, Ordering::Relaxed);
    assert_eq!(cache.get("k").await.unwrap(), None);
    assert!(cache.degraded());
    cache.set("k", b"other", MINUTE).await.unwrap();
    cache.delete("k").await.unwrap();
    assert!(cache.set_if_absent("k", b"x", MINUTE).await.unwrap());
    let d = cache.take_token("r", 4, 0.01).await.unwrap();
    assert_eq!(
        d,
        RateDecision {
            allowed: true,
            remaining: 3,
            retry_after: Duration::ZERO
        }
    );
    assert!(matches!(
        cache.health().await,
        Err(CacheError::Unavailable(_))
    ));
    assert_eq!(
        cache.last_error().as_deref(),
        Some("cache unavailable: simulated outage")
    );
    // Clones share the state a readiness probe reads.
    assert!(cache.clone().degraded());

    flaky.down.store(false, Ordering::Relaxed);
    // The writes during the outage were dropped, not applied late.
    assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    assert!(!cache.degraded());
    assert!(cache.last_error().is_some(), "kept for diagnostics");
    assert!(!cache.take_token("r", 1, 0.01).await.unwrap().allowed);
}

#[tokio::test]
async fn wraps_a_shared_dyn_cache() {
    let shared: Arc<dyn Cache> = Arc::new(MemoryCache::new());
    let cache = FailOpen::new(Arc::clone(&shared));
    cache.set("k", b"v", MINUTE).await.unwrap();
    assert_eq!(shared.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
}
