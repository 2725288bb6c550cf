//! Degrade instead of failing requests when the cache is down.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::{Cache, CacheError, RateDecision};

/// While the cache keeps failing, log at most this often: every request would
/// otherwise log the same outage.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Wraps any cache so that failures degrade instead of failing requests: `get` →
/// `None` (miss), `set`/`delete` → `Ok` (logged, rate-limited logging), `take_token`
/// → allowed (fail open), and remembers the last error for readiness reporting.
///
/// `health` is passed through unchanged (and recorded) so a readiness probe can still
/// report the outage. Clones share the degraded state.
pub struct FailOpen<C: Cache> {
    inner: C,
    state: Arc<State>,
}

#[derive(Default)]
struct State {
    degraded: AtomicBool,
    /// Failures not logged because of `LOG_EVERY`, reported with the next log line.
    suppressed: AtomicU64,
    last_error: Mutex<Option<String>>,
    last_log: Mutex<Option<Instant>>,
}

impl<C: Cache> FailOpen<C> {
    pub fn new(inner: C) -> Self {
        Self {
            inner,
            state: Arc::default(),
        }
    }

    /// True from the last call that failed until a later call succeeds.
    pub fn degraded(&self) -> bool {
        self.state.degraded.load(Ordering::Relaxed)
    }

    /// The most recent failure, kept after recovery for diagnostics.
    pub fn last_error(&self) -> Option<String> {
        self.state
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn inner(&self) -> &C {
        &self.inner
    }

    fn record<T>(&self, op: &'static str, result: Result<T, CacheError>) -> Option<T> {
        match result {
            Ok(value) => {
                self.recovered(op);
                Some(value)
            }
            Err(error) => {
                self.failed(op, &error);
                None
            }
        }
    }

    fn recovered(&self, op: &'static str) {
        if self.state.degraded.swap(false, Ordering::Relaxed) {
            tracing::info!(op, "cache recovered");
        }
    }

    fn failed(&self, op: &'static str, error: &CacheError) {
        let message = error.to_string();
        *self
            .state
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(message.clone());
        let newly = !self.state.degraded.swap(true, Ordering::Relaxed);
        let now = Instant::now();
        let mut last_log = self
            .state
            .last_log
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let due = last_log.is_none_or(|at| now.duration_since(at) >= LOG_EVERY);
        if newly || due {
            *last_log = Some(now);
            let suppressed = self.state.suppressed.swap(0, Ordering::Relaxed);
            tracing::warn!(op, error = %message, suppressed, "cache failing; degrading (miss / allow)");
        } else {
            self.state.suppressed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl<C: Cache + Clone> Clone for FailOpen<C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            state: Arc::clone(&self.state),
        }
    }
}

impl<C: Cache + fmt::Debug> fmt::Debug for FailOpen<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FailOpen")
            .field("inner", &self.inner)
            .field("degraded", &self.degraded())
            .finish()
    }
}

#[async_trait]
impl<C: Cache> Cache for FailOpen<C> {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        Ok(self.record("get", self.inner.get(key).await).flatten())
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), CacheError> {
        self.record("set", self.inner.set(key, value, ttl).await);
        Ok(())
    }

    /// When the cache is down nobody can tell whether the key exists; answering
    /// `true` lets the request proceed, as the rest of this wrapper does, so callers
    /// needing strict mutual exclusion must not rely on a degraded cache.
    async fn set_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, CacheError> {
        let result = self.inner.set_if_absent(key, value, ttl).await;
        Ok(self.record("set_if_absent", result).unwrap_or(true))
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        self.record("delete", self.inner.delete(key).await);
        Ok(())
    }

    async fn take_token(
        &self,
        key: &str,
        capacity: u32,
        refill_per_sec: f64,
    ) -> Result<RateDecision, CacheError> {
        let result = self.inner.take_token(key, capacity, refill_per_sec).await;
        Ok(self.record("take_token", result).unwrap_or(RateDecision {
            // Fail open: an outage of the limiter must not become an outage of
            // payments. Report the bucket as if it were full.
            allowed: true,
            remaining: capacity.saturating_sub(1),
            retry_after: Duration::ZERO,
        }))
    }

    async fn health(&self) -> Result<(), CacheError> {
        let result = self.inner.health().await;
        match &result {
            Ok(()) => self.recovered("health"),
            Err(error) => self.failed("health", error),
        }
        result
    }
}
