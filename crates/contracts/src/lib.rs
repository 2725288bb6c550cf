#![forbid(unsafe_code)]
//! Message contracts between services: command names, queues, request and reply bodies,
//! and the events published on the topic exchange. Versioned by `nexpay_bus::SCHEMA_VERSION`;
//! fields are only ever added.

mod commands;
mod events;
mod provider;

pub use commands::*;
pub use events::*;
pub use provider::*;

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
    pub const CANCEL_SESSION: &str = "payments.cancel_session";
    pub const PROVIDER_UPDATE: &str = "payments.provider_update";
    pub const CREATE_CHECKOUT: &str = "provider.create_checkout";
    pub const FETCH_STATUS: &str = "provider.fetch_status";
    pub const EXPIRE_CHECKOUT: &str = "provider.expire_checkout";
    pub const SEAL_PROVIDER_CONFIG: &str = "provider.seal_config";
}
