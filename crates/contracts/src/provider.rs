//! Messages about what providers report: status checks and the updates provider-adapter
//! hands to payments after a webhook or a reconciliation check.

use serde::{Deserialize, Serialize};

/// Where a checkout stands at the provider, in NexPay's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ProviderState {
    /// Open: the payer has not paid yet (also after a failed try the payer may retry,
    /// like Wave's `payment_failed`, or Orange's PENDING / INITIATED).
    Pending,
    Succeeded,
    Failed {
        code: String,
        message: String,
    },
    Expired,
    Cancelled,
}

/// The provider's answer to a status check, with the money it reports, so the caller
/// can compare amount and currency before accepting a success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderStatus {
    pub state: ProviderState,
    /// The provider's id of the checkout (Wave `cos-…`, Orange `qrId`).
    pub provider_id: String,
    /// The provider's transaction id once money moved (Wave `T…`, Orange `MP…`).
    pub transaction_id: Option<String>,
    /// Amount in minor units as the provider reports it (floats parsed exactly).
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
    /// Payer's phone number as reported, E.164 when the provider gives one.
    pub payer: Option<String>,
    pub completed_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// payments → provider-adapter: ask the provider where an attempt stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FetchStatus {
    pub provider_code: String,
    pub mode: String,
    pub provider_id: Option<String>,
    pub provider_reference: String,
}

/// payments → provider-adapter: close an open checkout at the provider (Wave expire).
/// Answered `Rejected` with `provider_unsupported` where the provider cannot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpireCheckout {
    pub provider_code: String,
    pub mode: String,
    pub provider_id: String,
}

/// provider-adapter → payments: the provider's status of an attempt, confirmed with
/// the provider's status API (never a webhook body alone).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderUpdate {
    pub provider_code: String,
    pub mode: String,
    /// Our reference as the provider knows it (the attempt's provider reference).
    pub provider_reference: String,
    pub status: ProviderStatus,
    /// `webhook` or `reconciliation`.
    pub source: String,
    /// The stored inbound webhook that triggered this update.
    pub webhook_id: Option<String>,
    /// What the webhook body claimed, when it disagrees with the status API (a forged or
    /// tampered body): recorded for an admin, never acted upon.
    pub webhook_claim: Option<WebhookClaim>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookClaim {
    pub state: ProviderState,
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
}

/// What payments did with a [`ProviderUpdate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderUpdateOutcome {
    /// `applied`, `unchanged`, `flagged`, `unknown_reference`.
    pub outcome: String,
    pub payment_status: Option<String>,
}

/// The credentials of the built-in simulators that test mode uses, whatever the live
/// configuration. They are not secrets: anyone with a test key can pay a test payment
/// on the simulator's payer page anyway, and a webhook they verify can only concern a
/// test-mode attempt, confirmed with the simulator.
pub mod sandbox {
    pub const WAVE_API_KEY: &str = "wave_sn_prod_nexpay_sandbox_test_mode_key";
    pub const WAVE_BUSINESS_NAME: &str = "NexPay Sandbox";
    pub const WAVE_WEBHOOK_SECRET: &str = "wave_sn_WHS_nexpay_sandbox_test_mode_webhook";
    pub const OM_CLIENT_ID: &str = "nexpay-sandbox-client";
    pub const OM_CLIENT_SECRET: &str = "nexpay-sandbox-client-secret";
    pub const OM_MERCHANT_CODE: &str = "555555";
    pub const OM_MERCHANT_NAME: &str = "NexPay Sandbox";
    pub const OM_WEBHOOK_API_KEY: &str = "nexpay-sandbox-om-callback-api-key";
    /// Where the simulators are mounted under the sandbox base URL.
    pub const WAVE_PATH: &str = "/sandbox/wave";
    pub const OM_PATH: &str = "/sandbox/om";
    /// Where provider webhooks arrive (provider-adapter, behind `/api/v1/webhook/*`).
    pub const WAVE_WEBHOOK_PATH: &str = "/api/v1/webhook/wave";
    pub const OM_WEBHOOK_PATH: &str = "/api/v1/webhook/om";
}

/// dashboard → provider-adapter: seal a provider configuration an admin saved. Only
/// provider-adapter holds `ENCRYPTION_KEY`; the dashboard stores the sealed value it
/// gets back. Sealing is not an oracle: nothing on the bus ever opens a configuration.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct SealProviderConfig {
    /// `wave` or `om`: also the associated data of the seal.
    pub code: String,
    /// The configuration document, secrets included.
    pub config: serde_json::Value,
}

impl std::fmt::Debug for SealProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealProviderConfig")
            .field("code", &self.code)
            .field("config", &"<redacted>")
            .finish()
    }
}

/// The reply to [`SealProviderConfig`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedProviderConfig {
    /// `<key id>.<nonce and ciphertext>`, as stored in `providers.sealed_config`.
    pub sealed: String,
}
