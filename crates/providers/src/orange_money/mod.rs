//! Orange Money Sénégal connector (Sonatel eWallet API, QR code / deep-link merchant
//! payment).
//!
//! - OAuth2 client credentials; tokens (299 s at Sonatel) are cached per base URL and
//!   client id behind [`TokenCache`], refreshed with a safety margin, and renewed once
//!   when a business call answers 401.
//! - `Content-Type: application/json` on every business call, `GET` included (the gateway
//!   answers 415 otherwise).
//! - Bounded retries with exponential backoff on 5xx and 429 (`Retry-After` honoured up to
//!   the policy's ceiling), a timeout on every call.
//! - Status checks search `/transactions?reference=` without the `type` filter (which
//!   empties the result in production) and confirm the chosen row with
//!   `/transactions/{id}/status`.
//! - Notifications are authenticated by `Authorization: Basic <apiKey>` and, when Sonatel
//!   issued an endpoint secret, by `X-Sonatel-Signature` (`t + "," + body`).
//!
//! Orange cannot expire a QR code nor refund through this API: those operations answer
//! [`ConnectorError::Unsupported`].

pub mod transformers;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use nexpay_contracts::{CheckoutCreated, CheckoutLink, CreateCheckout};
use nexpay_domain::Currency;
use nexpay_security::Secret;
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode};

use crate::{
    qr_png_base64, Connector, ConnectorError, ProviderState, ProviderStatus, WebhookError,
    WebhookEvent,
};
use transformers::{
    describe_error, is_known_status, map_status, parse_signature_header, signed_message, Amount,
    MerchantCallbackRequest, QrCodeRequest, QrCodeResponse, StatusResponse, TokenResponse,
    Transaction, MAX_METADATA_ENTRIES, MAX_VALIDITY_SECS, MIN_PAYABLE_XOF, UNIT_XOF,
};

const CODE: &str = "om";
const QR_CODE_PATH: &str = "/api/eWallet/v4/qrcode";
const TRANSACTIONS_PATH: &str = "/api/eWallet/v1/transactions";
const MERCHANT_CALLBACK_PATH: &str = "/api/notification/v1/merchantcallback";
/// Sonatel requires a registered callback `apiKey` of at least this many characters.
pub const MIN_CALLBACK_API_KEY_LEN: usize = 20;
/// Most `v1=` values looked at in one signature header.
const MAX_SIGNATURES: usize = 8;

/// Bounded retries of calls answered 5xx / 429 (or not answered at all, for calls that
/// are safe to repeat).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first one included (at least 1).
    pub max_attempts: u32,
    /// Delay before the first retry, doubled after each retry.
    pub initial_backoff: Duration,
    /// Ceiling of a single delay, `Retry-After` included.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(retry.saturating_sub(1)));
        exp.max(retry_after.unwrap_or_default())
            .min(self.max_backoff)
    }
}

/// Settings of one Orange Money merchant account. `Debug` never shows the secrets.
#[derive(Debug, Clone)]
pub struct OrangeMoneyConfig {
    /// `https://api.orange-sonatel.com`, the sandbox gateway, or a simulator.
    pub base_url: String,
    /// OAuth token path; `/oauth/v1/token` on the current portal (older: `/oauth/token`).
    pub token_path: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// 6-digit merchant code issued by Sonatel.
    pub merchant_code: String,
    /// Merchant name shown to the payer.
    pub merchant_name: String,
    /// QR code lifetime in seconds (at most 86400).
    pub qr_validity_secs: u32,
    /// Our notification endpoint (`…/api/v1/webhook/om`): sent as `X-Callback-Url` on every
    /// QR code and registered by [`OrangeMoneyConnector::register_callback`].
    pub callback_url: Option<String>,
    /// The `apiKey` registered with the merchant callback; Sonatel sends it back as
    /// `Authorization: Basic <apiKey>`.
    pub webhook_api_key: Secret,
    /// Endpoint secret issued by Sonatel for `X-Sonatel-Signature`; when set, unsigned
    /// notifications are refused.
    pub webhook_signing_secret: Option<Secret>,
    /// Accepted clock difference for the signature timestamp.
    pub signature_tolerance: Duration,
    /// Whole-call timeout (connect, send, read the answer).
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    pub retry: RetryPolicy,
    /// A cached token is renewed this long before Sonatel expires it.
    pub token_safety_margin: Duration,
}

