#![forbid(unsafe_code)]
//! Message contracts between services: command names, queues, request and reply bodies,
//! and the events published on the topic exchange. Versioned by `nexpay_bus::SCHEMA_VERSION`;
//! fields are only ever added.

mod commands;
mod events;

pub use commands::*;
pub use events::*;

/// Command queues (request/reply).
pub mod queues {
    pub const PAYMENTS: &str = "payments.commands";
    pub const PROVIDERS: &str = "provider-adapter.commands";
}

/// Command names (`Envelope::kind`).
pub mod kinds {
    pub const CREATE_SESSION: &str = "payments.create_session";
    pub const INITIATE_PAYMENT: &str = "payments.initiate_payment";
    pub const CHECKOUT_SESSION: &str = "payments.checkout_session";
    pub const CREATE_CHECKOUT: &str = "provider.create_checkout";
}
