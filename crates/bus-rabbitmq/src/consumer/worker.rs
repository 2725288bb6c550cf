//! The deliveries a consumer holds, and its graceful shutdown.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicCancelOptions, BasicNackOptions};
use lapin::Acker;
use tokio::task::{JoinError, JoinSet};

use super::{process, Attached, Ctx};
use crate::config::deadline_after;

const REQUEUE: BasicNackOptions = BasicNackOptions {
    multiple: false,
    requeue: true,
};

/// Received deliveries wait in `buffer` (bounded by the prefetch) until one
/// of the `concurrency` task slots is free; each task processes one
/// delivery up to its settlement.
pub(super) struct Worker {
    pub buffer: VecDeque<Delivery>,
    pub running: JoinSet<()>,
    /// Each task's acker, to requeue its delivery if the task is aborted.
    in_flight: HashMap<tokio::task::Id, Acker>,
    concurrency: usize,
}

impl Worker {
    pub(super) fn new(concurrency: usize) -> Self {
        Self {
            buffer: VecDeque::new(),
            running: JoinSet::new(),
            in_flight: HashMap::new(),
            concurrency: concurrency.max(1),
        }
    }

    pub(super) fn start_handlers(&mut self, ctx: &Arc<Ctx>) {
        while self.running.len() < self.concurrency {
            let Some(delivery) = self.buffer.pop_front() else {
                return;
            };
            let acker = delivery.acker.clone();
            let task = self
                .running
                .spawn(process::process(Arc::clone(ctx), delivery));
            self.in_flight.insert(task.id(), acker);
        }
    }

    /// The channel is gone and with it every delivery (RabbitMQ requeued
    /// them): running handlers are cancelled, since their outcome could not
    /// be settled any more. The messages will be delivered again.
    pub(super) fn forget_all(&mut self) {
        self.buffer.clear();
        self.running.abort_all();
    }

    /// A task ended; an aborted (or, by a bug, panicked) one gets its
    /// delivery requeued.
    pub(super) async fn reap(&mut self, joined: Result<(tokio::task::Id, ()), JoinError>) {
        match joined {
            Ok((id, ())) => {
                self.in_flight.remove(&id);
            }
            Err(e) => {
                if let Some(acker) = self.in_flight.remove(&e.id()) {
                    let _ = acker.nack(REQUEUE).await;
                }
            }
        }
    }
}

/// Shutdown: cancel the consumer, give back what was received but not
/// started, let running deliveries finish within `grace`, requeue the rest.
pub(super) async fn drain(
    ctx: &Ctx,
    mut worker: Worker,
    attached: Option<Attached>,
    grace: Duration,
) {
    let mut channel = None;
    if let Some(mut a) = attached {
        let cancel = a
            .channel
            .basic_cancel(a.tag.clone(), BasicCancelOptions::default());
        let _ = tokio::time::timeout(Duration::from_secs(2), cancel).await;
        // Deliveries already on their way come before the end of the stream.
        let short_wait = Duration::from_millis(500);
        while let Ok(Some(next)) = tokio::time::timeout(short_wait, a.consumer.next()).await {
            if let Ok(delivery) = next {
                worker.buffer.push_back(delivery);
            }
        }
        channel = Some(a.channel);
    }
    // From the back, so that the requeued messages keep their order.
    while let Some(delivery) = worker.buffer.pop_back() {
        let _ = delivery.acker.nack(REQUEUE).await;
    }
    let deadline = deadline_after(grace);
    loop {
        match tokio::time::timeout_at(deadline, worker.running.join_next_with_id()).await {
            Ok(Some(joined)) => worker.reap(joined).await,
            Ok(None) => break,
            Err(_) => {
                tracing::warn!(
                    queue = %ctx.queue,
                    unfinished = worker.running.len(),
                    "shutdown grace elapsed; requeueing unfinished messages"
                );
                worker.running.abort_all();
                while let Some(joined) = worker.running.join_next_with_id().await {
                    worker.reap(joined).await;
                }
                break;
            }
        }
    }
    if let Some(channel) = channel.filter(|c| c.status().connected()) {
        // Requeues anything still unacked on it.
        let _ = channel.close(200, "OK".into()).await;
    }
}
