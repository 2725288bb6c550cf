//! Push consumers (`serve` / `consume`): one channel per consumer with
//! `basic.qos(prefetch)` and manual acks, at most `concurrency` deliveries
//! processed at once, re-attached after a reconnection, stopped gracefully.

mod process;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicQosOptions};
use lapin::types::{FieldTable, ShortString};
use lapin::{Channel, Consumer};
use nexpay_bus::{BusError, ConsumerHandle, ConsumerOptions, Handler};
use tokio::sync::{oneshot, watch};

use crate::config::Backoff;
use crate::link::{Link, LinkState, Shared};
use crate::topology::{self, Role};
use crate::wire::{short, unavailable};
use worker::{drain, Worker};

/// What every delivery of one consumer needs.
pub(crate) struct Ctx {
    pub shared: Arc<Shared>,
    pub queue: String,
    pub role: Role,
    pub handler: Arc<dyn Handler>,
    pub max_deliveries: u32,
}

/// A consumer registered on a channel.
pub(super) struct Attached {
    channel: Channel,
    consumer: Consumer,
    tag: ShortString,
}

/// Declare the queue's topology and start consuming before returning, so
/// that everything published afterwards reaches this consumer.
pub(crate) async fn start(
    shared: Arc<Shared>,
    queue: &str,
    role: Role,
    handler: Arc<dyn Handler>,
    opts: ConsumerOptions,
) -> Result<ConsumerHandle, BusError> {
    short(queue)?;
    let ctx = Arc::new(Ctx {
        shared,
        queue: queue.to_owned(),
        role,
        handler,
        max_deliveries: opts.max_deliveries.max(1),
    });
    let link = ctx.shared.link()?;
    let first = attach(&ctx, &link, opts.prefetch).await?;
    let (stop_tx, stop_rx) = oneshot::channel();
    let task = tokio::spawn(run(ctx, opts, first, stop_rx));
    Ok(ConsumerHandle::new(queue, stop_tx, task))
}

async fn attach(ctx: &Ctx, link: &Link, prefetch: u16) -> Result<Attached, BusError> {
    let retry_delay = ctx.shared.config.retry_delay;
    topology::declare_queue(&link.conn, &ctx.queue, &ctx.role, retry_delay).await?;
    let fail = |what: &str, e: lapin::Error| unavailable(&format!("{what} `{}`", ctx.queue), &e);
    let channel = topology::open(&link.conn).await?;
    channel
        .basic_qos(prefetch, BasicQosOptions::default())
        .await
        .map_err(|e| fail("setting the prefetch of", e))?;
    // One consumer per channel, so a fixed tag is unique.
    let tag = ShortString::from("nexpay");
    let consumer = channel
        .basic_consume(
            short(&ctx.queue)?,
            tag.clone(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| fail("consuming", e))?;
    Ok(Attached {
        channel,
        consumer,
        tag,
    })
}

/// Wait for a live connection and attach to it; `Closed` once the bus is.
async fn reattach(
    ctx: &Ctx,
    prefetch: u16,
    links: &mut watch::Receiver<LinkState>,
    backoff: &mut Backoff,
) -> Result<Attached, BusError> {
    let link = loop {
        let state = links.borrow_and_update().clone();
        match state {
            LinkState::Up(link) if link.alive() => break link,
            LinkState::Closed => return Err(BusError::Closed),
            _ => {}
        }
        if links.changed().await.is_err() {
            return Err(BusError::Closed);
        }
    };
    match attach(ctx, &link, prefetch).await {
        Ok(attached) => {
            tracing::info!(queue = %ctx.queue, "consumer attached");
            Ok(attached)
        }
        Err(e) => {
            let delay = backoff.next_delay();
            tracing::warn!(queue = %ctx.queue, error = %e, ?delay, "consumer could not attach");
            tokio::time::sleep(delay).await;
            Err(e)
        }
    }
}

async fn next_delivery(
    attached: &mut Option<Attached>,
) -> Option<lapin::Result<lapin::message::Delivery>> {
    match attached {
        Some(a) => a.consumer.next().await,
        None => std::future::pending().await,
    }
}

async fn run(
    ctx: Arc<Ctx>,
    opts: ConsumerOptions,
    first: Attached,
    mut stop: oneshot::Receiver<Duration>,
) {
    let config = &ctx.shared.config;
    let mut backoff = Backoff::new(config.reconnect_min, config.reconnect_max);
    let mut links = ctx.shared.state.subscribe();
    let mut worker = Worker::new(opts.concurrency);
    let mut attached = Some(first);
    let mut detached = false;
    let grace = loop {
        worker.start_handlers(&ctx);
        tokio::select! {
            // Shutdown first, so a stopping consumer takes nothing new.
            biased;
            grace = &mut stop, if !detached => match grace {
                Ok(grace) => break grace,
                // The handle was dropped: keep consuming.
                Err(_) => detached = true,
            },
            Some(joined) = worker.running.join_next_with_id(), if !worker.running.is_empty() => {
                worker.reap(joined).await;
            }
            // Polled even while every slot is busy, to notice a lost
            // channel at once; the prefetch bounds what gets buffered.
            next = next_delivery(&mut attached), if attached.is_some() => match next {
                Some(Ok(delivery)) => worker.buffer.push_back(delivery),
                Some(Err(e)) => tracing::warn!(queue = %ctx.queue, error = %e, "consumer error"),
                // Channel or connection closed, or the broker cancelled the
                // consumer (queue deleted).
                None => {
                    tracing::warn!(queue = %ctx.queue, "consumer stopped receiving; re-attaching");
                    attached = None;
                    worker.forget_all();
                }
            },
            result = reattach(&ctx, opts.prefetch, &mut links, &mut backoff), if attached.is_none() => match result {
                Ok(a) => {
                    backoff.reset();
                    attached = Some(a);
                }
                Err(BusError::Closed) => break Duration::ZERO,
                Err(_) => {} // logged; reattach waited before returning
            },
        }
    };
    drain(&ctx, worker, attached, grace).await;
}
