//! One delivery: run the handler (panics caught) and turn its outcome into
//! ack / retry / dead letter / reply.

use std::sync::Arc;

use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::types::AMQPValue;
use lapin::BasicProperties;
use nexpay_bus::{BusError, Envelope, Handler, HandlerError};
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::Ctx;
use crate::config::{
    dead_queue, retry_queue, ATTEMPT_HEADER, DEADLINE_HEADER, DEAD_LETTER_EXCHANGE, ERROR_HEADER,
};
use crate::publish::{confirmed, Outgoing, Routed};
use crate::wire::{decode, encode_reply, headers_with, republished, short, text, Meta, Reply};

/// What happens to a delivery once its handler is done.
enum Action {
    /// Done; for a request, `Some` is the reply.
    Ack(Option<Reply>),
    /// Back to the queue after the retry delay, with the attempt counted.
    Retry,
    /// To `<queue>.dead`; for a request the error is also the reply.
    Dead(HandlerError),
}

pub(super) async fn process(ctx: Arc<Ctx>, delivery: Delivery) {
    let meta = Meta::of(&delivery.properties);
    let env = match decode(&delivery.data) {
        Ok(env) => env,
        Err(why) => {
            tracing::warn!(queue = %ctx.queue, %why, "undecodable message");
            return settle(
                &ctx,
                &delivery,
                &meta,
                Action::Dead(HandlerError::Permanent(why)),
            )
            .await;
        }
    };
    if meta.remaining_ms().is_some_and(|left| left <= 0) {
        // Nobody waits for the answer any more.
        tracing::debug!(queue = %ctx.queue, id = %env.id, "expired request discarded");
        return ack(&delivery).await;
    }
    let span = tracing::info_span!(
        "bus.handle",
        queue = %ctx.queue,
        kind = %env.kind,
        id = %env.id,
        correlation_id = %env.correlation_id,
        attempt = meta.attempt,
        redelivered = delivery.redelivered,
    );
    let outcome = run_handler(&ctx.handler, env, span).await;
    let exhausted = meta.attempt >= ctx.max_deliveries;
    let action = match outcome {
        Some(Ok(value)) => Action::Ack(Some(Ok(value))),
        // A business answer: nothing to retry, nothing to inspect.
        Some(Err(err @ HandlerError::Rejected { .. })) if meta.is_request() => {
            Action::Ack(Some(Err(err)))
        }
        Some(Err(HandlerError::Retryable(_))) | None if !exhausted => Action::Retry,
        Some(Err(err)) => Action::Dead(err),
        None => Action::Dead(HandlerError::Permanent("handler panicked".to_owned())),
    };
    settle(&ctx, &delivery, &meta, action).await;
}

