//! Queue inspection without the management plugin: depths from passive
//! declarations, dead letters by `basic.get` and requeue.

use lapin::options::{BasicGetOptions, QueueDeclareOptions};
use lapin::protocol::AMQPSoftError;
use lapin::types::FieldTable;
use nexpay_bus::{BusError, Envelope};

use crate::config::{dead_queue, retry_queue};
use crate::link::Shared;
use crate::topology::{open, ready_count};
use crate::wire::{decode, short, soft_error, unavailable};

/// Messages waiting in `queue` plus those waiting in `<queue>.retry` for
/// their redelivery. Unacked deliveries are not included: AMQP reports only
/// ready messages (the management API would be needed for unacked ones).
pub(crate) async fn queue_depth(shared: &Shared, queue: &str) -> Result<u64, BusError> {
    let link = shared.link()?;
    let main = ready_count(&link.conn, queue).await?;
    let retry = ready_count(&link.conn, &retry_queue(queue)).await?;
    Ok(main + retry)
}

/// The messages in `<queue>.dead`, oldest first, at most
/// `dead_letter_peek_limit`. They are fetched with `basic.get` (no ack) and
/// given back when the channel closes, so they stay in the queue; meanwhile
/// another reader of `.dead` does not see them.
pub(crate) async fn dead_letters(shared: &Shared, queue: &str) -> Result<Vec<Envelope>, BusError> {
    let link = shared.link()?;
    let dead = short(&dead_queue(queue))?;
    let channel = open(&link.conn).await?;
    let passive = QueueDeclareOptions::durable().passive();
    match channel
        .queue_declare(dead.clone(), passive, FieldTable::default())
        .await
    {
        Ok(_) => {}
        Err(e) if soft_error(&e) == Some(AMQPSoftError::NOTFOUND) => return Ok(Vec::new()),
        Err(e) => return Err(unavailable(&format!("inspecting `{dead}`"), &e)),
    }
    let mut letters = Vec::new();
    let mut failure = None;
    while letters.len() < shared.config.dead_letter_peek_limit {
        match channel
            .basic_get(dead.clone(), BasicGetOptions::default())
            .await
        {
            Ok(Some(msg)) => match decode(&msg.delivery.data) {
                Ok(env) => letters.push(env),
                Err(why) => tracing::warn!(queue = %dead, %why, "skipping undecodable dead letter"),
            },
            Ok(None) => break,
            Err(e) => {
                failure = Some(unavailable(&format!("reading `{dead}`"), &e));
                break;
            }
        }
    }
    // Closing the channel requeues everything fetched, in place.
    if channel.status().connected() {
        let _ = channel.close(200, "OK".into()).await;
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(letters),
    }
}
