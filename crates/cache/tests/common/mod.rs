//! Helpers shared by the integration tests. Each test binary uses only some of
//! them, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod proxy;
pub mod redis_env;
pub mod suite;

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `check` until it returns true or `within` has passed; returns whether it did.
/// Used instead of fixed sleeps so tests finish as soon as the condition holds.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
