//! Wave Checkout connector (`https://api.wave.com`, or the Wave simulator).
//!
//! - Sessions: `POST /v1/checkout/sessions` with the attempt id as `Idempotency-Key`,
//!   so a retry after a timeout returns the same session; retrieve, search by
//!   `client_reference`, expire and refund.
//! - Every call has a timeout; 5xx, 429 and transport failures are retried with
//!   exponential backoff (429 honours `Retry-After`, within a bound).
//! - Optional request signing (`Wave-Signature: t=…,v1=…` over `t + body`) for API
//!   keys created with a signing secret.
//! - Webhooks verified on the raw bytes: shared secret (`Authorization: Bearer`) or
//!   signing secret (`Wave-Signature`, 300 s tolerance, any `v1` may match).

mod transformers;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use nexpay_contracts::{CheckoutCreated, CheckoutLink, CreateCheckout};
use nexpay_domain::Currency;
use nexpay_security::{constant_time_eq, hmac_sha256_hex, verify_hmac_sha256_hex, Secret};
use reqwest::{Method, StatusCode};

use crate::{
    qr_png_base64, Connector, ConnectorError, ProviderState, ProviderStatus, WebhookError,
    WebhookEvent,
};
use transformers::{
    error_message, format_amount, map_state, parse_amount, CreateSessionRequest, ErrorBody,
    EventEnvelope, SearchResult, Session,
};

/// Provider code.
pub const WAVE_CODE: &str = "wave";
/// Production base URL.
pub const WAVE_BASE_URL: &str = "https://api.wave.com";
/// Checkout sessions collection.
pub const SESSIONS_PATH: &str = "/v1/checkout/sessions";
/// Search by `client_reference`.
pub const SEARCH_PATH: &str = "/v1/checkout/sessions/search";
/// Suffix of the expire endpoint (`/v1/checkout/sessions/{id}/expire`).
pub const EXPIRE_SUFFIX: &str = "/expire";
/// Suffix of the refund endpoint (`/v1/checkout/sessions/{id}/refund`).
pub const REFUND_SUFFIX: &str = "/refund";
/// Header carrying request and webhook signatures.
pub const SIGNATURE_HEADER: &str = "Wave-Signature";
/// Idempotency header of POST mutations.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
/// Default webhook timestamp tolerance, in seconds.
pub const DEFAULT_WEBHOOK_TOLERANCE_SECS: i64 = 300;
/// Longest `client_reference` Wave accepts.
const MAX_CLIENT_REFERENCE: usize = 255;
/// Longest error body text kept in a message.
const MAX_BODY_IN_MESSAGE: usize = 200;

/// How inbound webhooks are authenticated (chosen when registering the webhook in the
/// Wave Business Portal; the secret is the `wave_…_WHS_…` value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaveWebhookAuth {
    /// No webhook configured: every webhook is refused.
    Disabled,
    /// `Authorization: Bearer <secret>`, compared in constant time.
    SharedSecret(Secret),
    /// `Wave-Signature: t=…,v1=…`, HMAC-SHA256 over `t + raw body`.
    SigningSecret(Secret),
}

/// Retries of calls that failed in a way worth retrying (transport error, timeout,
/// 5xx, 429).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaveRetryPolicy {
    /// Attempts in total, first one included (at least 1).
    pub max_attempts: u32,
    /// Delay before the first retry, doubled after each failure.
    pub initial_backoff: Duration,
    /// Upper bound of the backoff delay.
    pub max_backoff: Duration,
    /// Longest `Retry-After` honoured; a longer one ends the retries at once.
    pub max_retry_after: Duration,
}

impl Default for WaveRetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(5),
        }
    }
}

