//! Lifecycle statuses of sessions, payments and attempts, and the pure state
//! machines that move them (`machine`, re-exported here).
//!
//! Model: a checkout session owns exactly one payment, created with it; a
//! payment has zero or more attempts, one per provider checkout (the customer
//! may switch provider or retry after a failure). A direct API payment is a
//! payment without session, with a single attempt.

mod machine;

pub use machine::{
    attempt_transition, payment_transition, session_transition, AttemptEvent, PaymentEvent,
    SessionEvent, Transition,
};

wire_enum! {
    /// Status of a hosted checkout session, as seen by the checkout page.
    SessionStatus, InvalidStatus {
        /// Waiting for the customer to pick a provider.
        Opened => "opened",
        /// A provider checkout is in progress.
        Pending => "pending",
        Succeeded => "succeeded",
        Failed => "failed",
        Cancelled => "cancelled",
        Expired => "expired",
    }
}

wire_enum! {
    /// Status of a payment. Upper-case on the wire because that is the
    /// merchant API format inherited from the providers' own APIs.
    PaymentStatus, InvalidStatus {
        Pending => "PENDING",
        Succeeded => "SUCCEEDED",
        Failed => "FAILED",
        Cancelled => "CANCELLED",
        Expired => "EXPIRED",
    }
}

wire_enum! {
    /// Status of one provider checkout.
    AttemptStatus, InvalidStatus {
        /// Recorded locally, the provider has not answered yet.
        Created => "created",
        /// The provider accepted the request and waits for the customer.
        Pending => "pending",
        Succeeded => "succeeded",
        Failed => "failed",
        Cancelled => "cancelled",
        Expired => "expired",
    }
}

impl SessionStatus {
    pub fn is_terminal(&self) -> bool {
        !matches!(self, SessionStatus::Opened | SessionStatus::Pending)
    }

    /// The session status implied by its payment. A pending payment shows as
    /// `Pending` only while a provider checkout is running; otherwise the
    /// customer is back at the provider choice, i.e. `Opened`.
    pub fn from_payment(payment: PaymentStatus, has_active_attempt: bool) -> SessionStatus {
        match payment {
            PaymentStatus::Pending if has_active_attempt => SessionStatus::Pending,
            PaymentStatus::Pending => SessionStatus::Opened,
            PaymentStatus::Succeeded => SessionStatus::Succeeded,
            PaymentStatus::Failed => SessionStatus::Failed,
            PaymentStatus::Cancelled => SessionStatus::Cancelled,
            PaymentStatus::Expired => SessionStatus::Expired,
        }
    }
}

impl PaymentStatus {
    pub fn is_terminal(&self) -> bool {
        !matches!(self, PaymentStatus::Pending)
    }
}

impl AttemptStatus {
    pub fn is_terminal(&self) -> bool {
        !matches!(self, AttemptStatus::Created | AttemptStatus::Pending)
    }
}
