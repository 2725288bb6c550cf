//! Push-style consumers (`serve` / `consume`) built on a [`Subscription`]:
//! a prefetch buffer feeding at most `concurrency` handler tasks, each
//! outcome turned into ack / nack / dead-letter / reply.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::{JoinError, JoinHandle, JoinSet};
use tracing::Instrument;

use crate::bus::Handler;
use crate::error::HandlerError;
use crate::queue::Settle;
use crate::subscription::{Delivery, Subscription};

/// How long [`ConsumerHandle::shutdown`] lets in-flight handlers finish.
/// Kept well below the usual 30 s container stop timeout.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(15);

/// Tuning of one consumer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConsumerOptions {
    /// Unacked messages the consumer may hold (AMQP `basic.qos`; 0 = no limit).
    pub prefetch: u16,
    /// Failed deliveries after which a message is dead-lettered (min 1).
    pub max_deliveries: u32,
    /// Handlers running at once (min 1).
    pub concurrency: usize,
}

impl Default for ConsumerOptions {
    fn default() -> Self {
        Self {
            prefetch: 32,
            max_deliveries: 5,
            concurrency: 4,
        }
    }
}

/// A running consumer. [`ConsumerHandle::shutdown`] stops it: it takes no
/// new messages, gives unstarted prefetched ones back to the queue, lets
/// in-flight handlers finish within a grace period and requeues whatever is
/// still unfinished after it. Dropping the handle detaches the consumer
/// (it keeps running), like dropping a tokio `JoinHandle`: a consumer must
/// never stop silently because a handle went out of scope.
pub struct ConsumerHandle {
    queue: String,
    stop: oneshot::Sender<Duration>,
    task: JoinHandle<()>,
}

impl ConsumerHandle {
    /// For bus adapters in other crates (e.g. RabbitMQ): `task` runs the
    /// consumer and must, once it receives a grace period on the other end
    /// of `stop`, stop taking messages, let in-flight handlers finish within
    /// that grace and then end. If `stop` is dropped without sending (the
    /// handle was dropped), the consumer must keep running (detached).
    pub fn new(queue: &str, stop: oneshot::Sender<Duration>, task: JoinHandle<()>) -> Self {
        Self {
            queue: queue.to_owned(),
            stop,
            task,
        }
    }

    /// Queue this consumer takes messages from.
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// Stop with [`DEFAULT_SHUTDOWN_GRACE`].
    pub async fn shutdown(self) {
        self.shutdown_with_grace(DEFAULT_SHUTDOWN_GRACE).await;
    }

    /// Stop, waiting at most `grace` for in-flight handlers.
    pub async fn shutdown_with_grace(self, grace: Duration) {
        // An error means the consumer already ended (bus closed).
        let _ = self.stop.send(grace);
        if let Err(e) = self.task.await {
            tracing::error!(queue = %self.queue, error = %e, "consumer task failed");
        }
    }
}

impl fmt::Debug for ConsumerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsumerHandle")
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

/// Start a consumer loop on `sub`.
pub(crate) fn spawn_consumer(
    sub: Subscription,
    handler: Arc<dyn Handler>,
    opts: ConsumerOptions,
) -> ConsumerHandle {
    let queue = sub.queue().to_owned();
    let (stop_tx, stop_rx) = oneshot::channel();
    let task = tokio::spawn(run(sub, handler, opts, stop_rx));
    ConsumerHandle::new(&queue, stop_tx, task)
}

type Outcome = Result<serde_json::Value, HandlerError>;

struct Worker {
    sub: Subscription,
    handler: Arc<dyn Handler>,
    max_deliveries: u32,
    concurrency: usize,
    /// Prefetched deliveries no handler has started yet.
    buffer: VecDeque<Delivery>,
    running: JoinSet<Outcome>,
    /// Each running task's delivery, kept outside the task so that a panic
    /// (reported as a `JoinError` carrying the task id) can still settle it.
    in_flight: HashMap<tokio::task::Id, Delivery>,
}

