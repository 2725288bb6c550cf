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
///
/// Requests are transient (not written to the broker's disk) and the reply is
/// awaited while the publisher confirm is still on its way: a request lives
/// only as long as its caller waits, so a broker crash may lose it, and the
/// caller then sees a timeout it retries (with the same `Idempotency-Key` for a
/// merchant). Durability is for events, which stay persistent and confirmed.
/// A server that dies while handling a request does not lose it: the broker
/// requeues unacked deliveries, transient or not.
/// AMQP delivery mode of a message the broker keeps in memory only.
const TRANSIENT: u8 = 1;

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
        .with_delivery_mode(TRANSIENT)
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
        let confirm = confirmed(shared, &link, out);
        tokio::pin!(confirm);
        let mut rx = rx;
        let mut stored = false;
        let reply = loop {
            tokio::select! {
                routed = &mut confirm, if !stored => match routed? {
                    Routed::Stored => stored = true,
                    Routed::Unroutable => return Err(BusError::NoHandler(queue.to_owned())),
                },
                reply = &mut rx => break reply,
            }
        };
        match reply {
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
