//! Shared test helpers: every wait is bounded by a deadline and checks a
//! condition, so a broken implementation fails fast instead of hanging.
#![allow(dead_code)] // each test binary uses a different subset

use std::future::Future;
use std::time::Duration;

use nexpay_bus::{Envelope, InProcessBus, QueueStats};
use serde_json::json;

pub const DEADLINE: Duration = Duration::from_secs(5);

/// Await `fut`, failing the test if it takes longer than [`DEADLINE`].
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(DEADLINE, fut).await {
        Ok(out) => out,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// Re-check `cond` until it holds, failing the test after [`DEADLINE`].
pub async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    within(what, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
}

/// Wait until the stats of `queue` satisfy `cond`.
pub async fn wait_stats(bus: &InProcessBus, queue: &str, cond: impl Fn(QueueStats) -> bool) {
    let what = format!("stats of `{queue}`");
    wait_until(&what, || cond(bus.queue_stats(queue))).await;
}

pub fn event(kind: &str, n: u64) -> Envelope {
    Envelope::new(kind, "req-test", json!({ "n": n }))
}