impl OrangeMoneyConfig {
    /// Settings with the defaults: `/oauth/v1/token`, 15-minute QR codes, 10 s timeout,
    /// 3 attempts, 30 s token margin, no callback URL and no signing secret.
    pub fn new(
        base_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
        merchant_code: impl Into<String>,
        merchant_name: impl Into<String>,
        webhook_api_key: impl Into<Secret>,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            token_path: "/oauth/v1/token".into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            merchant_code: merchant_code.into(),
            merchant_name: merchant_name.into(),
            qr_validity_secs: 900,
            callback_url: None,
            webhook_api_key: webhook_api_key.into(),
            webhook_signing_secret: None,
            signature_tolerance: Duration::from_secs(300),
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            token_safety_margin: Duration::from_secs(30),
        }
    }

    fn validate(&self) -> Result<(), InvalidConfig> {
        let bad = |m: &str| Err(InvalidConfig(m.to_owned()));
        match url::Url::parse(&self.base_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
            _ => return bad("base URL must be an http(s) URL"),
        }
        if !self.token_path.starts_with('/') {
            return bad("token path must start with /");
        }
        if self.client_id.trim().is_empty() || self.client_secret.expose().is_empty() {
            return bad("client id and client secret are required");
        }
        if self.merchant_code.len() != 6 || !self.merchant_code.bytes().all(|b| b.is_ascii_digit())
        {
            return bad("merchant code must be the 6-digit code issued by Sonatel");
        }
        if self.merchant_name.trim().is_empty() {
            return bad("merchant name is required");
        }
        if !(1..=MAX_VALIDITY_SECS).contains(&self.qr_validity_secs) {
            return bad("QR validity must be between 1 and 86400 seconds");
        }
        if let Some(cb) = &self.callback_url {
            match url::Url::parse(cb) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
                _ => return bad("callback URL must be an http(s) URL"),
            }
        }
        if self.webhook_api_key.expose().is_empty() {
            return bad("webhook apiKey is required");
        }
        if self.retry.max_attempts == 0 {
            return bad("retry policy needs at least one attempt");
        }
        Ok(())
    }
}

/// Refused Orange Money settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Orange Money configuration: {0}")]
pub struct InvalidConfig(pub String);

// ------------------------------------------------------------------------------ token cache

/// An access token and when this connector stops using it (expiry minus the margin).
#[derive(Clone)]
pub struct CachedToken {
    pub access_token: String,
    pub use_until: DateTime<Utc>,
}

impl std::fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedToken")
            .field("access_token", &"[REDACTED]")
            .field("use_until", &self.use_until)
            .finish()
    }
}

/// Where access tokens are kept, keyed by base URL and client id, so that several
/// instances can share one token (e.g. in Redis) instead of each asking for its own.
#[async_trait]
pub trait TokenCache: Send + Sync + 'static {
    async fn get(&self, key: &str) -> Option<CachedToken>;
    async fn put(&self, key: &str, token: CachedToken);
    /// Drops `access_token` if it is still the cached one (it was refused by the gateway).
    async fn invalidate(&self, key: &str, access_token: &str);
}

/// Process-local [`TokenCache`].
#[derive(Default)]
pub struct InMemoryTokenCache {
    tokens: Mutex<HashMap<String, CachedToken>>,
}

impl InMemoryTokenCache {
    pub fn new() -> Self {
        Self::default()
    }

    fn map(&self) -> MutexGuard<'_, HashMap<String, CachedToken>> {
        lock(&self.tokens)
    }
}

#[async_trait]
impl TokenCache for InMemoryTokenCache {
    async fn get(&self, key: &str) -> Option<CachedToken> {
        self.map().get(key).cloned()
    }

    async fn put(&self, key: &str, token: CachedToken) {
        self.map().insert(key.to_owned(), token);
    }

