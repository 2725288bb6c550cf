//! The caller's side of request/reply.

use std::time::Duration;

use lapin::types::{AMQPValue, FieldTable};
use nexpay_bus::{BusError, Envelope};
use tokio::sync::oneshot;

use crate::config::{deadline_after, ATTEMPT_HEADER, COMMANDS_EXCHANGE, DEADLINE_HEADER};
use crate::link::Shared;
use crate::publish::{confirmed, Outgoing, Routed};
use crate::wire::{encode, now_ms, properties, short};

/// Removes the waiter however the request ends (reply, timeout, error or
/// the caller's future being dropped).
struct Registration<'a> {
    shared: &'a Shared,
    id: &'a str,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.shared.forget_reply(self.id);
    }
}

/// Send `msg` to `queue` through `nexpay.commands` and wait for the reply.
///
/// The message expires (AMQP `expiration`) at the deadline and carries the
/// deadline in a header, so a server neither picks it up nor works on it
/// once nobody waits. Unroutable (no such queue) → [`BusError::NoHandler`].
pub(crate) async fn request(
    shared: &Shared,
    queue: &str,
    msg: Envelope,
    timeout: Duration,
) -> Result<serde_json::Value, BusError> {
    let deadline = deadline_after(timeout);
    let link = shared.link()?;
    let routing_key = short(queue)?;
    let body = encode(&msg)?;
    let timeout_ms = i64::try_from(timeout.as_millis())
        .unwrap_or(i64::MAX)
        .max(1);
    let mut headers = FieldTable::default();
    headers.insert(ATTEMPT_HEADER.into(), AMQPValue::LongLongInt(1));
    headers.insert(
        DEADLINE_HEADER.into(),
        AMQPValue::LongLongInt(now_ms().saturating_add(timeout_ms)),
    );
    let props = properties(&msg)?
        .with_headers(headers)
        .with_reply_to(link.reply_queue.clone())
        .with_expiration(short(&timeout_ms.to_string())?);

    let (tx, rx) = oneshot::channel();
    if !shared.expect_reply(&msg.id, link.generation, tx) {
        return Err(BusError::Codec(format!(
            "a request with id `{}` is already in flight",
            msg.id
        )));
    }
    let _registration = Registration {
        shared,
        id: &msg.id,
    };
    let out = Outgoing {
        exchange: COMMANDS_EXCHANGE,
        routing_key,
        mandatory: true,
        body: &body,
        properties: props,
    };
    let exchange = async {
        match confirmed(shared, &link, out).await? {
            Routed::Stored => {}
            Routed::Unroutable => return Err(BusError::NoHandler(queue.to_owned())),
        }
        match rx.await {
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err(err))) => Err(BusError::Handler(err)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(BusError::Unavailable("reply channel dropped".to_owned())),
        }
    };
    match tokio::time::timeout_at(deadline, exchange).await {
        Ok(result) => result,
        Err(_) => Err(BusError::Timeout),
    }
}
