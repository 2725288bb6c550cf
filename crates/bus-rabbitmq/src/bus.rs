//! [`RabbitBus`]: the [`Bus`] implementation over a supervised connection.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use nexpay_bus::{Bus, BusError, ConsumerHandle, ConsumerOptions, Envelope, Handler};
use tokio::task::JoinHandle;

use crate::config::{RabbitConfig, EVENTS_EXCHANGE};
use crate::link::{establish, supervise, LinkState, Shared};
use crate::publish::{confirmed, Outgoing};
use crate::topology::Role;
use crate::wire::{encode, properties, short};
use crate::{consumer, inspect, rpc};

/// A [`Bus`] on RabbitMQ. Cheap to clone; clones share one connection.
/// Dropping the last clone closes the connection (as
/// [`RabbitBus::close`] does, without waiting).
#[derive(Clone)]
pub struct RabbitBus {
    shared: Arc<Shared>,
    owner: Arc<Owner>,
}

/// Closes the connection when the last bus handle goes away (the tasks hold
/// only `Shared`).
struct Owner {
    shared: Arc<Shared>,
    supervisor: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.shared.request_close();
    }
}

impl RabbitBus {
    /// Connect to `url` (e.g. `amqp://guest:guest@127.0.0.1:5672/%2f`) as
    /// `service` (shown as the connection name) with default tuning.
    /// Fails with [`BusError::Unavailable`] if the broker cannot be reached
    /// now; once connected, the bus reconnects by itself.
    pub async fn connect(url: &str, service: &str) -> Result<Self, BusError> {
        Self::connect_with(url, service, RabbitConfig::default()).await
    }

    /// [`RabbitBus::connect`] with explicit tuning.
    pub async fn connect_with(
        url: &str,
        service: &str,
        config: RabbitConfig,
    ) -> Result<Self, BusError> {
        let shared = Arc::new(Shared::new(url, service, config));
        let (link, replies) = establish(&shared).await?;
        let link = Arc::new(link);
        // Published before returning, so the bus is usable at once.
        shared.state.send_replace(LinkState::Up(Arc::clone(&link)));
        let supervisor = tokio::spawn(supervise(Arc::clone(&shared), (link, replies)));
        let owner = Arc::new(Owner {
            shared: Arc::clone(&shared),
            supervisor: std::sync::Mutex::new(Some(supervisor)),
        });
        Ok(Self { shared, owner })
    }

    /// Whether the bus is connected right now.
    pub fn is_connected(&self) -> bool {
        self.shared.link().is_ok()
    }

    /// Wait until the bus is connected (after a reconnection), at most
    /// `timeout`. Returns whether it is.
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        let mut state = self.shared.state.subscribe();
        let wait = async {
            let settled = state.wait_for(|s| match s {
                LinkState::Up(link) => link.alive(),
                LinkState::Closed => true,
                LinkState::Down(_) => false,
            });
            settled.await.is_ok_and(|s| matches!(*s, LinkState::Up(_)))
        };
        tokio::time::timeout(timeout, wait).await.unwrap_or(false)
    }

    /// How many connections this bus has made (1 until the first
    /// reconnection); 0 while disconnected.
    pub fn connection_generation(&self) -> u64 {
        self.shared.link().map(|l| l.generation).unwrap_or(0)
    }

    /// Declare the durable event queue `queue` (with its `.dead` and `.retry`
    /// queues) bound to the topic `bindings`, without consuming from it: events
    /// published from now on wait in it for a consumer. Idempotent.
    pub async fn declare_events_queue(
        &self,
        queue: &str,
        bindings: &[&str],
    ) -> Result<(), BusError> {
        let link = self.shared.link()?;
        let role = Role::Events(bindings.iter().map(|b| (*b).to_owned()).collect());
        crate::topology::declare_queue(&link.conn, queue, &role, self.shared.config.retry_delay)
            .await
    }

    /// Close the connection and stop reconnecting. Consumers end; what
    /// they hold unacked is requeued by RabbitMQ. Further calls fail with
    /// [`BusError::Closed`].
    pub async fn close(&self) {
        self.shared.request_close();
        let task = self
            .owner
            .supervisor
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "RabbitMQ supervisor failed");
            }
        }
    }
}

impl fmt::Debug for RabbitBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RabbitBus")
            .field("service", &self.shared.service)
            .field("connected", &self.is_connected())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Bus for RabbitBus {
    async fn publish(&self, msg: Envelope) -> Result<(), BusError> {
        let link = self.shared.link()?;
        let out = Outgoing {
            exchange: EVENTS_EXCHANGE,
            routing_key: short(&msg.kind)?,
            // An event no queue is bound to is dropped (topic semantics).
            mandatory: false,
            body: &encode(&msg)?,
            properties: properties(&msg)?,
        };
        confirmed(&self.shared, &link, out).await.map(drop)
    }

    async fn request(
        &self,
        queue: &str,
        msg: Envelope,
        timeout: Duration,
    ) -> Result<serde_json::Value, BusError> {
        rpc::request(&self.shared, queue, msg, timeout).await
    }

    async fn serve(
        &self,
        queue: &str,
        handler: Arc<dyn Handler>,
        opts: ConsumerOptions,
    ) -> Result<ConsumerHandle, BusError> {
        consumer::start(
            Arc::clone(&self.shared),
            queue,
            Role::Commands,
            handler,
            opts,
        )
        .await
    }

    async fn consume(
        &self,
        queue: &str,
        bindings: &[&str],
        handler: Arc<dyn Handler>,
        opts: ConsumerOptions,
    ) -> Result<ConsumerHandle, BusError> {
        let role = Role::Events(bindings.iter().map(|b| (*b).to_owned()).collect());
        consumer::start(Arc::clone(&self.shared), queue, role, handler, opts).await
    }

    async fn queue_depth(&self, queue: &str) -> Result<u64, BusError> {
        inspect::queue_depth(&self.shared, queue).await
    }

    async fn dead_letters(&self, queue: &str) -> Result<Vec<Envelope>, BusError> {
        inspect::dead_letters(&self.shared, queue).await
    }

    async fn health(&self) -> Result<(), BusError> {
        self.shared.link().map(drop)
    }
}
