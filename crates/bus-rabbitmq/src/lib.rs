#![forbid(unsafe_code)]
// `BusError` is nexpay-bus's error type, returned by every `Bus` method; its
// size comes from `HandlerError::Rejected`. Boxing it internally buys nothing.
#![allow(clippy::result_large_err)]
//! RabbitMQ adapter of the NexPay bus ([`nexpay_bus::Bus`]) on lapin, for
//! stock RabbitMQ 3.10+ without plugins. It keeps the semantics of
//! [`nexpay_bus::InProcessBus`]; the differences are listed below.
//!
//! # Topology (declared idempotently, again after every reconnection)
//!
//! * `nexpay.events`: durable topic exchange; events are published with
//!   routing key = `kind`, not mandatory (an event no queue is bound to is
//!   dropped, as documented on [`nexpay_bus::Bus::publish`]).
//! * `nexpay.commands`: durable direct exchange; requests are published
//!   mandatory with routing key = queue name, so a request to a queue
//!   nobody declared fails fast with [`nexpay_bus::BusError::NoHandler`].
//! * `nexpay.dlx`: durable direct dead-letter exchange.
//! * per consumed queue `q`: durable `q` (bound to `nexpay.events` with the
//!   consumer's patterns, or to `nexpay.commands` with key `q`); durable
//!   `q.dead` bound to `nexpay.dlx` with key `q.dead`; durable `q.retry` with
//!   `x-message-ttl` = [`RabbitConfig::retry_delay`] that dead-letters back to
//!   `q` through the default exchange. Event queues also carry
//!   `x-dead-letter-exchange` = `nexpay.dlx`, `x-dead-letter-routing-key` =
//!   `q.dead`; command queues do not, because an expired request (AMQP
//!   `expiration` = the caller's deadline) must be discarded, not kept.
//!
//! # Messages
//!
//! Persistent (delivery mode 2), `content_type` `application/json`,
//! `message_id` = envelope id, `correlation_id` = envelope correlation id,
//! `type` = kind, `timestamp`; the body is the envelope's JSON. Publisher
//! confirms are on: `publish` returns once the broker confirmed; a nack, no
//! confirm within [`RabbitConfig::confirm_timeout`] or no connection is
//! [`nexpay_bus::BusError::Unavailable`] (the outbox keeps the event).
//!
//! # Consumers
//!
//! Each consumer has its own channel with `basic.qos(prefetch)`, manual
//! acks and at most `concurrency` handlers at once (panics are caught and
//! count as `Retryable`). Classic queues do not count deliveries, so the
//! adapter carries the attempt in the `x-nexpay-attempt` header: a
//! `Retryable` failure is republished (confirmed) to `q.retry` with the
//! attempt incremented and then acked; at `max_deliveries` attempts, and at
//! once for `Permanent` (and `Rejected` on an event), the message is
//! republished to `q.dead` with an `x-nexpay-error` header and acked. For a
//! request the final error (or `Rejected`) is the reply. If the republish
//! fails, the delivery is nacked with requeue instead: never dropped.
//!
//! # Request/reply
//!
//! Replies go to an exclusive, auto-delete, server-named reply queue per
//! connection, correlated by the request's message id, and carry the JSON
//! of `Result<Value, HandlerError>`. A request carries its deadline as
//! `expiration` and as the `x-nexpay-deadline` header (ms since the epoch;
//! servers and callers are assumed to have synchronised clocks): a server
//! discards an expired request, and does not retry one whose caller will
//! have given up before the retry delay is over.
//!
//! # Differences from the in-process bus (limitations)
//!
//! * [`nexpay_bus::Bus::queue_depth`] counts ready messages of `q` and
//!   `q.retry`; unacked deliveries are not visible over AMQP (the
//!   management plugin would be needed).
//! * A delivery requeued because its consumer died (or shut down past the
//!   grace) is not counted as an attempt: a message that crashes the whole
//!   process every time is redelivered forever (quorum queues with a
//!   `delivery-limit` would fix that; they are not used here).
//! * A handler that panicked on a request is retried through `q.retry` on
//!   any server (the in-process bus avoids the panicking server).
//! * [`nexpay_bus::Bus::dead_letters`] reads `q.dead` with `basic.get` and
//!   requeues what it read when done: at most
//!   [`RabbitConfig::dead_letter_peek_limit`] messages, and for the moment
//!   of the read another reader of `q.dead` does not see them.
//! * Replies to requests in flight when the connection drops are lost: the
//!   caller gets [`nexpay_bus::BusError::Unavailable`] at once.

mod bus;
mod config;
mod consumer;
mod inspect;
mod link;
mod publish;
mod rpc;
mod topology;
mod wire;

pub use bus::RabbitBus;
pub use config::{
    dead_queue, retry_queue, RabbitConfig, ATTEMPT_HEADER, COMMANDS_EXCHANGE, DEADLINE_HEADER,
    DEAD_LETTER_EXCHANGE, ERROR_HEADER, EVENTS_EXCHANGE,
};
