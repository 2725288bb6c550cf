//! From one merchant-facing event to one delivery row per endpoint that wants it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use nexpay_bus::{Bus, BusError, ConsumerHandle, ConsumerOptions, Envelope, Handler, HandlerError};
use nexpay_contracts::PaymentEvent;
use nexpay_store::{Store, WebhookDeliveryRow, WebhookEndpointRow};
use tokio::sync::Notify;

use crate::Dispatcher;

/// The event types merchants can receive.
pub const MERCHANT_EVENTS: &[&str] = &[
    "payment.succeeded",
    "payment.failed",
    "payment.pending",
    "payment.cancelled",
    "payment.expired",
];

/// Writes the deliveries of each event, then sends them at once through the local
/// dispatcher's fast lane (or wakes it).
#[derive(Clone)]
pub struct Fanout {
    store: Store,
    wake: Arc<Notify>,
    lane: Option<Dispatcher>,
}

impl Fanout {
    /// Writes deliveries and wakes whoever waits on `wake` (a [`Dispatcher`]'s, so a new
    /// delivery goes out at the dispatcher's next claim rather than at its next poll).
    pub fn new(store: Store, wake: Arc<Notify>) -> Self {
        Fanout {
            store,
            wake,
            lane: None,
        }
    }

    /// Writes deliveries already claimed for `dispatcher` and hands them to it to send
    /// at once: a new event does not wait behind the due retries and resends the claim
    /// loop works through (oldest first). The claim is the usual lease, so if this
    /// process dies before sending, another dispatcher claims them when it runs out.
    /// When the fast lane is full, the deliveries are written unclaimed and the
    /// dispatcher is woken, as with [`Fanout::new`].
    pub fn sending(store: Store, dispatcher: &Dispatcher) -> Self {
        Fanout {
            store,
            wake: dispatcher.wake(),
            lane: Some(dispatcher.clone()),
        }
    }

    /// Records the deliveries of one event; returns how many are new. Anything but a
    /// merchant-facing event is ignored.
    pub async fn accept(
        &self,
        kind: &str,
        payload: &serde_json::Value,
    ) -> Result<usize, FanoutError> {
        if !MERCHANT_EVENTS.contains(&kind) {
            return Ok(0);
        }
        let event: PaymentEvent = serde_json::from_value(payload.clone())
            .map_err(|e| FanoutError::Malformed(format!("{kind}: {e}")))?;
        let endpoints = self
            .store
            .endpoints_for_event(&event.data.project.id, &event.data.mode)
            .await?;
        let wanted: Vec<&WebhookEndpointRow> =
            endpoints.iter().filter(|e| wants(e, kind)).collect();
        if wanted.is_empty() {
            return Ok(0);
        }
        // The exact bytes every endpoint receives and every signature covers.
        let body = nexpay_webhook_signing::js_compact(payload);
        let at = nexpay_store::now();
        let lane = self
            .lane
            .as_ref()
            .and_then(|d| d.reserve_fresh(wanted.len()).map(|p| (d, p)));
        let locked_until = lane.as_ref().map(|(d, _)| at + d.lease());
        let rows: Vec<WebhookDeliveryRow> = wanted
            .into_iter()
            .map(|e| {
                let mut row = WebhookDeliveryRow::due(
                    format!("whd_{}", nexpay_security::random_base62(24)),
                    e,
                    event.id.clone(),
                    kind,
                    event.data.reference.clone(),
                    body.clone(),
                    at,
                );
                row.locked_until = locked_until;
                row
            })
            .collect();
        let new = self.store.insert_new_webhook_deliveries(&rows).await?;
        let inserted = new.iter().filter(|n| **n).count();
        match lane {
            // Only the rows written now: one already there (a redelivered event) is
            // someone else's to send.
            Some((dispatcher, permits)) => {
                let fresh = rows
                    .into_iter()
                    .zip(new)
                    .filter_map(|(row, new)| new.then_some(row))
                    .collect();
                dispatcher.send_now(fresh, permits);
            }
            None if inserted > 0 => self.wake.notify_one(),
            None => {}
        }
        Ok(inserted)
    }

    /// Consumes the dispatcher's durable queue (distributed wiring).
    pub async fn consume(
        self,
        bus: &dyn Bus,
        opts: ConsumerOptions,
    ) -> Result<ConsumerHandle, BusError> {
        bus.consume(crate::EVENTS_QUEUE, crate::BINDINGS, Arc::new(self), opts)
            .await
    }
}

/// Whether `endpoint` subscribed to `kind` (an empty list means every type).
fn wants(endpoint: &WebhookEndpointRow, kind: &str) -> bool {
    match serde_json::from_str::<Vec<String>>(&endpoint.event_types) {
        Ok(types) => types.is_empty() || types.iter().any(|t| t == kind),
        Err(_) => true,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FanoutError {
    #[error("malformed event: {0}")]
    Malformed(String),
    #[error(transparent)]
    Store(#[from] nexpay_store::StoreError),
}

#[async_trait]
impl Handler for Fanout {
    async fn handle(&self, msg: Envelope) -> Result<serde_json::Value, HandlerError> {
        match self.accept(&msg.kind, &msg.payload).await {
            Ok(_) => Ok(serde_json::Value::Null),
            Err(FanoutError::Malformed(e)) => Err(HandlerError::Permanent(e)),
            // The database is away: the broker redelivers later.
            Err(e) => Err(HandlerError::Retryable(e.to_string())),
        }
    }
}

/// The bus of the standalone wiring, seen by the outbox relay: a merchant-facing event
/// is turned into deliveries (committed) BEFORE it is handed to the in-process bus,
/// whose queues live in memory. The relay marks the outbox row published only after
/// that, so a crash in between publishes the event again, and the unique delivery rows
/// absorb the repeat: nothing is lost when the process dies.
pub struct FanoutBus {
    inner: Arc<dyn Bus>,
    fanout: Fanout,
}

impl FanoutBus {
    pub fn new(inner: Arc<dyn Bus>, fanout: Fanout) -> Self {
        FanoutBus { inner, fanout }
    }
}

#[async_trait]
impl Bus for FanoutBus {
    async fn publish(&self, msg: Envelope) -> Result<(), BusError> {
        self.fanout
            .accept(&msg.kind, &msg.payload)
            .await
            .map_err(|e| BusError::Unavailable(format!("webhook deliveries: {e}")))?;
        self.inner.publish(msg).await
    }

    async fn request(
        &self,
        queue: &str,
        msg: Envelope,
        timeout: Duration,
    ) -> Result<serde_json::Value, BusError> {
        self.inner.request(queue, msg, timeout).await
    }

    async fn serve(
        &self,
        queue: &str,
        handler: Arc<dyn Handler>,
        opts: ConsumerOptions,
    ) -> Result<ConsumerHandle, BusError> {
        self.inner.serve(queue, handler, opts).await
    }

    async fn consume(
        &self,
        queue: &str,
        bindings: &[&str],
        handler: Arc<dyn Handler>,
        opts: ConsumerOptions,
    ) -> Result<ConsumerHandle, BusError> {
        self.inner.consume(queue, bindings, handler, opts).await
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