    async fn invalidate(&self, key: &str, access_token: &str) {
        let mut map = self.map();
        if map.get(key).is_some_and(|t| t.access_token == access_token) {
            map.remove(key);
        }
    }
}

/// Source of the current time (injectable for tests).
pub type Now = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

// ------------------------------------------------------------------------------ connector

/// The Orange Money Sénégal connector (code `om`, XOF only).
pub struct OrangeMoneyConnector {
    config: OrangeMoneyConfig,
    http: reqwest::Client,
    tokens: Arc<dyn TokenCache>,
    /// One token request at a time per connector.
    token_fetch: tokio::sync::Mutex<()>,
    now: Now,
    /// Checkouts created by this process, by attempt id, until they expire: a retried
    /// `create_checkout` returns the same QR code instead of opening a second one.
    recent: Mutex<HashMap<String, CheckoutCreated>>,
}

impl std::fmt::Debug for OrangeMoneyConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrangeMoneyConnector")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A call to a business endpoint.
struct ApiCall<'a> {
    method: Method,
    url: url::Url,
    body: Option<Vec<u8>>,
    callback_url: Option<&'a str>,
    /// Whether the call may be repeated after a transport error (reads).
    idempotent: bool,
}

/// Most checkouts remembered for idempotent retries.
const MAX_RECENT_CHECKOUTS: usize = 10_000;

impl OrangeMoneyConnector {
    /// A connector with an in-memory token cache.
    pub fn new(config: OrangeMoneyConfig) -> Result<Self, InvalidConfig> {
        Self::with_token_cache(config, Arc::new(InMemoryTokenCache::new()))
    }

