//! The outbox relay: publishes committed events, then marks them published. A crash
//! between the two republishes the same event id, which consumers dedupe.

use std::sync::Arc;
use std::time::Duration;

use nexpay_bus::{Bus, Envelope};
use nexpay_store::{Store, StoreResult};

const BATCH: i64 = 200;
const LEASE_SECS: i64 = 30;

pub struct OutboxRelay {
    store: Store,
    bus: Arc<dyn Bus>,
    signal: Arc<tokio::sync::Notify>,
}

impl OutboxRelay {
    pub(crate) fn new(store: Store, bus: Arc<dyn Bus>, signal: Arc<tokio::sync::Notify>) -> Self {
        OutboxRelay { store, bus, signal }
    }

    pub async fn run(self, idle_poll: Duration) {
        loop {
            match self.relay_once().await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "outbox relay pass failed"),
            }
            // Woken at once by a local commit; the poll catches rows written by other
            // replicas and rows whose lease expired.
            let _ = tokio::time::timeout(idle_poll, self.signal.notified()).await;
        }
    }

    /// Publishes one batch; returns how many rows were published.
    pub async fn relay_once(&self) -> StoreResult<usize> {
        let rows = self
            .store
            .claim_outbox_batch(BATCH, chrono::Duration::seconds(LEASE_SECS))
            .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        // Publishes run concurrently so broker confirms are pipelined, not awaited one
        // by one.
        let publishes = rows.iter().map(|row| {
            let payload = serde_json::from_str(&row.payload).unwrap_or(serde_json::Value::Null);
            let env = Envelope::with_id(
                row.id.clone(),
                row.kind.clone(),
                row.correlation_id.clone(),
                payload,
            );
            let bus = self.bus.clone();
            async move { bus.publish(env).await.map(|_| row.id.clone()) }
        });
        let results = futures::future::join_all(publishes).await;
        let mut done = Vec::with_capacity(results.len());
        for r in results {
            match r {
                Ok(id) => done.push(id),
                Err(e) => tracing::warn!(error = %e, "publish failed; the row stays in the outbox"),
            }
        }
        self.store.mark_outbox_published(&done).await?;
        Ok(done.len())
    }
}
