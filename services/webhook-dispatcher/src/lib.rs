#![forbid(unsafe_code)]
//! webhook-dispatcher: tells merchants about payment outcomes with signed webhooks.
//!
//! Two halves, joined by the `webhook_deliveries` table:
//!
//! - [`Fanout`] turns each merchant-facing event (`payment.*`, from the service's
//!   durable queue, or straight from the outbox relay in standalone) into one delivery
//!   row per enabled endpoint of the event's project and mode that wants its type. The
//!   message is acknowledged only once the rows are committed; a redelivered event
//!   finds its rows there (unique per endpoint and event) and adds nothing.
//! - [`Dispatcher`] claims due deliveries with a lease (several replicas share the
//!   work; `FOR UPDATE SKIP LOCKED` on PostgreSQL), sends each as a signed `POST` on
//!   its own task, records every attempt, and schedules the next one with backoff. A
//!   slow or dead receiver holds one task, never the others, and nothing here runs on
//!   the path of a payment or a provider webhook.

mod attempt;
mod dispatcher;
mod fanout;
mod resolver;

pub use attempt::{classify, next_attempt, Classified};
pub use dispatcher::{Dispatcher, DispatcherHandle, EndpointSecrets};
pub use fanout::{Fanout, FanoutBus, MERCHANT_EVENTS};

/// The dispatcher's durable queue.
pub const EVENTS_QUEUE: &str = "webhook-dispatcher.events";
/// Every merchant-facing event.
pub const BINDINGS: &[&str] = &["payment.*"];
