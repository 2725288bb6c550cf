//! The in-process bus used by the standalone binary and by tests.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::oneshot;

use crate::bus::{Bus, Handler};
use crate::consumer::{spawn_consumer, ConsumerHandle, ConsumerOptions};
use crate::envelope::Envelope;
use crate::error::BusError;
use crate::queue::{Queue, QueueStats};
use crate::subscription::Subscription;
use crate::topic::topic_matches;

/// A RabbitMQ-like broker living in this process: a topic exchange plus
/// named queues with ack/nack, redelivery, prefetch and dead letters (see
/// the crate docs). Cheap to clone; clones share the broker.
///
/// Messages are in memory only: they survive a consumer's failure, not the
/// process. The outbox is what protects events across restarts.
#[derive(Clone, Default)]
pub struct InProcessBus {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    registry: Mutex<Registry>,
    closed: AtomicBool,
}

#[derive(Default)]
struct Registry {
    queues: HashMap<String, Arc<Queue>>,
    /// Topic exchange bindings: (pattern, queue name).
    bindings: Vec<(String, String)>,
}

impl InProcessBus {
    pub fn new() -> Self {
        Self::default()
    }

    /// Poison-tolerant for the same reason as the queue lock: only
    /// non-panicking map/vec bookkeeping happens under it.
    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.inner
            .registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn check_open(&self) -> Result<(), BusError> {
        if self.inner.closed.load(Ordering::Acquire) {
            Err(BusError::Closed)
        } else {
            Ok(())
        }
    }

    /// Declare `queue` (idempotent) and bind it to each topic pattern.
    fn declare(&self, queue: &str, bindings: &[&str]) -> Arc<Queue> {
        let mut reg = self.registry();
        let q = Arc::clone(
            reg.queues
                .entry(queue.to_owned())
                .or_insert_with(|| Queue::new(queue)),
        );
        for pattern in bindings {
            let exists = reg.bindings.iter().any(|(p, q)| p == pattern && q == queue);
            if !exists {
                reg.bindings.push(((*pattern).to_owned(), queue.to_owned()));
            }
        }
        if self.inner.closed.load(Ordering::Acquire) {
            // Declared after close(): make it refuse work like the others.
            q.close();
        }
        q
    }

    fn lookup(&self, queue: &str) -> Option<Arc<Queue>> {
        self.registry().queues.get(queue).cloned()
    }

    /// Low-level pull consumer: declares `queue`, binds it to `bindings` and
    /// registers a consumer holding at most `prefetch` unacked deliveries
    /// (0 = unlimited). `serve` and `consume` are built on this.
    pub fn subscribe(&self, queue: &str, bindings: &[&str], prefetch: u16) -> Subscription {
        Subscription::new(self.declare(queue, bindings), prefetch)
    }

    /// Counters of a queue (all zero for an undeclared one).
    pub fn queue_stats(&self, queue: &str) -> QueueStats {
        self.lookup(queue).map(|q| q.stats()).unwrap_or_default()
    }

    /// Close the broker: operations fail with [`BusError::Closed`] and
    /// subscriptions end (`next` returns `None`), which stops consumers.
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        let queues: Vec<Arc<Queue>> = self.registry().queues.values().cloned().collect();
        for q in queues {
            q.close();
        }
    }
}

impl fmt::Debug for InProcessBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reg = self.registry();
        f.debug_struct("InProcessBus")
            .field("queues", &reg.queues.len())
            .field("bindings", &reg.bindings.len())
            .field("closed", &self.inner.closed.load(Ordering::Relaxed))
            .finish()
    }
}

#[async_trait]
impl Bus for InProcessBus {
    async fn publish(&self, msg: Envelope) -> Result<(), BusError> {
        self.check_open()?;
        let targets: Vec<Arc<Queue>> = {
            let reg = self.registry();
            let mut names: Vec<&str> = reg
                .bindings
                .iter()
                .filter(|(pattern, _)| topic_matches(pattern, &msg.kind))
                .map(|(_, queue)| queue.as_str())
                .collect();
            // One copy per queue, however many of its bindings match.
            names.sort_unstable();
            names.dedup();
            names
                .into_iter()
                .filter_map(|name| reg.queues.get(name).cloned())
                .collect()
        };
        if targets.is_empty() {
            tracing::debug!(kind = %msg.kind, id = %msg.id, "no queue bound; event dropped");
        }
        for q in targets {
            if !q.push(msg.clone(), None) {
                return Err(BusError::Closed);
            }
        }
        Ok(())
    }

    async fn request(
        &self,
        queue: &str,
        msg: Envelope,
        timeout: Duration,
    ) -> Result<serde_json::Value, BusError> {
        self.check_open()?;
        // Fail fast on an undeclared queue, like a mandatory publish that
        // RabbitMQ returns as unroutable. A declared queue without a server
        // keeps the request until one appears or the caller gives up.
        let q = self
            .lookup(queue)
            .ok_or_else(|| BusError::NoHandler(queue.to_owned()))?;
        let (tx, rx) = oneshot::channel();
        if !q.push(msg, Some(tx)) {
            return Err(BusError::Closed);
        }
        // On timeout `rx` is dropped, which marks the request abandoned: the
        // queue discards it instead of serving it late.
        match tokio::time::timeout(timeout, rx).await {
            Err(_) => Err(BusError::Timeout),
            Ok(Err(_)) => Err(BusError::Unavailable(format!(
                "request on `{queue}` was dropped without a reply"
            ))),
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err(err))) => Err(BusError::Handler(err)),
        }
    }

    async fn serve(
        &self,
        queue: &str,
        handler: Arc<dyn Handler>,
        opts: ConsumerOptions,
    ) -> Result<ConsumerHandle, BusError> {
        self.consume(queue, &[], handler, opts).await
    }

    async fn consume(
        &self,
        queue: &str,
        bindings: &[&str],
        handler: Arc<dyn Handler>,
        opts: ConsumerOptions,
    ) -> Result<ConsumerHandle, BusError> {
        self.check_open()?;
        // Subscribed before returning, so messages published after this
        // call are guaranteed to reach the queue and this consumer.
        let sub = self.subscribe(queue, bindings, opts.prefetch);
        Ok(spawn_consumer(sub, handler, opts))
    }

    async fn queue_depth(&self, queue: &str) -> Result<u64, BusError> {
        let stats = self.queue_stats(queue);
        Ok(stats.ready + stats.unacked)
    }

    async fn dead_letters(&self, queue: &str) -> Result<Vec<Envelope>, BusError> {
        Ok(self
            .lookup(queue)
            .map(|q| q.dead_letters())
            .unwrap_or_default())
    }

    async fn health(&self) -> Result<(), BusError> {
        self.check_open()
    }
}
