#![forbid(unsafe_code)]
//! NexPay message bus.
//!
//! Services talk through the [`Bus`] trait: events go to a topic exchange
//! ([`Bus::publish`] / [`Bus::consume`]) and commands use request/reply on a
//! named queue ([`Bus::request`] / [`Bus::serve`]). Production uses RabbitMQ;
//! the single-process "standalone" binary uses [`InProcessBus`], which keeps
//! RabbitMQ's delivery semantics so that code tested against one behaves the
//! same on the other:
//!
//! * at-least-once delivery with manual ack/nack: a message stays in its queue
//!   until a consumer acks it, and is redelivered (with `redelivered = true`)
//!   when a consumer nacks it, drops it, or goes away;
//! * bounded prefetch per consumer;
//! * dead-lettering after `max_deliveries` failed deliveries into an
//!   inspectable per-queue dead-letter list (never silently dropped);
//! * topic routing with RabbitMQ's pattern rules (see [`topic_matches`]);
//! * one queue per consuming service (each queue gets its own copy of every
//!   matching event) and competing consumers on a queue (replicas share it).
//!
//! Like a RabbitMQ topic exchange, an event published while no queue is bound
//! to its routing key is dropped. Durability against that (and against
//! crashes between a database commit and the publish) is the job of the
//! transactional outbox, which republishes stored rows with their original id
//! ([`Envelope::with_id`]); consumers dedupe on [`Envelope::id`].

mod bus;
mod consumer;
mod envelope;
mod error;
mod inprocess;
mod queue;
mod subscription;
mod topic;

pub use bus::{handler_fn, Bus, Handler};
pub use consumer::{ConsumerHandle, ConsumerOptions, DEFAULT_SHUTDOWN_GRACE};
pub use envelope::{Envelope, SCHEMA_VERSION};
pub use error::{BusError, HandlerError};
pub use inprocess::InProcessBus;
pub use queue::QueueStats;
pub use subscription::{Delivery, Subscription};
pub use topic::topic_matches;