    pub fn with_token_cache(
        config: OrangeMoneyConfig,
        tokens: Arc<dyn TokenCache>,
    ) -> Result<Self, InvalidConfig> {
        config.validate()?;
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|e| InvalidConfig(format!("HTTP client: {e}")))?;
        Ok(Self {
            config,
            http,
            tokens,
            token_fetch: tokio::sync::Mutex::new(()),
            now: Arc::new(Utc::now),
            recent: Mutex::new(HashMap::new()),
        })
    }

    /// Replaces the clock used for token lifetimes and QR code expiry.
    pub fn with_clock(mut self, now: Now) -> Self {
        self.now = now;
        self
    }

    pub fn config(&self) -> &OrangeMoneyConfig {
        &self.config
    }

    fn now(&self) -> DateTime<Utc> {
        (self.now)()
    }

    fn rejected(&self, code: impl Into<String>, message: impl Into<String>) -> ConnectorError {
        ConnectorError::Rejected {
            provider: CODE.to_owned(),
            code: code.into(),
            message: message.into(),
        }
    }

    fn unavailable(&self, message: impl Into<String>) -> ConnectorError {
        ConnectorError::Unavailable {
            provider: CODE.to_owned(),
            message: message.into(),
        }
    }

    fn url(&self, path: &str) -> Result<url::Url, ConnectorError> {
        let base = self.config.base_url.trim_end_matches('/');
        url::Url::parse(&format!("{base}{path}"))
            .map_err(|e| self.rejected("invalid-config", format!("URL {path}: {e}")))
    }

    fn cache_key(&self) -> String {
        format!(
            "{}|{}",
            self.config.base_url.trim_end_matches('/'),
            self.config.client_id
        )
    }

    // -------------------------------------------------------------------------- OAuth

    /// A usable access token, from the cache or freshly issued.
    async fn access_token(&self) -> Result<String, ConnectorError> {
        let key = self.cache_key();
        if let Some(t) = self.tokens.get(&key).await {
            if t.use_until > self.now() {
                return Ok(t.access_token);
            }
        }
        let _single = self.token_fetch.lock().await;
        // Another task may have refreshed it while this one waited.
        if let Some(t) = self.tokens.get(&key).await {
            if t.use_until > self.now() {
                return Ok(t.access_token);
            }
        }
        let token = self.request_token().await?;
        self.tokens.put(&key, token.clone()).await;
        Ok(token.access_token)
    }

    /// A new token after the gateway refused `rejected`.
    async fn renew_token(&self, rejected: &str) -> Result<String, ConnectorError> {
        self.tokens.invalidate(&self.cache_key(), rejected).await;
        self.access_token().await
    }

    async fn request_token(&self) -> Result<CachedToken, ConnectorError> {
        let url = self.url(&self.config.token_path)?;
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("client_secret", self.config.client_secret.expose())
            .finish();
        let path = url.path().to_owned();
        let mut attempt = 1;
        loop {
            let sent = self
                .http
                .post(url.clone())
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(ACCEPT, "application/json")
                .body(form.clone())
                .send()
                .await;
            let (status, headers, body) = match read(sent).await {
                Ok(answer) => answer,
                Err(e) if attempt < self.config.retry.max_attempts => {
                    tracing::warn!(provider = CODE, attempt, error = %e, "token request failed, retrying");
                    tokio::time::sleep(self.config.retry.delay(attempt, None)).await;
                    attempt += 1;
                    continue;
                }
                Err(e) => {
                    return Err(
                        self.unavailable(format!("POST {path}: {e} after {attempt} attempt(s)"))
                    )
                }
            };
            if status.is_success() {
                let t: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
                    self.unavailable(format!("POST {path}: unexpected token response: {e}"))
                })?;
                if t.access_token.is_empty() {
                    return Err(self.unavailable(format!("POST {path}: empty access token")));
                }
                let lifetime = t.expires_in.filter(|s| *s > 0).unwrap_or(299);
                let margin = i64::try_from(self.config.token_safety_margin.as_secs())
                    .unwrap_or(i64::MAX)
                    .min(lifetime / 2);
                return Ok(CachedToken {
                    access_token: t.access_token,
                    use_until: self.now() + chrono::Duration::seconds(lifetime - margin),
                });
            }
            if retryable(status) && attempt < self.config.retry.max_attempts {
                tokio::time::sleep(self.config.retry.delay(attempt, retry_after(&headers))).await;
                attempt += 1;
                continue;
            }
            let (code, message) = describe_error(status.as_u16(), &body);
            return Err(if retryable(status) {
                self.unavailable(format!(
                    "POST {path}: {code}: {message} after {attempt} attempt(s)"
                ))
            } else {
                self.rejected(code, format!("token request refused: {message}"))
            });
        }
    }

    // -------------------------------------------------------------------------- calls

    /// Sends a business call with a bearer token, renewing the token once on 401 and
    /// retrying 5xx / 429 per the policy. Returns the body of a 2xx answer.
    async fn call(&self, call: ApiCall<'_>) -> Result<Vec<u8>, ConnectorError> {
        let what = format!("{} {}", call.method, call.url.path());
        let mut token = self.access_token().await?;
        let mut renewed = false;
        let mut attempt = 1;
        loop {
            let mut req = self
                .http
                .request(call.method.clone(), call.url.clone())
                .bearer_auth(&token)
                // Required on every call, GET included: the gateway answers 415 otherwise.
                .header(CONTENT_TYPE, "application/json")
                .header(ACCEPT, "application/json");
            if let Some(cb) = call.callback_url {
                req = req.header("X-Callback-Url", cb);
            }
            if let Some(body) = &call.body {
                req = req.body(body.clone());
            }
            let (status, headers, body) = match read(req.send().await).await {
                Ok(answer) => answer,
                Err(e) => {
                    // A write that timed out may have been applied: only reads, and
                    // requests that never reached the gateway, are sent again.
                    let repeatable = call.idempotent || e.is_connect();
                    if repeatable && attempt < self.config.retry.max_attempts {
                        tracing::warn!(provider = CODE, %what, attempt, error = %e, "call failed, retrying");
                        tokio::time::sleep(self.config.retry.delay(attempt, None)).await;
                        attempt += 1;
                        continue;
                    }
                    return Err(self.unavailable(format!("{what}: {e} after {attempt} attempt(s)")));
                }
            };
            if status.is_success() {
                return Ok(body);
            }
            if status == StatusCode::UNAUTHORIZED && !renewed {
                tracing::info!(provider = CODE, %what, "access token refused, renewing it once");
                renewed = true;
                token = self.renew_token(&token).await?;
                continue;
            }
            if retryable(status) && attempt < self.config.retry.max_attempts {
                tracing::warn!(provider = CODE, %what, attempt, status = status.as_u16(), "retrying");
                tokio::time::sleep(self.config.retry.delay(attempt, retry_after(&headers))).await;
                attempt += 1;
                continue;
            }
            let (code, message) = describe_error(status.as_u16(), &body);
            return Err(if retryable(status) {
                self.unavailable(format!(
                    "{what}: {code}: {message} after {attempt} attempt(s)"
                ))
            } else {
                self.rejected(code, format!("{what}: {message}"))
            });
        }
    }

    /// The authoritative status of a transaction (`/transactions/{id}/status`), as sent
    /// by Sonatel (`SUCCESS`, `FAILED`, …).
    pub async fn transaction_status(&self, transaction_id: &str) -> Result<String, ConnectorError> {
        let mut url = self.url(TRANSACTIONS_PATH)?;
        url.path_segments_mut()
            .map_err(|()| self.rejected("invalid-config", "base URL cannot take a path"))?
            .push(transaction_id)
            .push("status");
        let body = self
            .call(ApiCall {
                method: Method::GET,
                url,
                body: None,
                callback_url: None,
                idempotent: true,
            })
            .await?;
        let s: StatusResponse = serde_json::from_slice(&body)
            .map_err(|e| self.unavailable(format!("unexpected status response: {e}")))?;
        Ok(s.status)
    }

    /// Transactions carrying our `reference` (bare array; `[]` while the QR code is
    /// unpaid). No `type` filter: it makes the gateway return `[]` (filtered here instead).
    pub async fn search_transactions(
        &self,
        reference: &str,
    ) -> Result<Vec<Transaction>, ConnectorError> {
        let mut url = self.url(TRANSACTIONS_PATH)?;
        url.query_pairs_mut().append_pair("reference", reference);
        let body = self
            .call(ApiCall {
                method: Method::GET,
                url,
                body: None,
                callback_url: None,
                idempotent: true,
            })
            .await?;
        let rows: Vec<Transaction> = serde_json::from_slice(&body)
            .map_err(|e| self.unavailable(format!("unexpected transactions response: {e}")))?;
        Ok(rows
            .into_iter()
            .filter(Transaction::is_merchant_payment)
            .filter(|t| t.reference.as_deref().is_none_or(|r| r == reference))
            .collect())
    }

    /// Registers our notification endpoint and apiKey for the merchant code
    /// (`POST /api/notification/v1/merchantcallback`; success is an empty 2xx).
    pub async fn register_callback(&self) -> Result<(), ConnectorError> {
        let Some(callback_url) = self.config.callback_url.as_deref() else {
            return Err(self.rejected("invalid-config", "no callback URL is configured"));
        };
        let api_key = self.config.webhook_api_key.expose();
        if api_key.chars().count() < MIN_CALLBACK_API_KEY_LEN {
            return Err(self.rejected(
                "invalid-config",
                format!(
                    "the callback apiKey must be at least {MIN_CALLBACK_API_KEY_LEN} characters"
                ),
            ));
        }
        let body = serde_json::to_vec(&MerchantCallbackRequest {
            api_key,
            code: &self.config.merchant_code,
            name: &self.config.merchant_name,
            callback_url,
        })
        .map_err(|e| self.rejected("invalid-request", e.to_string()))?;
        // The answer is an empty body (not the object the specification announces).
        self.call(ApiCall {
            method: Method::POST,
            url: self.url(MERCHANT_CALLBACK_PATH)?,
            body: Some(body),
            callback_url: None,
            idempotent: true,
        })
        .await?;
        Ok(())
    }

    fn remembered(&self, attempt_id: &str) -> Option<CheckoutCreated> {
        let now = self.now();
        lock(&self.recent)
            .get(attempt_id)
            .filter(|c| c.expires_at > now)
            .cloned()
    }

    fn remember(&self, attempt_id: &str, created: &CheckoutCreated) {
        let now = self.now();
        let mut recent = lock(&self.recent);
        recent.retain(|_, c| c.expires_at > now);
        if recent.len() >= MAX_RECENT_CHECKOUTS {
            recent.clear();
        }
        recent.insert(attempt_id.to_owned(), created.clone());
    }

    fn qr_request(&self, req: &CreateCheckout) -> Result<QrCodeRequest, ConnectorError> {
        let currency = Currency::parse(&req.currency).ok();
        if currency != Some(Currency::XOF) {
            return Err(self.rejected(
                "unsupported-currency",
                format!(
                    "{} is not accepted, Orange Money Sénégal settles XOF only",
                    req.currency
                ),
            ));
        }
        if req.amount_minor < MIN_PAYABLE_XOF {
            return Err(self.rejected(
                "amount-too-small",
                format!("Orange Money (MaxIt) refuses payments below {MIN_PAYABLE_XOF} XOF"),
            ));
        }
        if req.provider_reference.trim().is_empty() {
            return Err(self.rejected("invalid-request", "the provider reference is empty"));
        }
        let mut metadata = BTreeMap::new();
        metadata.insert("attemptId".to_owned(), req.attempt_id.clone());
        debug_assert!(metadata.len() <= MAX_METADATA_ENTRIES);
        let http_url = |u: &str| {
            url::Url::parse(u)
                .ok()
                .filter(|p| matches!(p.scheme(), "http" | "https"))
                .map(|_| u.to_owned())
        };
        Ok(QrCodeRequest {
            amount: Amount {
                unit: UNIT_XOF,
                value: req.amount_minor,
            },
            code: self.config.merchant_code.clone(),
            name: self.config.merchant_name.clone(),
            validity: self.config.qr_validity_secs,
            reference: req.provider_reference.clone(),
            metadata,
            callback_success_url: http_url(&req.success_url),
            callback_cancel_url: http_url(&req.error_url),
        })
    }

    fn status_from(&self, provider_id: &str, row: &Transaction, status: &str) -> ProviderStatus {
        let state = map_status(status);
        let terminal = state != ProviderState::Pending;
        ProviderStatus {
            state,
            provider_id: provider_id.to_owned(),
            transaction_id: row.transaction_id.clone(),
            amount_minor: None,
            currency: row
                .amount
                .as_ref()
                .map(|a| a.unit.clone().unwrap_or_else(|| UNIT_XOF.to_owned())),
            payer: row.payer(),
            completed_at: if terminal { row.updated_at() } else { None },
        }
    }
}

