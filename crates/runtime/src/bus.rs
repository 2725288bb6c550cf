//! [`MeteredBus`]: any [`Bus`] with its traffic counted in [`Metrics`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use nexpay_bus::{Bus, BusError, ConsumerHandle, ConsumerOptions, Envelope, Handler, HandlerError};

use crate::Metrics;

/// Wraps a bus: requests, publishes and every handled message are counted and timed.
pub struct MeteredBus {
    inner: Arc<dyn Bus>,
    metrics: Metrics,
}

impl MeteredBus {
    pub fn new(inner: Arc<dyn Bus>, metrics: Metrics) -> Self {
        MeteredBus { inner, metrics }
    }

    fn wrap(&self, queue: &str, handler: Arc<dyn Handler>) -> Arc<dyn Handler> {
        Arc::new(MeteredHandler {
            queue: queue.to_owned(),
            inner: handler,
            metrics: self.metrics.clone(),
        })
    }
}

struct MeteredHandler {
    queue: String,
    inner: Arc<dyn Handler>,
    metrics: Metrics,
}

#[async_trait]
impl Handler for MeteredHandler {
    async fn handle(&self, msg: Envelope) -> Result<serde_json::Value, HandlerError> {
        let started = Instant::now();
        let result = self.inner.handle(msg).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(HandlerError::Rejected { .. }) => "rejected",
            Err(HandlerError::Retryable(_)) => "retryable",
            Err(HandlerError::Permanent(_)) => "permanent",
        };
        let m = self.metrics.inner();
        m.handled.with_label_values(&[&self.queue, outcome]).inc();
        m.handle_latency
            .with_label_values(&[&self.queue])
            .observe(started.elapsed().as_secs_f64());
        result
    }
}

#[async_trait]
impl Bus for MeteredBus {
    async fn publish(&self, msg: Envelope) -> Result<(), BusError> {
        let kind = msg.kind.clone();
        let result = self.inner.publish(msg).await;
        let outcome = if result.is_ok() { "ok" } else { "error" };
        self.metrics
            .inner()
            .published
            .with_label_values(&[&kind, outcome])
            .inc();
        result
    }

    async fn request(
        &self,
        queue: &str,
        msg: Envelope,
        timeout: Duration,
    ) -> Result<serde_json::Value, BusError> {
        let started = Instant::now();
        let result = self.inner.request(queue, msg, timeout).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(BusError::Handler(HandlerError::Rejected { .. })) => "rejected",
            Err(BusError::Timeout) => "timeout",
            Err(BusError::Unavailable(_) | BusError::Closed | BusError::NoHandler(_)) => {
                "unavailable"
            }
            Err(_) => "error",
        };
        let m = self.metrics.inner();
        m.requests.with_label_values(&[queue, outcome]).inc();
        m.request_latency
            .with_label_values(&[queue])
            .observe(started.elapsed().as_secs_f64());
        result
    }

    async fn serve(
        &self,
        queue: &str,
        handler: Arc<dyn Handler>,
        opts: ConsumerOptions,
    ) -> Result<ConsumerHandle, BusError> {
        self.inner
            .serve(queue, self.wrap(queue, handler), opts)
            .await
    }

    async fn consume(
        &self,
        queue: &str,
        bindings: &[&str],
        handler: Arc<dyn Handler>,
        opts: ConsumerOptions,
    ) -> Result<ConsumerHandle, BusError> {
        self.inner
            .consume(queue, bindings, self.wrap(queue, handler), opts)
            .await
    }

    async fn queue_depth(&self, queue: &str) -> Result<u64, BusError> {
        self.inner.queue_depth(queue).await
    }

    async fn dead_letters(&self, queue: &str) -> Result<Vec<Envelope>, BusError> {
        self.inner.dead_letters(queue).await
    }

    async fn health(&self) -> Result<(), BusError> {
        self.inner.health().await
    }
}