/// Configuration of [`WaveConnector`]. Secrets are [`Secret`]s, so `Debug` never
/// shows them.
#[derive(Debug, Clone)]
pub struct WaveConfig {
    /// `https://api.wave.com`, or where the simulator is mounted
    /// (e.g. `http://127.0.0.1:9090/sandbox/wave`).
    pub base_url: String,
    /// `wave_<cc>_prod_…`.
    pub api_key: Secret,
    /// Request-signing secret (`wave_<cc>_AKS_…`) when the API key was created with
    /// request signing enabled.
    pub request_signing_secret: Option<Secret>,
    /// Webhook authentication.
    pub webhook: WaveWebhookAuth,
    /// Accepted distance between a webhook's `t` and now, in seconds.
    pub webhook_tolerance_secs: i64,
    /// TCP/TLS connect timeout.
    pub connect_timeout: Duration,
    /// Timeout of each HTTP attempt (whole request and response).
    pub request_timeout: Duration,
    /// Retry policy.
    pub retry: WaveRetryPolicy,
    /// Sends the payer's phone as `restrict_payer_mobile` (only that Wave account can
    /// then pay) when it is in E.164 form. Off by default: a payer whose Wave account
    /// uses another number could no longer pay.
    pub restrict_payer_mobile: bool,
    /// Aggregated merchant (`am-…`) for aggregator accounts.
    pub aggregated_merchant_id: Option<String>,
    /// Currencies of the Wave wallet (XOF for Senegal, Côte d'Ivoire, Mali, Burkina Faso).
    pub currencies: Vec<Currency>,
    /// Shown on the checkout link.
    pub link_thumb: String,
    /// Sends `http` success / error URLs instead of refusing them. Only for test mode
    /// against the simulator on an instance without https; Wave itself refuses them.
    pub allow_http_redirect_urls: bool,
}

impl WaveConfig {
    /// Defaults for an API key: production URL, XOF, no request signing, webhooks
    /// refused until a secret is configured.
    pub fn new(base_url: impl Into<String>, api_key: impl Into<Secret>) -> Self {
        Self {
            base_url: base_url.into(),
            api_key: api_key.into(),
            request_signing_secret: None,
            webhook: WaveWebhookAuth::Disabled,
            webhook_tolerance_secs: DEFAULT_WEBHOOK_TOLERANCE_SECS,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            retry: WaveRetryPolicy::default(),
            restrict_payer_mobile: false,
            aggregated_merchant_id: None,
            currencies: vec![Currency::XOF],
            link_thumb: "/static/providers/wave.svg".into(),
            allow_http_redirect_urls: false,
        }
    }
}

/// The Wave Checkout connector.
#[derive(Debug, Clone)]
pub struct WaveConnector {
    config: WaveConfig,
    base_url: String,
    http: reqwest::Client,
}

/// A call to make: method, path (and query), JSON body, idempotency key.
struct Call<'a> {
    method: Method,
    url: url::Url,
    body: Option<Vec<u8>>,
    idempotency_key: Option<&'a str>,
}

/// Why one attempt failed.
enum AttemptError {
    /// Worth another attempt, after at least `retry_after` when given.
    Retryable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// Final, with the HTTP status when Wave answered.
    Final(Option<StatusCode>, ConnectorError),
}