#[async_trait]
impl Connector for OrangeMoneyConnector {
    fn code(&self) -> &'static str {
        CODE
    }

    fn supports_currency(&self, currency: Currency) -> bool {
        currency == Currency::XOF
    }

    async fn create_checkout(
        &self,
        req: &CreateCheckout,
    ) -> Result<CheckoutCreated, ConnectorError> {
        if let Some(existing) = self.remembered(&req.attempt_id) {
            return Ok(existing);
        }
        let body = serde_json::to_vec(&self.qr_request(req)?)
            .map_err(|e| self.rejected("invalid-request", e.to_string()))?;
        let answer = self
            .call(ApiCall {
                method: Method::POST,
                url: self.url(QR_CODE_PATH)?,
                body: Some(body),
                callback_url: self.config.callback_url.as_deref(),
                idempotent: false,
            })
            .await?;
        let qr: QrCodeResponse = serde_json::from_slice(&answer)
            .map_err(|e| self.unavailable(format!("unexpected QR code response: {e}")))?;
        let links = qr.links();
        let png = match qr.qr_png() {
            Some(png) => png,
            // No image in the answer: draw one from the first deep link.
            None => {
                let target = links
                    .first()
                    .map(|(_, url, _)| url.clone())
                    .ok_or_else(|| self.unavailable("QR code response without image nor link"))?;
                qr_png_base64(&target).map_err(|e| self.unavailable(e))?
            }
        };
        let validity = qr
            .validity
            .filter(|v| (1..=i64::from(MAX_VALIDITY_SECS)).contains(v))
            .unwrap_or_else(|| i64::from(self.config.qr_validity_secs));
        let created = CheckoutCreated {
            provider_id: qr.qr_id,
            checkout_urls: links
                .into_iter()
                .map(|(name, url, thumb)| CheckoutLink {
                    name: name.to_owned(),
                    url,
                    thumb: thumb.to_owned(),
                })
                .collect(),
            qr_png_base64: Some(png),
            expires_at: self.now() + chrono::Duration::seconds(validity),
        };
        self.remember(&req.attempt_id, &created);
        Ok(created)
    }

    async fn fetch_status(
        &self,
        provider_id: &str,
        reference: &str,
    ) -> Result<ProviderStatus, ConnectorError> {
        if reference.trim().is_empty() {
            return Err(self.rejected(
                "invalid-request",
                "Orange Money status checks need our reference",
            ));
        }
        let rows = self.search_transactions(reference).await?;
        // A success wins over failed tries, then an attempt in flight, then the latest.
        let Some(row) = rows.iter().max_by_key(|t| (t.rank(), t.updated_at())) else {
            // An unpaid QR code does not appear in the search.
            return Ok(ProviderStatus {
                state: ProviderState::Pending,
                provider_id: provider_id.to_owned(),
                transaction_id: None,
                amount_minor: None,
                currency: None,
                payer: None,
                completed_at: None,
            });
        };
        let mut status = row.status_str().to_owned();
        if let Some(id) = row.transaction_id.as_deref().filter(|id| !id.is_empty()) {
            match self.transaction_status(id).await {
                Ok(s) => status = s,
                // Not yet visible on the status endpoint: keep what the search said.
                Err(ConnectorError::Rejected { code, .. }) if code == "60" => {}
                Err(e) => return Err(e),
            }
        }
        if !is_known_status(&status) {
            tracing::warn!(provider = CODE, %status, %reference, "unknown Orange Money status, kept pending");
        }
        let amount_minor = match &row.amount {
            Some(a) => Some(a.to_minor().map_err(|e| {
                self.unavailable(format!(
                    "transaction for {reference} has an invalid amount: {e}"
                ))
            })?),
            None => None,
        };
        Ok(ProviderStatus {
            amount_minor,
            ..self.status_from(provider_id, row, &status)
        })
    }

    fn verify_webhook(
        &self,
        headers: &[(String, String)],
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<WebhookEvent, WebhookError> {
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim())
        };
        let unverified = |m: &str| WebhookError::Unverified(m.to_owned());

        // `Authorization: Basic <apiKey>`, the raw registered key (not base64 user:pass).
        let presented = header("authorization")
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
            .map(|(_, key)| key.trim())
            .ok_or_else(|| unverified("missing Basic authorization"))?;
        if !nexpay_security::constant_time_eq(
            presented.as_bytes(),
            self.config.webhook_api_key.expose().as_bytes(),
        ) {
            return Err(unverified("wrong apiKey"));
        }

        if let Some(secret) = &self.config.webhook_signing_secret {
            let value = header("x-sonatel-signature")
                .ok_or_else(|| unverified("missing X-Sonatel-Signature"))?;
            let (t, signatures) = parse_signature_header(value)
                .ok_or_else(|| unverified("malformed X-Sonatel-Signature"))?;
            let ts: i64 = t
                .parse()
                .map_err(|_| unverified("malformed signature timestamp"))?;
            let tolerance = i64::try_from(self.config.signature_tolerance.as_secs()).unwrap_or(300);
            if now.timestamp().abs_diff(ts) > tolerance.unsigned_abs() {
                return Err(unverified("signature timestamp outside the tolerance"));
            }
            let msg = signed_message(t, body);
            let valid = signatures.iter().take(MAX_SIGNATURES).any(|sig| {
                nexpay_security::verify_hmac_sha256_hex(secret.expose().as_bytes(), &msg, sig)
            });
            if !valid {
                return Err(unverified("signature mismatch"));
            }
        }

        let tx: Transaction = serde_json::from_slice(body)
            .map_err(|e| WebhookError::Malformed(format!("notification body: {e}")))?;
        let status = tx
            .status
            .as_deref()
            .ok_or_else(|| WebhookError::Malformed("notification without status".into()))?;
        let amount_minor = tx
            .amount
            .as_ref()
            .map(|a| a.to_minor().map_err(WebhookError::Malformed))
            .transpose()?;
        let event_id = header("x-sonatel-idempotency-key")
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .or_else(|| tx.transaction_id.clone().filter(|id| !id.is_empty()))
            .ok_or_else(|| {
                WebhookError::Malformed("no idempotency key nor transaction id".into())
            })?;
        Ok(WebhookEvent {
            event_id,
            kind: tx
                .kind
                .clone()
                .unwrap_or_else(|| transformers::MERCHANT_PAYMENT.to_owned()),
            provider_id: None,
            reference: tx.reference.clone(),
            claimed: map_status(status),
            amount_minor,
            currency: tx
                .amount
                .as_ref()
                .map(|a| a.unit.clone().unwrap_or_else(|| UNIT_XOF.to_owned())),
        })
    }
}

