use async_trait::async_trait;
use nexpay_bus::{Envelope, Handler, HandlerError};
use nexpay_contracts::kinds;

use crate::Payments;

pub(crate) struct CommandHandler {
    pub payments: Payments,
}

#[async_trait]
impl Handler for CommandHandler {
    async fn handle(&self, msg: Envelope) -> Result<serde_json::Value, HandlerError> {
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
            other => return Err(HandlerError::Permanent(format!("unknown command {other}"))),
        };
        value.map_err(|e| HandlerError::Permanent(e.to_string()))
    }
}
