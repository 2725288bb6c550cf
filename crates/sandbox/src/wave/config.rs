//! Simulator configuration: API keys and their flags, session lifetime, webhook
//! retry policy.

use std::net::IpAddr;
use std::time::Duration as StdDuration;

use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::model::PaymentStatus;

/// APIs an API key may be scoped to (chosen in the Business Portal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiScope {
    /// Checkout sessions.
    Checkout,
    /// Payouts.
    Payout,
    /// Balance and reconciliation.
    Balance,
}

/// One API key known to the simulator, with the flags the real portal offers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiKeyConfig {
    /// The full key, e.g. `wave_sn_prod_…`.
    pub key: String,
    /// Display name of the business wallet the key belongs to. Sessions are only
    /// visible to keys of the same wallet.
    pub business_name: String,
    /// APIs the key may call; a key without `checkout` gets `403 invalid-wallet`.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<ApiScope>,
    /// Request-signing secret (`wave_sn_AKS_…`). When set, every request must carry
    /// a valid `Wave-Signature` header.
    #[serde(default)]
    pub signing_secret: Option<String>,
    /// Revoked keys are answered with `401 api-key-revoked`.
    #[serde(default)]
    pub revoked: bool,
    /// Wallet temporarily disabled: `403 disabled-wallet`.
    #[serde(default)]
    pub wallet_disabled: bool,
    /// IP allow-list; empty means any source address.
    #[serde(default)]
    pub allowed_ips: Vec<IpAddr>,
}

fn default_scopes() -> Vec<ApiScope> {
    vec![ApiScope::Checkout]
}

impl ApiKeyConfig {
    /// A live key scoped to the Checkout API, without request signing.
    pub fn new(key: impl Into<String>, business_name: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            business_name: business_name.into(),
            scopes: default_scopes(),
            signing_secret: None,
            revoked: false,
            wallet_disabled: false,
            allowed_ips: Vec::new(),
        }
    }

    /// Requires signed requests with `secret`.
    pub fn with_signing_secret(mut self, secret: impl Into<String>) -> Self {
        self.signing_secret = Some(secret.into());
        self
    }

    /// Replaces the scopes.
    pub fn with_scopes(mut self, scopes: Vec<ApiScope>) -> Self {
        self.scopes = scopes;
        self
    }

    /// Marks the key as revoked.
    pub fn revoked(mut self) -> Self {
        self.revoked = true;
        self
    }

    /// Marks the wallet as disabled.
    pub fn wallet_disabled(mut self) -> Self {
        self.wallet_disabled = true;
        self
    }
}

/// Behaviour knobs of the simulator. Defaults follow the provider notes.
#[derive(Debug, Clone)]
pub struct WaveSimConfig {
    /// Registered API keys.
    pub api_keys: Vec<ApiKeyConfig>,
    /// `when_expires - when_created` (the official example shows 24 h).
    pub session_ttl: Duration,
    /// Base of `wave_launch_url` (the payer page is `<base>/c/<id>`). `None`
    /// derives it from the create request (scheme, host and mount prefix), so
    /// the link opens this simulator's payer page.
    pub launch_base_url: Option<String>,
    /// Accepted clock skew of request signatures, in seconds.
    pub request_signature_tolerance_secs: i64,
    /// `payment_status` after a failed attempt (`cancelled` or `processing`).
    pub failed_attempt_payment_status: PaymentStatus,
    /// Accepted currencies.
    pub currencies: Vec<String>,
    /// Webhook delivery attempts per endpoint and event (first try included).
    pub webhook_max_attempts: u32,
    /// Delay before the first retry; doubled after each failure.
    pub webhook_initial_backoff: StdDuration,
    /// Upper bound of the retry delay.
    pub webhook_max_backoff: StdDuration,
    /// A receiver slower than this counts as a failure (Wave: 5 s).
    pub webhook_timeout: StdDuration,
    /// Accepts `http` success / error URLs. Wave refuses them; test mode of an instance
    /// that has no https URL at all (a developer's machine) turns this on.
    pub allow_http_redirect_urls: bool,
}

impl Default for WaveSimConfig {
    fn default() -> Self {
        Self {
            api_keys: Vec::new(),
            session_ttl: Duration::hours(24),
            launch_base_url: None,
            request_signature_tolerance_secs: 300,
            failed_attempt_payment_status: PaymentStatus::Cancelled,
            currencies: vec!["XOF".into(), "GMD".into(), "UGX".into()],
            webhook_max_attempts: 8,
            webhook_initial_backoff: StdDuration::from_secs(1),
            webhook_max_backoff: StdDuration::from_secs(300),
            webhook_timeout: StdDuration::from_secs(5),
            allow_http_redirect_urls: false,
        }
    }
}
