//! Publishing with publisher confirms.

use lapin::options::BasicPublishOptions;
use lapin::types::ShortString;
use lapin::{BasicProperties, Confirmation};
use nexpay_bus::BusError;

use crate::link::{Link, Shared};
use crate::wire::unavailable;

/// Where a confirmed publish went.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Routed {
    /// Confirmed; routed to at least one queue, or not mandatory.
    Stored,
    /// Confirmed, but a mandatory publish matched no queue (basic.return).
    Unroutable,
}

/// One message to publish.
pub(crate) struct Outgoing<'a> {
    pub exchange: &'a str,
    pub routing_key: ShortString,
    pub mandatory: bool,
    pub body: &'a [u8],
    pub properties: BasicProperties,
}

/// Publish on the link's confirm-mode channel and wait for the broker's
/// confirm (at most `confirm_timeout`). A nack, a timeout or a broken
/// connection is [`BusError::Unavailable`].
pub(crate) async fn confirmed(
    shared: &Shared,
    link: &Link,
    msg: Outgoing<'_>,
) -> Result<Routed, BusError> {
    let what = format!("publishing to `{}`/`{}`", msg.exchange, msg.routing_key);
    let options = BasicPublishOptions {
        mandatory: msg.mandatory,
        ..BasicPublishOptions::default()
    };
    let confirm = async {
        link.publisher
            .basic_publish(
                msg.exchange.into(),
                msg.routing_key,
                options,
                msg.body,
                msg.properties,
            )
            .await?
            .await
    };
    match tokio::time::timeout(shared.config.confirm_timeout, confirm).await {
        Err(_) => Err(BusError::Unavailable(format!("{what}: no confirm in time"))),
        Ok(Err(e)) => Err(unavailable(&what, &e)),
        Ok(Ok(Confirmation::Ack(None) | Confirmation::NotRequested)) => Ok(Routed::Stored),
        Ok(Ok(Confirmation::Ack(Some(_)))) => Ok(Routed::Unroutable),
        Ok(Ok(Confirmation::Nack(_))) => Err(BusError::Unavailable(format!(
            "{what}: nacked by the broker"
        ))),
    }
}
