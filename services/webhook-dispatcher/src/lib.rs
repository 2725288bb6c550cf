#![forbid(unsafe_code)]
//! webhook-dispatcher: tells merchants about payment outcomes with signed webhooks.
//!
//! What exists today: the service's durable event queue, bound to every merchant-facing
//! event, so that nothing the payments outbox relay publishes is dropped while no
//! dispatcher consumes (a topic exchange drops what no queue is bound to). Delivery to
//! merchant endpoints, retries with backoff and the delivery log are not built yet;
//! until they are, events wait durably in this queue and its depth shows on `/metrics`.

/// The dispatcher's durable queue.
pub const EVENTS_QUEUE: &str = "webhook-dispatcher.events";
/// Every merchant-facing event.
pub const BINDINGS: &[&str] = &["payment.*", "session.*"];