/// Aborts the handler task if processing is itself aborted (shutdown grace).
struct AbortOnDrop(JoinHandle<Reply>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The handler's result; `None` if it panicked.
async fn run_handler(
    handler: &Arc<dyn Handler>,
    env: Envelope,
    span: tracing::Span,
) -> Option<Reply> {
    let handler = Arc::clone(handler);
    let mut task = AbortOnDrop(tokio::spawn(
        async move { handler.handle(env).await }.instrument(span),
    ));
    match (&mut task.0).await {
        Ok(reply) => Some(reply),
        Err(e) => {
            tracing::error!(error = %e, "handler panicked");
            None
        }
    }
}

async fn settle(ctx: &Ctx, delivery: &Delivery, meta: &Meta, action: Action) {
    if !delivery.acker.usable() {
        // Its channel is gone: RabbitMQ requeued the message already.
        tracing::debug!(queue = %ctx.queue, "channel closed before settling; it will be redelivered");
        return;
    }
    match action {
        Action::Ack(reply) => {
            if let Some(reply) = reply {
                send_reply(ctx, delivery, meta, &reply).await;
            }
            ack(delivery).await;
        }
        Action::Retry => {
            let delay = ctx.shared.config.retry_delay;
            let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
            if meta.remaining_ms().is_some_and(|left| left <= delay_ms) {
                tracing::debug!(queue = %ctx.queue, "the caller gives up before a retry; dropped");
                return ack(delivery).await;
            }
            tracing::warn!(queue = %ctx.queue, attempt = meta.attempt, "handler failed; retrying");
            match republish(ctx, delivery, meta, None).await {
                Ok(()) => ack(delivery).await,
                Err(e) => requeue(ctx, delivery, &e).await,
            }
        }
        Action::Dead(err) => {
            tracing::warn!(queue = %ctx.queue, attempt = meta.attempt, error = %err, "message dead-lettered");
            match republish(ctx, delivery, meta, Some(&err)).await {
                Ok(()) => {
                    if meta.is_request() {
                        send_reply(ctx, delivery, meta, &Err(err)).await;
                    }
                    ack(delivery).await;
                }
                Err(e) => requeue(ctx, delivery, &e).await,
            }
        }
    }
}

/// Publish a copy to `<queue>.retry` (`dead: None`) or to `<queue>.dead`,
/// confirmed, before the original is acked: a message is never lost.
async fn republish(
    ctx: &Ctx,
    delivery: &Delivery,
    meta: &Meta,
    dead: Option<&HandlerError>,
) -> Result<(), BusError> {
    let link = ctx.shared.link()?;
    let props = &delivery.properties;
    let (exchange, queue, properties) = match dead {
        None => {
            let next = AMQPValue::LongLongInt(i64::from(meta.attempt) + 1);
            let headers = headers_with(props, &[(ATTEMPT_HEADER, next)], &[]);
            (
                "",
                retry_queue(&ctx.queue),
                republished(props, headers, true),
            )
        }
        Some(err) => {
            let why = text(&err.to_string());
            let headers = headers_with(props, &[(ERROR_HEADER, why)], &[DEADLINE_HEADER]);
            let properties = republished(props, headers, false);
            (DEAD_LETTER_EXCHANGE, dead_queue(&ctx.queue), properties)
        }
    };
    let out = Outgoing {
        exchange,
        routing_key: short(&queue)?,
        mandatory: true,
        body: &delivery.data,
        properties,
    };
    match confirmed(&ctx.shared, &link, out).await? {
        Routed::Stored => Ok(()),
        Routed::Unroutable => Err(BusError::Unavailable(format!("queue `{queue}` is missing"))),
    }
}

async fn send_reply(ctx: &Ctx, delivery: &Delivery, meta: &Meta, reply: &Reply) {
    let (Some(reply_to), Some(id)) = (&meta.reply_to, &meta.message_id) else {
        return;
    };
    let sent = async {
        let link = ctx.shared.link()?;
        let properties = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_correlation_id(id.clone());
        let body = encode_reply(reply);
        let out = Outgoing {
            exchange: "",
            routing_key: reply_to.clone(),
            mandatory: false,
            body: &body,
            properties,
        };
        confirmed(&ctx.shared, &link, out).await
    };
    if let Err(e) = sent.await {
        // The caller will time out; the request is still settled.
        tracing::warn!(queue = %ctx.queue, redelivered = delivery.redelivered, error = %e, "reply not sent");
    }
}

async fn ack(delivery: &Delivery) {
    if let Err(e) = delivery.acker.ack(BasicAckOptions::default()).await {
        tracing::debug!(error = %e, "ack failed; the message will be redelivered");
    }
}

/// Could not retry or dead-letter (broker trouble): give the message back
/// as is, so it is redelivered; this attempt does not count.
async fn requeue(ctx: &Ctx, delivery: &Delivery, why: &BusError) {
    tracing::warn!(queue = %ctx.queue, error = %why, "could not republish; requeued");
    let requeue = BasicNackOptions {
        requeue: true,
        ..BasicNackOptions::default()
    };
    if let Err(e) = delivery.acker.nack(requeue).await {
        tracing::debug!(error = %e, "nack failed; the message will be redelivered");
    }
}
