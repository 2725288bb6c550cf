//! Cache and shared rate limiter for NexPay.
//!
//! Two adapters implement the [`Cache`] port: [`MemoryCache`] for the single-process
//! `standalone` wiring and [`RedisCache`] for the distributed one, where several
//! replicas of a service must agree on idempotency keys and rate limits. [`FailOpen`]
//! wraps either so that a cache outage degrades service (misses, unlimited rate)
//! instead of failing payment requests.
#![forbid(unsafe_code)]

mod bucket;
mod fail_open;
mod memory;
pub mod names;
mod redis_cache;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use fail_open::FailOpen;
pub use memory::MemoryCache;
pub use redis_cache::RedisCache;

/// Longest TTL honoured. Longer TTLs are shortened to it so that `Instant` arithmetic
/// cannot overflow and Redis never rejects a PX value as out of range.
pub(crate) const MAX_TTL: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);

/// Shortest TTL: Redis rejects `PX 0`, so both adapters round up to one millisecond
/// to keep the same semantics.
pub(crate) const MIN_TTL: Duration = Duration::from_millis(1);

/// The TTL both adapters actually apply.
pub(crate) fn effective_ttl(ttl: Duration) -> Duration {
    ttl.clamp(MIN_TTL, MAX_TTL)
}

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The backing store could not answer (down, timed out, refused the command).
    #[error("cache unavailable: {0}")]
    Unavailable(String),
}

/// Outcome of [`Cache::take_token`].
#[derive(Debug, Clone, PartialEq)]
pub struct RateDecision {
    /// Whether a token was taken and the request may proceed.
    pub allowed: bool,
    /// Whole tokens left in the bucket after this call.
    pub remaining: u32,
    /// When refused, the time until one token is available; zero when allowed.
    pub retry_after: Duration,
}

/// Key/value cache with TTLs and a shared token bucket.
///
/// Keys of token buckets and of plain values share one namespace: keep them apart
/// (e.g. `rate:` and `idem:` prefixes), as Redis stores them with different types.
#[async_trait]
pub trait Cache: Send + Sync + 'static {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError>;
    /// Stores `value` for `ttl` (at least 1 ms, at most 10 years).
    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), CacheError>;
    /// Set only if absent (SET NX PX); true when this call set it.
    async fn set_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, CacheError>;
    async fn delete(&self, key: &str) -> Result<(), CacheError>;
    /// Token bucket shared by every replica: `capacity` tokens, refilled at `refill_per_sec`; takes one token.
    ///
    /// A bucket starts full. A non-finite or non-positive rate is clamped to one token
    /// a day, and rates above 10⁹/s to 10⁹/s; a capacity of 0 refuses everything.
    async fn take_token(
        &self,
        key: &str,
        capacity: u32,
        refill_per_sec: f64,
    ) -> Result<RateDecision, CacheError>;
    async fn health(&self) -> Result<(), CacheError>;
}

/// Lets a wiring hold `Arc<dyn Cache>` (or share one adapter) and still hand it to
/// code generic over `C: Cache`, such as [`FailOpen`].
#[async_trait]
impl<C: Cache + ?Sized> Cache for Arc<C> {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        (**self).get(key).await
    }
    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), CacheError> {
        (**self).set(key, value, ttl).await
    }
    async fn set_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, CacheError> {
        (**self).set_if_absent(key, value, ttl).await
    }
    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        (**self).delete(key).await
    }
    async fn take_token(
        &self,
        key: &str,
        capacity: u32,
        refill_per_sec: f64,
    ) -> Result<RateDecision, CacheError> {
        (**self).take_token(key, capacity, refill_per_sec).await
    }
    async fn health(&self) -> Result<(), CacheError> {
        (**self).health().await
    }
}
