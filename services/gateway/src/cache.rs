//! The gateway's handle on the shared cache. The database is the source of truth and the
//! cache only saves work, so every cache failure degrades to what the gateway does
//! without a cache: a failed read is a miss, a failed write is forgotten, a failed rate
//! check allows the request ([`FailOpen`]).
//!
//! A cache that fails is then left alone for [`BACKOFF`]: an unreachable Redis answers
//! only after its timeouts, and paying them on every request (several lookups each)
//! would turn a cache outage into slow payments. One call per [`BACKOFF`] probes it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nexpay_cache::{Cache, FailOpen, RateDecision};

pub(crate) const BACKOFF: Duration = Duration::from_secs(1);

pub(crate) struct GatewayCache {
    inner: FailOpen<Arc<dyn Cache>>,
    origin: Instant,
    /// Milliseconds since `origin` before which the cache is not called.
    skip_until_ms: AtomicU64,
}

impl GatewayCache {
    pub(crate) fn new(cache: Arc<dyn Cache>) -> Self {
        GatewayCache {
            inner: FailOpen::new(cache),
            origin: Instant::now(),
            skip_until_ms: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// False while backing off after a failure; then one caller at a time probes.
    fn usable(&self) -> bool {
        let until = self.skip_until_ms.load(Ordering::Relaxed);
        if until == 0 {
            return true;
        }
        let now = self.now_ms();
        // The first caller past the deadline probes; the others keep skipping until
        // its call tells whether the cache is back.
        now >= until
            && self
                .skip_until_ms
                .compare_exchange(
                    until,
                    now + ms(BACKOFF),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }

    /// After a call: back off if it failed, stop backing off if it worked.
    fn after_call(&self) {
        if self.inner.degraded() {
            self.skip_until_ms
                .store(self.now_ms() + ms(BACKOFF), Ordering::Relaxed);
        } else {
            self.skip_until_ms.store(0, Ordering::Relaxed);
        }
    }

    pub(crate) async fn get(&self, key: &str) -> Option<Vec<u8>> {
        if !self.usable() {
            return None;
        }
        let value = self.inner.get(key).await.ok().flatten();
        self.after_call();
        value
    }

    pub(crate) async fn set(&self, key: &str, value: &[u8], ttl: Duration) {
        if !self.usable() {
            return;
        }
        let _ = self.inner.set(key, value, ttl).await;
        self.after_call();
    }

    /// True when this call stored the value. A skipped or failed call stores nothing
    /// and answers false.
    pub(crate) async fn set_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> bool {
        if !self.usable() {
            return false;
        }
        // FailOpen answers true when the cache failed; `degraded` tells the two apart.
        let stored = self
            .inner
            .set_if_absent(key, value, ttl)
            .await
            .unwrap_or(false);
        self.after_call();
        stored && !self.inner.degraded()
    }

    /// `None` when the cache could not decide: the caller lets the request through.
    pub(crate) async fn take_token(
        &self,
        key: &str,
        capacity: u32,
        refill_per_sec: f64,
    ) -> Option<RateDecision> {
        if !self.usable() {
            return None;
        }
        let decision = self
            .inner
            .take_token(key, capacity, refill_per_sec)
            .await
            .ok();
        self.after_call();
        decision.filter(|_| !self.inner.degraded())
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
pub(crate) mod testing {
    //! Caches that misbehave on purpose, for the fallback tests.

    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::Duration;

    use async_trait::async_trait;
    use nexpay_cache::{Cache, CacheError, MemoryCache, RateDecision};

    /// A memory cache that can be switched to failing every call, and counts calls.
    #[derive(Default)]
    pub struct Flaky {
        pub inner: MemoryCache,
        pub down: AtomicBool,
        pub calls: AtomicUsize,
    }

    impl Flaky {
        pub fn down() -> Flaky {
            Flaky {
                down: AtomicBool::new(true),
                ..Flaky::default()
            }
        }

        pub fn set_down(&self, down: bool) {
            self.down.store(down, Ordering::SeqCst);
        }

        fn check(&self) -> Result<(), CacheError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.down.load(Ordering::SeqCst) {
                Err(CacheError::Unavailable("test outage".into()))
            } else {
                Ok(())
            }
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
            refill_per_sec: f64,
        ) -> Result<RateDecision, CacheError> {
            self.check()?;
            self.inner.take_token(key, capacity, refill_per_sec).await
        }
        async fn health(&self) -> Result<(), CacheError> {
            self.check()
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::testing::Flaky;
    use super::*;

    #[tokio::test]
    async fn failures_degrade_and_back_off() {
        let flaky = Arc::new(Flaky::down());
        let cache = GatewayCache::new(flaky.clone());
        assert_eq!(cache.get("k").await, None);
        assert!(!cache.set_if_absent("k", b"v", Duration::from_secs(5)).await);
        assert_eq!(cache.take_token("r", 1, 1.0).await, None);
        // The first failure opened the backoff: the next calls did not reach the cache.
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 1);
        cache.set("k", b"v", Duration::from_secs(5)).await;
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn recovers_after_the_backoff() {
        let flaky = Arc::new(Flaky::down());
        let cache = GatewayCache::new(flaky.clone());
        assert_eq!(cache.get("k").await, None);
        flaky.set_down(false);
        flaky
            .inner
            .set("k", b"v", Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(cache.get("k").await, None, "still backing off");
        tokio::time::sleep(BACKOFF + Duration::from_millis(50)).await;
        assert_eq!(cache.get("k").await, Some(b"v".to_vec()), "probe succeeds");
        assert_eq!(cache.get("k").await, Some(b"v".to_vec()), "back to normal");
        assert!(cache.set_if_absent("n", b"1", Duration::from_secs(5)).await);
        assert!(!cache.set_if_absent("n", b"2", Duration::from_secs(5)).await);
        let d = cache.take_token("r", 1, 1.0).await.unwrap();
        assert!(d.allowed);
        let d = cache.take_token("r", 1, 1.0).await.unwrap();
        assert!(!d.allowed);
    }
}