async fn run(
    sub: Subscription,
    handler: Arc<dyn Handler>,
    opts: ConsumerOptions,
    mut stop: oneshot::Receiver<Duration>,
) {
    let mut w = Worker {
        sub,
        handler,
        max_deliveries: opts.max_deliveries.max(1),
        concurrency: opts.concurrency.max(1),
        buffer: VecDeque::new(),
        running: JoinSet::new(),
        in_flight: HashMap::new(),
    };
    let mut detached = false;
    let grace = loop {
        w.start_handlers();
        tokio::select! {
            // Shutdown first, so a stopping consumer takes nothing new.
            biased;
            grace = &mut stop, if !detached => match grace {
                Ok(grace) => break grace,
                // The handle was dropped: keep consuming.
                Err(_) => detached = true,
            },
            Some(joined) = w.running.join_next_with_id(), if !w.running.is_empty() => {
                w.finish(joined);
            }
            // Subscription::next is cancel-safe and itself waits while the
            // prefetch window (buffer + running) is full.
            next = w.sub.next() => match next {
                Some(delivery) => w.buffer.push_back(delivery),
                None => break DEFAULT_SHUTDOWN_GRACE, // bus closed
            },
        }
    };
    w.drain(grace).await;
}

impl Worker {
    fn start_handlers(&mut self) {
        while self.running.len() < self.concurrency {
            let Some(delivery) = self.buffer.pop_front() else {
                return;
            };
            let env = delivery.envelope.clone();
            let span = tracing::info_span!(
                "bus.handle",
                queue = %self.sub.queue(),
                kind = %env.kind,
                id = %env.id,
                correlation_id = %env.correlation_id,
                delivery_count = delivery.delivery_count,
            );
            let handler = Arc::clone(&self.handler);
            let task = self
                .running
                .spawn(async move { handler.handle(env).await }.instrument(span));
            self.in_flight.insert(task.id(), delivery);
        }
    }

    /// Turn a finished handler task into ack / requeue / dead-letter / reply.
    fn finish(&mut self, joined: Result<(tokio::task::Id, Outcome), JoinError>) {
        let (id, outcome) = match joined {
            Ok((id, outcome)) => (id, Some(outcome)),
            Err(e) if e.is_panic() => (e.id(), None),
            Err(e) => {
                // Aborted after the shutdown grace: dropping the delivery
                // requeues it, as a dead consumer's would be.
                self.in_flight.remove(&e.id());
                return;
            }
        };
        let Some(delivery) = self.in_flight.remove(&id) else {
            return;
        };
        let exhausted = delivery.delivery_count >= self.max_deliveries;
        let queue = self.sub.queue();
        let (msg_id, count) = (delivery.envelope.id.clone(), delivery.delivery_count);
        match outcome {
            Some(Ok(value)) => delivery.settle(Settle::Ack, Some(Ok(value))),
            Some(Err(err @ HandlerError::Rejected { .. })) if delivery.is_request() => {
                // A business answer: nothing to retry, nothing to inspect.
                delivery.settle(Settle::Ack, Some(Err(err)));
            }
            Some(Err(HandlerError::Retryable(reason))) if !exhausted => {
                tracing::warn!(queue, id = %msg_id, count, %reason, "handler failed; requeued");
                delivery.settle(Settle::Requeue { strict: false }, None);
            }
            Some(Err(err)) => {
                tracing::warn!(queue, id = %msg_id, count, error = %err, "handler failed");
                delivery.settle(Settle::DeadLetter, Some(Err(err)));
            }
            None if exhausted => {
                tracing::error!(queue, id = %msg_id, count, "handler panicked");
                let err = HandlerError::Permanent("handler panicked".to_owned());
                delivery.settle(Settle::DeadLetter, Some(Err(err)));
            }
            None => {
                tracing::error!(queue, id = %msg_id, count, "handler panicked; requeued");
                // To RabbitMQ a panicking server looks like a dead consumer:
                // its request goes to another server, or waits for one until
                // the caller times out. An event must be retried even with a
                // single consumer, so it only prefers another one.
                let strict = delivery.is_request();
                delivery.settle(Settle::Requeue { strict }, None);
            }
        }
    }

    /// Shutdown: give back unstarted messages, wait for running handlers up
    /// to `grace`, abort (and so requeue) the rest.
    async fn drain(mut self, grace: Duration) {
        // From the back, so the requeued messages keep their order.
        while let Some(delivery) = self.buffer.pop_back() {
            delivery.settle(Settle::Release, None);
        }
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            match tokio::time::timeout_at(deadline, self.running.join_next_with_id()).await {
                Ok(Some(joined)) => self.finish(joined),
                Ok(None) => break,
                Err(_) => {
                    tracing::warn!(
                        queue = %self.sub.queue(),
                        unfinished = self.running.len(),
                        "shutdown grace elapsed; aborting handlers"
                    );
                    self.running.abort_all();
                    while let Some(joined) = self.running.join_next_with_id().await {
                        self.finish(joined);
                    }
                    break;
                }
            }
        }
        // Dropping `self.sub` now deregisters the consumer.
    }
}