fn retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// `Retry-After` in seconds (the HTTP-date form is ignored).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// Status, headers and body of an answer; a failure to read the body counts as a
/// transport error.
async fn read(
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<(StatusCode, HeaderMap, Vec<u8>), reqwest::Error> {
    let resp = sent?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.bytes().await?;
    Ok((status, headers, body.to_vec()))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> OrangeMoneyConfig {
        let mut c = OrangeMoneyConfig::new(
            "http://127.0.0.1:9",
            "client-1",
            "very-secret-value",
            "621513",
            "MY SHOP",
            "webhook-api-key-0123456789",
        );
        c.webhook_signing_secret = Some(Secret::new("om_endpoint_secret_test"));
        c
    }

    #[test]
    fn debug_never_shows_secrets() {
        let shown = format!("{:?}", config());
        assert!(!shown.contains("very-secret-value"), "{shown}");
        assert!(!shown.contains("webhook-api-key"), "{shown}");
        assert!(!shown.contains("om_endpoint_secret_test"), "{shown}");
    }

    #[test]
    fn config_is_validated() {
        let mut c = config();
        c.merchant_code = "12345".into();
        assert!(OrangeMoneyConnector::new(c).is_err());
        let mut c = config();
        c.qr_validity_secs = 86_401;
        assert!(OrangeMoneyConnector::new(c).is_err());
        assert!(OrangeMoneyConnector::new(config()).is_ok());
    }

    #[test]
    fn backoff_is_bounded() {
        let p = RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(300),
        };
        assert_eq!(p.delay(1, None), Duration::from_millis(100));
        assert_eq!(p.delay(2, None), Duration::from_millis(200));
        assert_eq!(p.delay(3, None), Duration::from_millis(300));
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(60))),
            Duration::from_millis(300)
        );
    }

    #[test]
    fn orange_vector_verifies() {
        let Ok(connector) = OrangeMoneyConnector::new(config()) else {
            panic!("valid config");
        };
        let body = br#"{"amount":{"value":10.0,"unit":"XOF"},"reference":"ORDER-1","status":"SUCCESS","transactionId":"MP231114.2213.A00001","type":"MERCHANT_PAYMENT"}"#;
        let headers = vec![
            (
                "authorization".to_owned(),
                "Basic webhook-api-key-0123456789".to_owned(),
            ),
            (
                "x-sonatel-signature".to_owned(),
                "t=1700000000,v1=e2409657e6a38f92fae426fc4accd21d9647c489905714fe34287e047d54e451"
                    .to_owned(),
            ),
        ];
        let now = DateTime::from_timestamp(1_700_000_100, 0).unwrap_or_default();
        let event = connector.verify_webhook(&headers, body, now);
        let Ok(event) = event else {
            panic!("{event:?}");
        };
        assert_eq!(event.event_id, "MP231114.2213.A00001");
        assert_eq!(event.reference.as_deref(), Some("ORDER-1"));
        assert_eq!(event.claimed, ProviderState::Succeeded);
        assert_eq!(event.amount_minor, Some(10));
        // Outside the 300 s tolerance.
        let late = DateTime::from_timestamp(1_700_000_301, 0).unwrap_or_default();
        assert!(matches!(
            connector.verify_webhook(&headers, body, late),
            Err(WebhookError::Unverified(_))
        ));
    }
}
