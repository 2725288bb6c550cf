//! The transport-independent bus and handler traits.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::consumer::{ConsumerHandle, ConsumerOptions};
use crate::envelope::Envelope;
use crate::error::{BusError, HandlerError};

/// Processes one message. `Ok` acks it (and is the reply to a request);
/// `Err` nacks it as described on [`HandlerError`].
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    async fn handle(&self, msg: Envelope) -> Result<serde_json::Value, HandlerError>;
}

struct FnHandler<F>(F);

#[async_trait]
impl<F, Fut> Handler for FnHandler<F>
where
    F: Fn(Envelope) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<serde_json::Value, HandlerError>> + Send + 'static,
{
    async fn handle(&self, msg: Envelope) -> Result<serde_json::Value, HandlerError> {
        (self.0)(msg).await
    }
}

/// Wrap an async closure as a [`Handler`].
pub fn handler_fn<F, Fut>(f: F) -> Arc<dyn Handler>
where
    F: Fn(Envelope) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<serde_json::Value, HandlerError>> + Send + 'static,
{
    Arc::new(FnHandler(f))
}

/// A message bus: RabbitMQ in production, [`crate::InProcessBus`] in the
/// standalone binary and in tests.
#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Publish an event to the topic exchange; routing key = `msg.kind`.
    /// Returns once the broker has it (publisher confirm). An event no queue
    /// is bound to is dropped, as by a RabbitMQ topic exchange.
    async fn publish(&self, msg: Envelope) -> Result<(), BusError>;

    /// Request/reply to a command queue with a deadline; correlation by
    /// message id. No reply in time → [`BusError::Timeout`]; the handler's
    /// error → [`BusError::Handler`].
    async fn request(
        &self,
        queue: &str,
        msg: Envelope,
        timeout: Duration,
    ) -> Result<serde_json::Value, BusError>;

    /// Serve a command queue (competing consumers: several servers on one
    /// queue share the load).
    async fn serve(
        &self,
        queue: &str,
        handler: Arc<dyn Handler>,
        opts: ConsumerOptions,
    ) -> Result<ConsumerHandle, BusError>;

    /// Consume events: declares durable `queue` bound to the topic
    /// `bindings` (e.g. `["payment.*"]`); the handler's `Ok` acks, `Err`
    /// nacks as described on [`HandlerError`].
    async fn consume(
        &self,
        queue: &str,
        bindings: &[&str],
        handler: Arc<dyn Handler>,
        opts: ConsumerOptions,
    ) -> Result<ConsumerHandle, BusError>;

    /// Messages waiting (ready + unacked) in a queue, for metrics and tests.
    async fn queue_depth(&self, queue: &str) -> Result<u64, BusError>;

    /// Dead-lettered messages of a queue (metrics, admin inspection, tests).
    async fn dead_letters(&self, queue: &str) -> Result<Vec<Envelope>, BusError>;

    async fn health(&self) -> Result<(), BusError>;
}
