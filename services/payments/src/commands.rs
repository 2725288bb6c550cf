use async_trait::async_trait;
use nexpay_bus::{Envelope, Handler, HandlerError};
use nexpay_contracts::kinds;

use crate::Payments;

pub(crate) struct CommandHandler {
    pub payments: Payments,
}

#[async_trait]
impl Handler for CommandHandler {
    async fn handle(&self, mut msg: Envelope) -> Result<serde_json::Value, HandlerError> {
        dedupe_by_message_id(&mut msg);
        let decode_err = |e: nexpay_bus::BusError| {
            HandlerError::Permanent(format!("bad {} message: {e}", msg.kind))
        };
        let p = &self.payments;
        let value = match msg.kind.as_str() {
            kinds::CREATE_SESSION => serde_json::to_value(
                p.create_session(msg.decode().map_err(decode_err)?, &msg.correlation_id)
                    .await?,
            ),
            kinds::INITIATE_PAYMENT => serde_json::to_value(
                p.initiate_payment(msg.decode().map_err(decode_err)?, &msg.correlation_id)
                    .await?,
            ),
            kinds::CHECKOUT_SESSION => serde_json::to_value(
                p.checkout_session(msg.decode().map_err(decode_err)?, &msg.correlation_id)
                    .await?,
            ),
            kinds::CANCEL_SESSION => serde_json::to_value(
                p.cancel_session(msg.decode().map_err(decode_err)?, &msg.correlation_id)
                    .await?,
            ),
            kinds::PROVIDER_UPDATE => serde_json::to_value(
                p.apply_provider_update(msg.decode().map_err(decode_err)?, &msg.correlation_id)
                    .await?,
            ),
            other => return Err(HandlerError::Permanent(format!("unknown command {other}"))),
        };
        value.map_err(|e| HandlerError::Permanent(e.to_string()))
    }
}

/// A command without the merchant's `Idempotency-Key` is keyed by its message id, so a
/// redelivery (the replica that handled it died after committing, before acking) finds
/// what the first delivery created instead of creating it again. Each HTTP request
/// sends a fresh message id, so distinct requests stay distinct.
fn dedupe_by_message_id(msg: &mut Envelope) {
    let id = format!("msg:{}", msg.id);
    if let Some(caller) = msg
        .payload
        .get_mut("caller")
        .and_then(|c| c.as_object_mut())
    {
        let missing = caller
            .get("request_key")
            .is_none_or(serde_json::Value::is_null);
        if missing {
            caller.insert("request_key".into(), serde_json::Value::String(id));
        }
    }
}
