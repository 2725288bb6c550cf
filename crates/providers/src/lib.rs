#![forbid(unsafe_code)]
//! Connectors to payment providers behind one trait, so `provider-adapter` never depends
//! on a concrete provider and tests can point every connector at a simulator.

mod qr;
mod sandbox;

use async_trait::async_trait;
use nexpay_contracts::{CheckoutCreated, CreateCheckout};
use nexpay_domain::Currency;

pub use qr::qr_png_base64;
pub use sandbox::SandboxConnector;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConnectorError {
    /// The provider refused the request (bad credentials, invalid amount...): retrying
    /// the same request will not help.
    #[error("{provider} rejected the request: {code}: {message}")]
    Rejected {
        provider: String,
        code: String,
        message: String,
    },
    /// The provider could not be reached or failed (5xx, 429 after retries).
    #[error("{provider} is unavailable: {message}")]
    Unavailable { provider: String, message: String },
}

#[async_trait]
pub trait Connector: Send + Sync + 'static {
    /// `wave`, `om`.
    fn code(&self) -> &'static str;
    fn supports_currency(&self, currency: Currency) -> bool;
    /// Opens a checkout at the provider. Must be idempotent on
    /// `req.attempt_id`: a retry after a timeout must not create a second payable checkout.
    async fn create_checkout(
        &self,
        req: &CreateCheckout,
    ) -> Result<CheckoutCreated, ConnectorError>;
}
