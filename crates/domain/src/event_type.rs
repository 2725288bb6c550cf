//! Types of the events delivered to merchant webhooks.

use crate::status::PaymentStatus;

wire_enum! {
    /// Merchant-facing event type; one per payment status so that a webhook
    /// consumer can switch on the type alone.
    EventType, InvalidEventType {
        PaymentPending => "payment.pending",
        PaymentSucceeded => "payment.succeeded",
        PaymentFailed => "payment.failed",
        PaymentCancelled => "payment.cancelled",
        PaymentExpired => "payment.expired",
    }
}

impl EventType {
    pub fn for_payment_status(status: PaymentStatus) -> EventType {
        match status {
            PaymentStatus::Pending => EventType::PaymentPending,
            PaymentStatus::Succeeded => EventType::PaymentSucceeded,
            PaymentStatus::Failed => EventType::PaymentFailed,
            PaymentStatus::Cancelled => EventType::PaymentCancelled,
            PaymentStatus::Expired => EventType::PaymentExpired,
        }
    }
}
