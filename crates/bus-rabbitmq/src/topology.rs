//! Idempotent declaration of exchanges and per-queue topology.
//!
//! Declarations run on short-lived channels of their own: a failed
//! declaration closes its channel (AMQP channel error) without disturbing
//! the publisher or the consumers.

use std::time::Duration;

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::protocol::AMQPSoftError;
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, Connection, ExchangeKind};
use nexpay_bus::BusError;

use crate::config::{
    dead_queue, retry_queue, COMMANDS_EXCHANGE, DEAD_LETTER_EXCHANGE, EVENTS_EXCHANGE,
};
use crate::wire::{short, soft_error, text, unavailable};

/// What a consumed queue is for.
#[derive(Clone, Debug)]
pub(crate) enum Role {
    /// Events: bound to `nexpay.events` with these topic patterns.
    Events(Vec<String>),
    /// Commands: bound to `nexpay.commands` with its own name.
    Commands,
}

pub(crate) async fn open(conn: &Connection) -> Result<Channel, BusError> {
    conn.create_channel()
        .await
        .map_err(|e| unavailable("opening a channel", &e))
}

async fn close(channel: Channel) {
    if channel.status().connected() {
        let _ = channel.close(200, "OK".into()).await;
    }
}

/// `nexpay.events` (topic), `nexpay.commands` and `nexpay.dlx` (direct),
/// all durable.
pub(crate) async fn declare_exchanges(conn: &Connection) -> Result<(), BusError> {
    let channel = open(conn).await?;
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    for (name, kind) in [
        (EVENTS_EXCHANGE, ExchangeKind::Topic),
        (COMMANDS_EXCHANGE, ExchangeKind::Direct),
        (DEAD_LETTER_EXCHANGE, ExchangeKind::Direct),
    ] {
        channel
            .exchange_declare(name.into(), kind, durable, FieldTable::default())
            .await
            .map_err(|e| unavailable(&format!("declaring exchange `{name}`"), &e))?;
    }
    close(channel).await;
    Ok(())
}

/// Declare `queue`, `<queue>.dead` and `<queue>.retry` with their bindings.
///
/// * `queue`: durable. An event queue also gets `x-dead-letter-exchange` =
///   `nexpay.dlx` and `x-dead-letter-routing-key` = `<queue>.dead`, so that
///   whatever RabbitMQ itself dead-letters (a reject without requeue, a
///   length limit set by policy) lands in `.dead` too. A command queue does
///   not: requests carry a per-message TTL (the caller's deadline), and an
///   expired request must be discarded, not kept as a dead letter.
/// * `<queue>.dead`: durable, bound to `nexpay.dlx` with its own name.
/// * `<queue>.retry`: durable, `x-message-ttl` = `retry_delay`, dead-lettering
///   back to `queue` through the default exchange when the TTL runs out.
pub(crate) async fn declare_queue(
    conn: &Connection,
    queue: &str,
    role: &Role,
    retry_delay: Duration,
) -> Result<(), BusError> {
    let (name, dead, retry) = (
        short(queue)?,
        short(&dead_queue(queue))?,
        short(&retry_queue(queue))?,
    );
    let channel = open(conn).await?;
    let durable = QueueDeclareOptions::durable();
    let fail = |what: &str, e: lapin::Error| unavailable(&format!("{what} `{queue}`"), &e);

    let mut main_args = FieldTable::default();
    if matches!(role, Role::Events(_)) {
        main_args.insert("x-dead-letter-exchange".into(), text(DEAD_LETTER_EXCHANGE));
        main_args.insert("x-dead-letter-routing-key".into(), text(dead.as_str()));
    }
    channel
        .queue_declare(name.clone(), durable, main_args)
        .await
        .map_err(|e| fail("declaring queue", e))?;
    let none = FieldTable::default();
    channel
        .queue_declare(dead.clone(), durable, none.clone())
        .await
        .map_err(|e| fail("declaring the dead-letter queue of", e))?;
    channel
        .queue_bind(
            dead.clone(),
            DEAD_LETTER_EXCHANGE.into(),
            dead,
            QueueBindOptions::default(),
            none.clone(),
        )
        .await
        .map_err(|e| fail("binding the dead-letter queue of", e))?;
    match role {
        Role::Commands => {
            channel
                .queue_bind(
                    name.clone(),
                    COMMANDS_EXCHANGE.into(),
                    name.clone(),
                    QueueBindOptions::default(),
                    none.clone(),
                )
                .await
                .map_err(|e| fail("binding command queue", e))?;
        }
        Role::Events(patterns) => {
            for pattern in patterns {
                channel
                    .queue_bind(
                        name.clone(),
                        EVENTS_EXCHANGE.into(),
                        short(pattern)?,
                        QueueBindOptions::default(),
                        none.clone(),
                    )
                    .await
                    .map_err(|e| fail("binding event queue", e))?;
            }
        }
    }
    close(channel).await;
    declare_retry_queue(conn, queue, retry, retry_delay).await
}

async fn declare_retry_queue(
    conn: &Connection,
    queue: &str,
    retry: ShortString,
    delay: Duration,
) -> Result<(), BusError> {
    let ttl = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
    let mut args = FieldTable::default();
    args.insert("x-message-ttl".into(), AMQPValue::LongLongInt(ttl));
    args.insert("x-dead-letter-exchange".into(), text(""));
    args.insert("x-dead-letter-routing-key".into(), text(queue));
    let channel = open(conn).await?;
    let declared = channel
        .queue_declare(retry.clone(), QueueDeclareOptions::durable(), args)
        .await;
    match declared {
        Ok(_) => {
            close(channel).await;
            Ok(())
        }
        Err(e) if soft_error(&e) == Some(AMQPSoftError::PRECONDITIONFAILED) => {
            // Declared earlier with another TTL: use it as it is.
            tracing::warn!(
                queue = %retry,
                configured_ms = ttl,
                "retry queue exists with different arguments; keeping its delay"
            );
            let channel = open(conn).await?;
            let passive = QueueDeclareOptions::durable().passive();
            channel
                .queue_declare(retry, passive, FieldTable::default())
                .await
                .map_err(|e| unavailable(&format!("checking the retry queue of `{queue}`"), &e))?;
            close(channel).await;
            Ok(())
        }
        Err(e) => Err(unavailable(
            &format!("declaring the retry queue of `{queue}`"),
            &e,
        )),
    }
}

/// Messages ready in `queue`; 0 if it does not exist.
pub(crate) async fn ready_count(conn: &Connection, queue: &str) -> Result<u64, BusError> {
    let channel = open(conn).await?;
    let passive = QueueDeclareOptions::durable().passive();
    match channel
        .queue_declare(short(queue)?, passive, FieldTable::default())
        .await
    {
        Ok(q) => {
            close(channel).await;
            Ok(u64::from(q.message_count()))
        }
        Err(e) if soft_error(&e) == Some(AMQPSoftError::NOTFOUND) => Ok(0),
        Err(e) => Err(unavailable(&format!("inspecting queue `{queue}`"), &e)),
    }
}
