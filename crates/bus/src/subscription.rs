//! The low-level pull API over an in-process queue: a [`Subscription`] is a
//! consumer (like an AMQP consumer on its own channel) and a [`Delivery`] is
//! one unacked message it holds.

use std::fmt;
use std::sync::Arc;

use crate::envelope::Envelope;
use crate::queue::{Queue, Reply, Settle};

/// A consumer on a queue. Holds at most `prefetch` unacked deliveries
/// (0 = unlimited, as in AMQP). Dropping it requeues every delivery it still
/// holds, like a closed channel: they are redelivered with `redelivered`
/// set, and acking them afterwards has no effect.
pub struct Subscription {
    queue: Arc<Queue>,
    id: u64,
    prefetch: u16,
}

impl Subscription {
    pub(crate) fn new(queue: Arc<Queue>, prefetch: u16) -> Self {
        let id = queue.add_subscriber();
        Self {
            queue,
            id,
            prefetch,
        }
    }

    /// Wait for the next delivery. Waits while the prefetch window is full
    /// (until one of the held deliveries is settled). `None` once the bus is
    /// closed. Cancel-safe: dropping the future never loses a message.
    pub async fn next(&mut self) -> Option<Delivery> {
        let taken = self.queue.take(self.id, self.prefetch).await?;
        Some(Delivery {
            envelope: taken.envelope,
            redelivered: taken.redelivered,
            delivery_count: taken.delivery_count,
            queue: Arc::clone(&self.queue),
            tag: taken.tag,
            is_request: taken.is_request,
            settled: false,
        })
    }

    /// Name of the queue this subscription consumes.
    pub fn queue(&self) -> &str {
        self.queue.name()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.queue.remove_subscriber(self.id);
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("queue", &self.queue.name())
            .field("id", &self.id)
            .field("prefetch", &self.prefetch)
            .finish()
    }
}

/// One delivered, not yet settled message. Settle it with [`Delivery::ack`]
/// or [`Delivery::nack`]; dropping it unsettled requeues it (as if the
/// consumer had died), so a crash can never lose a message.
pub struct Delivery {
    pub envelope: Envelope,
    /// Whether the message was delivered before (and not acked).
    pub redelivered: bool,
    /// How many times the message has been delivered, this time included,
    /// not counting deliveries given back unstarted by a consumer shutdown.
    pub delivery_count: u32,
    queue: Arc<Queue>,
    tag: u64,
    /// A request (someone waits for a reply) rather than an event.
    is_request: bool,
    settled: bool,
}

impl Delivery {
    /// Done with the message: remove it from the queue.
    pub fn ack(self) {
        self.settle(Settle::Ack, None);
    }

    /// Failed: with `requeue` the message is redelivered (another consumer
    /// is preferred); without, it goes to the queue's dead letters (every
    /// in-process queue has a dead-letter list; nothing is dropped).
    pub fn nack(self, requeue: bool) {
        let how = if requeue {
            Settle::Requeue { strict: false }
        } else {
            Settle::DeadLetter
        };
        self.settle(how, None);
    }

    pub(crate) fn is_request(&self) -> bool {
        self.is_request
    }

    /// Settle and, for a request, send `reply` to the waiting caller.
    pub(crate) fn settle(mut self, how: Settle, reply: Option<Reply>) {
        self.settled = true;
        if !self.queue.settle(self.tag, how, reply) {
            tracing::debug!(
                queue = %self.queue.name(),
                id = %self.envelope.id,
                "settling a delivery whose consumer is gone; it was already requeued"
            );
        }
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        if !self.settled {
            self.queue
                .settle(self.tag, Settle::Requeue { strict: false }, None);
        }
    }
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("envelope", &self.envelope)
            .field("redelivered", &self.redelivered)
            .field("delivery_count", &self.delivery_count)
            .field("queue", &self.queue.name())
            .finish()
    }
}
