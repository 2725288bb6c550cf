#![forbid(unsafe_code)]
//! Connectors to payment providers behind one trait, so `provider-adapter` never depends
//! on a concrete provider and tests can point every connector at a simulator.

pub mod orange_money;
mod qr;
pub mod wave;

use async_trait::async_trait;
use nexpay_contracts::{CheckoutCreated, CreateCheckout};
pub use nexpay_contracts::{ProviderState, ProviderStatus};
use nexpay_domain::Currency;

pub use orange_money::{
    CachedToken, InMemoryTokenCache, OrangeMoneyConfig, OrangeMoneyConnector, TokenCache,
};
pub use qr::qr_png_base64;
pub use wave::{WaveConfig, WaveConnector, WaveRetryPolicy, WaveWebhookAuth};

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
    /// The provider has no such operation (e.g. Orange Money cannot expire a QR code).
    #[error("{provider} does not support {operation}")]
    Unsupported {
        provider: String,
        operation: &'static str,
    },
}

/// An inbound provider webhook, verified and parsed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WebhookEvent {
    /// The provider's id of this notification, for deduplication (Wave event id,
    /// Orange `X-Sonatel-Idempotency-Key` or transaction id).
    pub event_id: String,
    /// The provider's event type (e.g. `checkout.session.completed`).
    pub kind: String,
    pub provider_id: Option<String>,
    /// Our reference as the provider echoes it (Wave `client_reference`, Orange
    /// `reference`).
    pub reference: Option<String>,
    /// What the webhook claims; never acted on before a status check confirms it.
    pub claimed: ProviderState,
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
}

/// Why an inbound webhook was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// Missing or wrong credentials / signature, or a timestamp outside the tolerance.
    #[error("unverified: {0}")]
    Unverified(String),
    /// Verified but not understood.
    #[error("malformed: {0}")]
    Malformed(String),
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

    /// Asks the provider where the checkout stands (`provider_id` from
    /// [`Connector::create_checkout`], `reference` = our provider reference, for
    /// providers that search by it).
    async fn fetch_status(
        &self,
        provider_id: &str,
        reference: &str,
    ) -> Result<ProviderStatus, ConnectorError> {
        let _ = (provider_id, reference);
        Err(self.unsupported("status checks"))
    }

    /// Closes an open checkout so it can no longer be paid, where the provider allows.
    async fn expire(&self, provider_id: &str) -> Result<(), ConnectorError> {
        let _ = provider_id;
        Err(self.unsupported("expiring a checkout"))
    }

    /// Refunds a succeeded checkout in full, where the provider allows.
    async fn refund(&self, provider_id: &str) -> Result<(), ConnectorError> {
        let _ = provider_id;
        Err(self.unsupported("refunds"))
    }

    /// Verifies an inbound webhook on its raw bytes (`headers` with lower-case names)
    /// and parses it. `now` is injected for timestamp tolerance checks.
    fn verify_webhook(
        &self,
        headers: &[(String, String)],
        body: &[u8],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<WebhookEvent, WebhookError> {
        let _ = (headers, body, now);
        Err(WebhookError::Unverified(format!(
            "{} webhooks are not supported",
            self.code()
        )))
    }

    fn unsupported(&self, operation: &'static str) -> ConnectorError {
        ConnectorError::Unsupported {
            provider: self.code().to_owned(),
            operation,
        }
    }
}