impl WaveConnector {
    /// Builds the connector and its HTTP client.
    pub fn new(config: WaveConfig) -> Result<Self, ConnectorError> {
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        if url::Url::parse(&base_url).is_err() {
            return Err(rejected(
                "invalid-config",
                format!("Wave base URL {base_url:?} is not a valid URL"),
            ));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(concat!("nexpay/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| unavailable(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            config,
            base_url,
            http,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &WaveConfig {
        &self.config
    }

    fn url(&self, path: &str) -> Result<url::Url, ConnectorError> {
        url::Url::parse(&format!("{}{path}", self.base_url))
            .map_err(|e| rejected("invalid-config", format!("bad Wave URL for {path}: {e}")))
    }

    fn session_url(&self, id: &str, suffix: &str) -> Result<url::Url, ConnectorError> {
        let safe = !id.is_empty()
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !safe {
            return Err(rejected(
                "invalid-session-id",
                format!("{id:?} is not a Wave checkout session id"),
            ));
        }
        self.url(&format!("{SESSIONS_PATH}/{id}{suffix}"))
    }

    /// `Wave-Signature` for `body` at `t`.
    fn sign(secret: &Secret, t: i64, body: &[u8]) -> String {
        let mut msg = t.to_string().into_bytes();
        msg.extend_from_slice(body);
        format!(
            "t={t},v1={}",
            hmac_sha256_hex(secret.expose().as_bytes(), &msg)
        )
    }

    /// Sends `call`, retrying per the policy; returns the 2xx status and body.
    async fn send(&self, call: Call<'_>) -> Result<(StatusCode, Vec<u8>), ConnectorError> {
        self.send_with_status(call).await.map_err(|(_, e)| e)
    }

    /// Like [`Self::send`], keeping the HTTP status of a final refusal.
    async fn send_with_status(
        &self,
        call: Call<'_>,
    ) -> Result<(StatusCode, Vec<u8>), (Option<StatusCode>, ConnectorError)> {
        let policy = &self.config.retry;
        let attempts = policy.max_attempts.max(1);
        let mut backoff = policy.initial_backoff;
        let mut last = String::new();
        for attempt in 1..=attempts {
            match self.attempt(&call).await {
                Ok(done) => return Ok(done),
                Err(AttemptError::Final(status, e)) => return Err((status, e)),
                Err(AttemptError::Retryable {
                    message,
                    retry_after,
                }) => {
                    last = message;
                    if attempt == attempts {
                        break;
                    }
                    let wait = match retry_after {
                        Some(asked) if asked > policy.max_retry_after => {
                            return Err((
                                None,
                                unavailable(format!(
                                    "{last}; Wave asked to retry after {} s",
                                    asked.as_secs()
                                )),
                            ));
                        }
                        Some(asked) => asked.max(backoff),
                        None => backoff,
                    };
                    tracing::debug!(
                        method = %call.method,
                        path = call.url.path(),
                        attempt,
                        wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                        "wave: retrying after {last}"
                    );
                    tokio::time::sleep(wait).await;
                    backoff = backoff.saturating_mul(2).min(policy.max_backoff);
                }
            }
        }
        Err((
            None,
            unavailable(format!("{last} (after {attempts} attempts)")),
        ))
    }

    async fn attempt(&self, call: &Call<'_>) -> Result<(StatusCode, Vec<u8>), AttemptError> {
        let body = call.body.clone().unwrap_or_default();
        let mut request = self
            .http
            .request(call.method.clone(), call.url.clone())
            .timeout(self.config.request_timeout)
            .header(
                reqwest::header::AUTHORIZATION,
                format!("Bearer {}", self.config.api_key.expose()),
            )
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(key) = call.idempotency_key {
            request = request.header(IDEMPOTENCY_HEADER, key);
        }
        if let Some(secret) = &self.config.request_signing_secret {
            // Signed per attempt, so a retry carries a fresh timestamp.
            request = request.header(
                SIGNATURE_HEADER,
                Self::sign(secret, Utc::now().timestamp(), &body),
            );
        }
        if call.body.is_some() {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                let what = if e.is_timeout() {
                    "timed out"
                } else if e.is_connect() {
                    "connection failed"
                } else {
                    "request failed"
                };
                // reqwest errors carry the URL, which never contains a secret here.
                return Err(AttemptError::Retryable {
                    message: format!("Wave {what}: {e}"),
                    retry_after: None,
                });
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let bytes = match response.bytes().await {
            Ok(b) => b.to_vec(),
            Err(e) => {
                return Err(AttemptError::Retryable {
                    message: format!("Wave response could not be read: {e}"),
                    retry_after: None,
                })
            }
        };
        if status.is_success() {
            return Ok((status, bytes));
        }
        let parsed: Option<ErrorBody> = serde_json::from_slice(&bytes).ok();
        let code = parsed
            .as_ref()
            .and_then(|b| b.code.clone())
            .unwrap_or_else(|| format!("http-{}", status.as_u16()));
        let message = match &parsed {
            Some(body) => error_message(status.as_u16(), body),
            None => {
                let text = String::from_utf8_lossy(&bytes);
                let text: String = text.chars().take(MAX_BODY_IN_MESSAGE).collect();
                if text.trim().is_empty() {
                    format!("Wave answered HTTP {}", status.as_u16())
                } else {
                    format!("Wave answered HTTP {}: {}", status.as_u16(), text.trim())
                }
            }
        };
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            return Err(AttemptError::Retryable {
                message: format!("{message} [{code}]"),
                retry_after: if status == StatusCode::TOO_MANY_REQUESTS {
                    retry_after
                } else {
                    None
                },
            });
        }
        Err(AttemptError::Final(Some(status), rejected(&code, message)))
    }

    async fn get_session(&self, id: &str) -> Result<Session, ConnectorError> {
        let (_, body) = self
            .send(Call {
                method: Method::GET,
                url: self.session_url(id, "")?,
                body: None,
                idempotency_key: None,
            })
            .await?;
        decode(&body)
    }

    async fn search_sessions(&self, reference: &str) -> Result<Vec<Session>, ConnectorError> {
        let mut url = self.url(SEARCH_PATH)?;
        url.query_pairs_mut()
            .append_pair("client_reference", reference);
        let (_, body) = self
            .send(Call {
                method: Method::GET,
                url,
                body: None,
                idempotency_key: None,
            })
            .await?;
        Ok(decode::<SearchResult>(&body)?.result)
    }

    fn status_of(&self, session: Session) -> Result<ProviderStatus, ConnectorError> {
        let amount_minor = parse_amount(&session.amount, &session.currency).ok_or_else(|| {
            unavailable(format!(
                "Wave returned an unreadable amount {:?} {} for {}",
                session.amount, session.currency, session.id
            ))
        })?;
        let state = map_state(session.checkout_status, session.payment_status);
        // Wave does not report who paid; a restricted session can only have been
        // paid by the restricted number.
        let payer = match state {
            ProviderState::Succeeded => session.restrict_payer_mobile,
            _ => None,
        };
        Ok(ProviderStatus {
            state,
            provider_id: session.id,
            transaction_id: session.transaction_id,
            amount_minor: Some(amount_minor),
            currency: Some(session.currency),
            payer,
            completed_at: session.when_completed,
        })
    }

    fn build_request(&self, req: &CreateCheckout) -> Result<CreateSessionRequest, ConnectorError> {
        let currency = Currency::parse(&req.currency)
            .ok()
            .filter(|c| self.supports_currency(*c))
            .ok_or_else(|| {
                rejected(
                    "unsupported-currency",
                    format!("Wave does not accept {} on this account", req.currency),
                )
            })?;
        let amount = format_amount(req.amount_minor, currency).ok_or_else(|| {
            rejected(
                "invalid-amount",
                format!("amount must be positive, got {}", req.amount_minor),
            )
        })?;
        for (name, value) in [
            ("success_url", &req.success_url),
            ("error_url", &req.error_url),
        ] {
            let https = url::Url::parse(value).is_ok_and(|u| {
                u.scheme() == "https"
                    || (self.config.allow_http_redirect_urls && u.scheme() == "http")
            });
            if !https {
                return Err(rejected(
                    "invalid-url",
                    format!("Wave requires an https {name}, got {value:?}"),
                ));
            }
        }
        if req.provider_reference.is_empty()
            || req.provider_reference.chars().count() > MAX_CLIENT_REFERENCE
        {
            return Err(rejected(
                "invalid-reference",
                format!("client_reference must have 1 to {MAX_CLIENT_REFERENCE} characters"),
            ));
        }
        if req.attempt_id.is_empty() {
            return Err(rejected(
                "invalid-attempt",
                "the attempt id (Idempotency-Key) is empty".to_owned(),
            ));
        }
        let restrict_payer_mobile = (self.config.restrict_payer_mobile
            && is_e164(&req.payer_phone))
        .then(|| req.payer_phone.clone());
        Ok(CreateSessionRequest {
            amount,
            currency: currency.code().to_owned(),
            success_url: req.success_url.clone(),
            error_url: req.error_url.clone(),
            client_reference: Some(req.provider_reference.clone()),
            restrict_payer_mobile,
            aggregated_merchant_id: self.config.aggregated_merchant_id.clone(),
        })
    }

    fn verify_shared(
        &self,
        secret: &Secret,
        headers: &[(String, String)],
    ) -> Result<(), WebhookError> {
        let value = header(headers, "authorization")
            .ok_or_else(|| WebhookError::Unverified("missing Authorization header".into()))?;
        let presented = value
            .trim()
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(|| {
                WebhookError::Unverified("Authorization header is not a Bearer secret".into())
            })?;
        if constant_time_eq(presented.as_bytes(), secret.expose().as_bytes()) {
            Ok(())
        } else {
            Err(WebhookError::Unverified("wrong webhook secret".into()))
        }
    }

    fn verify_signed(
        &self,
        secret: &Secret,
        headers: &[(String, String)],
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), WebhookError> {
        let value = header(headers, "wave-signature")
            .ok_or_else(|| WebhookError::Unverified("missing Wave-Signature header".into()))?;
        let mut timestamp = None;
        let mut signatures = Vec::new();
        for part in value.split(',') {
            let Some((name, v)) = part.trim().split_once('=') else {
                continue;
            };
            match name.trim() {
                "t" => timestamp = Some(v.trim()),
                "v1" => signatures.push(v.trim()),
                _ => {}
            }
        }
        let t_text =
            timestamp.ok_or_else(|| WebhookError::Unverified("Wave-Signature has no t=".into()))?;
        let t: i64 = t_text
            .parse()
            .map_err(|_| WebhookError::Unverified("Wave-Signature t= is not a number".into()))?;
        if signatures.is_empty() {
            return Err(WebhookError::Unverified("Wave-Signature has no v1=".into()));
        }
        let skew = now.timestamp().abs_diff(t);
        if skew > self.config.webhook_tolerance_secs.unsigned_abs() {
            return Err(WebhookError::Unverified(format!(
                "Wave-Signature timestamp is {skew} s away from now (tolerance {} s)",
                self.config.webhook_tolerance_secs
            )));
        }
        // The timestamp exactly as sent, immediately followed by the raw body.
        let mut msg = t_text.as_bytes().to_vec();
        msg.extend_from_slice(body);
        let key = secret.expose().as_bytes();
        if signatures
            .iter()
            .any(|sig| verify_hmac_sha256_hex(key, &msg, sig))
        {
            Ok(())
        } else {
            Err(WebhookError::Unverified(
                "Wave-Signature does not match the body".into(),
            ))
        }
    }
}

#[async_trait]
impl Connector for WaveConnector {
    fn code(&self) -> &'static str {
        WAVE_CODE
    }

    fn supports_currency(&self, currency: Currency) -> bool {
        self.config.currencies.contains(&currency)
    }

    async fn create_checkout(
        &self,
        req: &CreateCheckout,
    ) -> Result<CheckoutCreated, ConnectorError> {
        let wire = self.build_request(req)?;
        // Serialized once: these exact bytes are signed and sent.
        let body = serde_json::to_vec(&wire)
            .map_err(|e| unavailable(format!("cannot encode the request: {e}")))?;
        let (_, answer) = self
            .send(Call {
                method: Method::POST,
                url: self.url(SESSIONS_PATH)?,
                body: Some(body),
                idempotency_key: Some(&req.attempt_id),
            })
            .await?;
        let session: Session = decode(&answer)?;
        if session.amount != wire.amount
            || session.currency != wire.currency
            || session.client_reference != wire.client_reference
        {
            return Err(rejected(
                "session-mismatch",
                format!(
                    "Wave returned session {} for {} {} ({:?}), not the requested {} {}",
                    session.id,
                    session.amount,
                    session.currency,
                    session.client_reference,
                    wire.amount,
                    wire.currency
                ),
            ));
        }
        let launch = session
            .wave_launch_url
            .filter(|u| !u.is_empty())
            .ok_or_else(|| unavailable(format!("Wave session {} has no launch URL", session.id)))?;
        let expires_at = session
            .when_expires
            .ok_or_else(|| unavailable(format!("Wave session {} has no expiry", session.id)))?;
        // The checkout exists at Wave: a QR rendering failure must not lose it.
        let qr = qr_png_base64(&launch).ok();
        Ok(CheckoutCreated {
            provider_id: session.id,
            checkout_urls: vec![CheckoutLink {
                name: "Wave".into(),
                url: launch,
                thumb: self.config.link_thumb.clone(),
            }],
            qr_png_base64: qr,
            expires_at,
        })
    }

    async fn fetch_status(
        &self,
        provider_id: &str,
        reference: &str,
    ) -> Result<ProviderStatus, ConnectorError> {
        if !provider_id.is_empty() {
            return self.status_of(self.get_session(provider_id).await?);
        }
        if reference.is_empty() {
            return Err(rejected(
                "invalid-session-id",
                "neither a Wave session id nor a client reference was given".to_owned(),
            ));
        }
        let sessions = self.search_sessions(reference).await?;
        // A reference is unique per attempt, but Wave allows several sessions per
        // reference: a paid one wins, else the most recent one.
        let chosen = sessions
            .iter()
            .position(|s| {
                map_state(s.checkout_status, s.payment_status) == ProviderState::Succeeded
            })
            .or_else(|| sessions.len().checked_sub(1));
        match chosen.and_then(|i| sessions.into_iter().nth(i)) {
            Some(session) => self.status_of(session),
            None => Err(rejected(
                "checkout-session-not-found",
                format!("Wave has no checkout session with client_reference {reference:?}"),
            )),
        }
    }

    async fn expire(&self, provider_id: &str) -> Result<(), ConnectorError> {
        let result = self
            .send_with_status(Call {
                method: Method::POST,
                url: self.session_url(provider_id, EXPIRE_SUFFIX)?,
                body: None,
                idempotency_key: None,
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            // 409: not open any more. Already expired (e.g. a retried call whose first
            // try went through) is the goal; complete is a real refusal.
            Err((Some(StatusCode::CONFLICT), ConnectorError::Rejected { code, message, .. })) => {
                let status = self.get_session(provider_id).await?;
                match map_state(status.checkout_status, status.payment_status) {
                    ProviderState::Expired => Ok(()),
                    ProviderState::Succeeded => Err(rejected(
                        "checkout-session-complete",
                        format!("Wave session {provider_id} is already paid and cannot be expired"),
                    )),
                    _ => Err(rejected(&code, message)),
                }
            }
            Err((_, e)) => Err(e),
        }
    }

    async fn refund(&self, provider_id: &str) -> Result<(), ConnectorError> {
        // Wave refunds are idempotent, so the retry policy may resend the call safely.
        let key = format!("refund-{provider_id}");
        self.send(Call {
            method: Method::POST,
            url: self.session_url(provider_id, REFUND_SUFFIX)?,
            body: None,
            idempotency_key: Some(&key),
        })
        .await
        .map(|_| ())
    }

    fn verify_webhook(
        &self,
        headers: &[(String, String)],
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<WebhookEvent, WebhookError> {
        match &self.config.webhook {
            WaveWebhookAuth::Disabled => {
                return Err(WebhookError::Unverified(
                    "no Wave webhook secret is configured".into(),
                ))
            }
            WaveWebhookAuth::SharedSecret(secret) => self.verify_shared(secret, headers)?,
            WaveWebhookAuth::SigningSecret(secret) => {
                self.verify_signed(secret, headers, body, now)?
            }
        }
        parse_event(body)
    }
}

/// Parses a verified event body into a [`WebhookEvent`].
fn parse_event(body: &[u8]) -> Result<WebhookEvent, WebhookError> {
    let envelope: EventEnvelope = serde_json::from_slice(body)
        .map_err(|e| WebhookError::Malformed(format!("not a Wave event: {e}")))?;
    if envelope.id.is_empty() {
        return Err(WebhookError::Malformed("Wave event without id".into()));
    }
    if envelope.kind.starts_with("checkout.session.") {
        let session: Session = serde_json::from_value(envelope.data).map_err(|e| {
            WebhookError::Malformed(format!("{} without a checkout session: {e}", envelope.kind))
        })?;
        let amount_minor = parse_amount(&session.amount, &session.currency).ok_or_else(|| {
            WebhookError::Malformed(format!(
                "unreadable amount {:?} {}",
                session.amount, session.currency
            ))
        })?;
        let claimed = if envelope.kind == "checkout.session.payment_failed" {
            // A failed attempt: the payer may still pay until the session expires.
            ProviderState::Pending
        } else {
            map_state(session.checkout_status, session.payment_status)
        };
        return Ok(WebhookEvent {
            event_id: envelope.id,
            kind: envelope.kind,
            provider_id: Some(session.id),
            reference: session.client_reference,
            claimed,
            amount_minor: Some(amount_minor),
            currency: Some(session.currency),
        });
    }
    // Other events (merchant.payment_received, b2b.*, test.test_event) do not
    // concern a checkout session; they are passed on with what can be read.
    let currency = envelope.data["currency"].as_str().map(str::to_owned);
    let amount_minor = match (envelope.data["amount"].as_str(), currency.as_deref()) {
        (Some(amount), Some(currency)) => parse_amount(amount, currency),
        _ => None,
    };
    Ok(WebhookEvent {
        event_id: envelope.id,
        kind: envelope.kind,
        provider_id: None,
        reference: None,
        claimed: ProviderState::Pending,
        amount_minor,
        currency,
    })
}

fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ConnectorError> {
    serde_json::from_slice(body).map_err(|e| {
        let text: String = String::from_utf8_lossy(body)
            .chars()
            .take(MAX_BODY_IN_MESSAGE)
            .collect();
        unavailable(format!("unexpected Wave response ({e}): {text}"))
    })
}

/// First header named `name` (headers come with lower-case names).
fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// `Retry-After` as delay-seconds or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = DateTime::parse_from_rfc2822(value).ok()?;
    let secs = (when.with_timezone(&Utc) - Utc::now()).num_seconds().max(0);
    Some(Duration::from_secs(secs.unsigned_abs()))
}

/// `+` then 7 to 15 digits, the first not zero.
fn is_e164(phone: &str) -> bool {
    phone.strip_prefix('+').is_some_and(|d| {
        (7..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
    })
}

fn rejected(code: &str, message: String) -> ConnectorError {
    ConnectorError::Rejected {
        provider: WAVE_CODE.to_owned(),
        code: code.to_owned(),
        message,
    }
}

fn unavailable(message: String) -> ConnectorError {
    ConnectorError::Unavailable {
        provider: WAVE_CODE.to_owned(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn e164_check() {
        assert!(is_e164("+221761110001"));
        assert!(!is_e164("761110001"));
        assert!(!is_e164("+0221761110001"));
        assert!(!is_e164("+22176 110001"));
    }

    #[test]
    fn debug_never_shows_secrets() {
        let mut config = WaveConfig::new(WAVE_BASE_URL, "wave_sn_prod_supersecret");
        config.request_signing_secret = Some(Secret::new("wave_sn_AKS_signing"));
        config.webhook = WaveWebhookAuth::SigningSecret(Secret::new("wave_sn_WHS_hook"));
        let connector = WaveConnector::new(config).unwrap_or_else(|e| panic!("{e}"));
        let shown = format!("{connector:?}");
        for secret in ["supersecret", "AKS_signing", "WHS_hook"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[test]
    fn other_events_are_pending() {
        let body = br#"{"id": "EV_1", "type": "merchant.payment_received", "data": {"id": "T_46HS5COOWE", "amount": "990", "currency": "XOF"}}"#;
        let event = parse_event(body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(event.claimed, ProviderState::Pending);
        assert_eq!(event.amount_minor, Some(990));
        assert_eq!(event.provider_id, None);
        assert!(matches!(
            parse_event(b"{\"type\": \"x\"}"),
            Err(WebhookError::Malformed(_))
        ));
    }
}
