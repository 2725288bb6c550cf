//! Shared simulator state and the checkout-session state machine.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use actix_web::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::config::{ApiKeyConfig, WaveSimConfig};
use super::error::ApiError;
use super::ids;
use super::model::{
    default_error_message, launch_url, CheckoutStatus, PaymentError, PaymentStatus, Session,
    PAYMENT_ERROR_CODES,
};
use super::validation::CreateRequest;
use super::webhooks::{
    spawn_deliveries, DeliveryFaults, DeliveryRecord, RetryPolicy, WebhookEndpoint,
    WebhookStrategy, EVENT_COMPLETED, EVENT_PAYMENT_FAILED,
};
use crate::clock::{Clock, SystemClock};

/// Fault switches. Counters are consumed one per API request (`http_*`) or one per
/// event (`webhook_*`); delays stay in force until reset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Next n API requests answer `500`.
    pub http_500: u32,
    /// Next n API requests answer `429 rate-limit-exceeded`.
    pub http_429: u32,
    /// Every API request waits this long first.
    pub delay_ms: u64,
    /// Next n events are never delivered.
    pub webhook_lose: u32,
    /// Next n events are delivered twice.
    pub webhook_duplicate: u32,
    /// Every event waits this long before its first attempt.
    pub webhook_delay_ms: u64,
    /// Next n events carry a wrong signature / bearer secret.
    pub webhook_bad_signature: u32,
    /// Next n events carry a timestamp one hour in the past.
    pub webhook_stale_timestamp: u32,
}

/// Errors of the simulator-side operations (control API, payer page).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// No such session.
    #[error("checkout session not found")]
    NotFound,
    /// The session is no longer open.
    #[error("checkout session is {0:?}, not open")]
    NotOpen(CheckoutStatus),
    /// Not one of Wave's payment error codes.
    #[error("unknown payment error code {0}")]
    UnknownErrorCode(String),
}

impl SimError {
    pub(crate) fn into_api(self) -> ApiError {
        match self {
            Self::NotFound => ApiError::session_not_found(),
            Self::NotOpen(status) => ApiError::new(
                StatusCode::CONFLICT,
                "checkout-session-not-open",
                format!("Checkout session is {}", status.as_str()),
            ),
            Self::UnknownErrorCode(code) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "unknown-payment-error-code",
                format!(
                    "Unknown code {code}; expected one of {}",
                    PAYMENT_ERROR_CODES.join(", ")
                ),
            ),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub session: Session,
    /// Business wallet (key's business name) owning the session.
    pub owner: String,
    pub seq: u64,
    pub refunded: bool,
    pub when_refunded: Option<DateTime<Utc>>,
    pub payer_mobile: Option<String>,
}

#[derive(Debug, Clone)]
struct Idempotent {
    request: CreateRequest,
    session_id: String,
}

#[derive(Debug)]
pub(crate) struct State {
    pub config: WaveSimConfig,
    pub sessions: HashMap<String, Record>,
    seq: u64,
    idempotency: HashMap<(String, String), Idempotent>,
    pub faults: Faults,
    pub webhooks: Vec<WebhookEndpoint>,
    pub deliveries: Vec<DeliveryRecord>,
    clock_offset: Duration,
}

#[derive(Debug)]
struct Inner {
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    http: reqwest::Client,
}

/// The Wave simulator. Cloning is cheap; clones share the same state.
#[derive(Debug, Clone)]
pub struct WaveSim {
    inner: Arc<Inner>,
}

impl Default for WaveSim {
    fn default() -> Self {
        Self::new(WaveSimConfig::default())
    }
}

impl WaveSim {
    /// A simulator on the system clock.
    pub fn new(config: WaveSimConfig) -> Self {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// A simulator on an injected clock.
    pub fn with_clock(config: WaveSimConfig, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Arc::new(Inner {
                clock,
                state: Mutex::new(State {
                    config,
                    sessions: HashMap::new(),
                    seq: 0,
                    idempotency: HashMap::new(),
                    faults: Faults::default(),
                    webhooks: Vec::new(),
                    deliveries: Vec::new(),
                    clock_offset: Duration::zero(),
                }),
                http: reqwest::Client::new(),
            }),
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// Simulator time: the injected clock plus any `/_sim/clock` offset.
    pub fn now(&self) -> DateTime<Utc> {
        let offset = self.state().clock_offset;
        self.inner.clock.now() + offset
    }

    /// Shifts simulator time forward (used by `POST /_sim/clock/advance`).
    pub fn advance_clock(&self, by: Duration) {
        self.state().clock_offset += by;
    }

    /// Registers (or replaces, by key) an API key.
    pub fn add_api_key(&self, key: ApiKeyConfig) {
        let mut state = self.state();
        state.config.api_keys.retain(|k| k.key != key.key);
        state.config.api_keys.push(key);
    }

    /// Revokes an API key; returns `false` when unknown.
    pub fn revoke_api_key(&self, key: &str) -> bool {
        let mut state = self.state();
        match state.config.api_keys.iter_mut().find(|k| k.key == key) {
            Some(k) => {
                k.revoked = true;
                true
            }
            None => false,
        }
    }

    /// Registers a webhook endpoint and returns its id. An empty `events` list
    /// subscribes to both checkout events.
    pub fn register_webhook(
        &self,
        url: impl Into<String>,
        strategy: WebhookStrategy,
        secret: impl Into<String>,
        events: Vec<String>,
    ) -> String {
        let events = if events.is_empty() {
            vec![EVENT_COMPLETED.to_owned(), EVENT_PAYMENT_FAILED.to_owned()]
        } else {
            events
        };
        let endpoint = WebhookEndpoint {
            id: format!("we-{}", nexpay_security::random_base62(10)),
            url: url.into(),
            strategy,
            secret: secret.into(),
            events,
        };
        let id = endpoint.id.clone();
        self.state().webhooks.push(endpoint);
        id
    }

    /// Removes a webhook endpoint.
    pub fn remove_webhook(&self, id: &str) -> bool {
        let mut state = self.state();
        let before = state.webhooks.len();
        state.webhooks.retain(|w| w.id != id);
        state.webhooks.len() != before
    }

    /// Registered webhook endpoints.
    pub fn webhooks(&self) -> Vec<WebhookEndpoint> {
        self.state().webhooks.clone()
    }

    /// Every delivery attempt so far.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.state().deliveries.clone()
    }

    pub(crate) fn record_delivery(&self, record: DeliveryRecord) {
        self.state().deliveries.push(record);
    }

    pub(crate) fn retry_policy(&self) -> RetryPolicy {
        let state = self.state();
        RetryPolicy {
            max_attempts: state.config.webhook_max_attempts,
            initial_backoff: state.config.webhook_initial_backoff,
            max_backoff: state.config.webhook_max_backoff,
            timeout: state.config.webhook_timeout,
        }
    }

    /// Replaces the fault switches.
    pub fn set_faults(&self, faults: Faults) {
        self.state().faults = faults;
    }

    /// Current fault switches (with remaining counters).
    pub fn faults(&self) -> Faults {
        self.state().faults.clone()
    }

    /// A session as the API would return it now (lazy expiry applied).
    pub fn session(&self, id: &str) -> Option<Session> {
        let now = self.now();
        let mut state = self.state();
        state.sessions.get_mut(id).map(|r| {
            r.session.refresh(now);
            r.session.clone()
        })
    }

    /// Whether a session has been refunded.
    pub fn is_refunded(&self, id: &str) -> bool {
        self.state().sessions.get(id).is_some_and(|r| r.refunded)
    }

    /// Simulator-only view of a session: the public object plus internal flags.
    pub fn inspect(&self, id: &str) -> Option<Value> {
        let now = self.now();
        let mut state = self.state();
        let record = state.sessions.get_mut(id)?;
        record.session.refresh(now);
        Some(serde_json::json!({
            "session": record.session.to_value(),
            "business_name": record.owner,
            "refunded": record.refunded,
            "when_refunded": record.when_refunded.map(super::model::rfc3339),
            "payer_mobile": record.payer_mobile,
        }))
    }

    /// A payment attempt by `payer_mobile`. Succeeds unless the session restricts
    /// the payer to another number, in which case the attempt fails with
    /// `payer-mobile-mismatch`. Emits the matching webhook.
    pub fn pay(&self, id: &str, payer_mobile: &str) -> Result<Session, SimError> {
        let restricted = self
            .session(id)
            .ok_or(SimError::NotFound)?
            .restrict_payer_mobile;
        if restricted.is_some_and(|m| m != payer_mobile) {
            return self.fail(id, "payer-mobile-mismatch", None);
        }
        let now = self.now();
        let session = {
            let mut state = self.state();
            let record = state.sessions.get_mut(id).ok_or(SimError::NotFound)?;
            record.session.refresh(now);
            if record.session.checkout_status != CheckoutStatus::Open {
                return Err(SimError::NotOpen(record.session.checkout_status));
            }
            record.session.checkout_status = CheckoutStatus::Complete;
            record.session.payment_status = PaymentStatus::Succeeded;
            record.session.transaction_id = Some(ids::transaction_id());
            record.session.when_completed = Some(now);
            record.payer_mobile = Some(payer_mobile.to_owned());
            record.session.clone()
        };
        self.emit(EVENT_COMPLETED, &session);
        Ok(session)
    }

    /// A failed payment attempt with one of [`PAYMENT_ERROR_CODES`]. The session
    /// stays open (the payer may retry) and `payment_failed` is emitted.
    pub fn fail(&self, id: &str, code: &str, message: Option<&str>) -> Result<Session, SimError> {
        if !PAYMENT_ERROR_CODES.contains(&code) {
            return Err(SimError::UnknownErrorCode(code.to_owned()));
        }
        let now = self.now();
        let session = {
            let mut state = self.state();
            let after_failure = state.config.failed_attempt_payment_status;
            let record = state.sessions.get_mut(id).ok_or(SimError::NotFound)?;
            record.session.refresh(now);
            if record.session.checkout_status != CheckoutStatus::Open {
                return Err(SimError::NotOpen(record.session.checkout_status));
            }
            record.session.payment_status = after_failure;
            record.session.last_payment_error = Some(PaymentError {
                code: code.to_owned(),
                message: message
                    .map(str::to_owned)
                    .unwrap_or_else(|| default_error_message(code).to_owned()),
            });
            record.session.clone()
        };
        self.emit(EVENT_PAYMENT_FAILED, &session);
        Ok(session)
    }

    /// Sends `event_type` for `session` to every subscribed endpoint, applying
    /// the webhook fault switches. Returns the event id.
    fn emit(&self, event_type: &str, session: &Session) -> String {
        let (endpoints, faults) = {
            let mut state = self.state();
            let endpoints: Vec<WebhookEndpoint> = state
                .webhooks
                .iter()
                .filter(|w| w.events.iter().any(|e| e == event_type))
                .cloned()
                .collect();
            let f = &mut state.faults;
            if take(&mut f.webhook_lose) {
                // A lost event consumes no other fault counter.
                (Vec::new(), DeliveryFaults::default())
            } else {
                let faults = DeliveryFaults {
                    duplicate: take(&mut f.webhook_duplicate),
                    bad_signature: take(&mut f.webhook_bad_signature),
                    stale_timestamp: take(&mut f.webhook_stale_timestamp),
                    delay_ms: f.webhook_delay_ms,
                };
                (endpoints, faults)
            }
        };
        spawn_deliveries(self, endpoints, event_type, session.to_value(), faults)
    }

    /// Consumes the request fault switches: `Some(error)` to answer instead.
    pub(crate) fn take_request_fault(&self) -> (u64, Option<ApiError>) {
        let mut state = self.state();
        let delay = state.faults.delay_ms;
        let error = if take(&mut state.faults.http_429) {
            Some(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limit-exceeded",
                "Too many requests, slow down",
            ))
        } else if take(&mut state.faults.http_500) {
            Some(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal-server-error",
                "Internal server error",
            ))
        } else {
            None
        };
        (delay, error)
    }

    pub(crate) fn api_key(&self, key: &str) -> Option<ApiKeyConfig> {
        self.state()
            .config
            .api_keys
            .iter()
            .find(|k| nexpay_security::constant_time_eq(k.key.as_bytes(), key.as_bytes()))
            .cloned()
    }

    pub(crate) fn signature_tolerance(&self) -> i64 {
        self.state().config.request_signature_tolerance_secs
    }

    pub(crate) fn currencies(&self) -> Vec<String> {
        self.state().config.currencies.clone()
    }

    pub(crate) fn allows_http_redirect_urls(&self) -> bool {
        self.state().config.allow_http_redirect_urls
    }

    /// Creates a session, or replays the one created under the same
    /// `Idempotency-Key` for the same request.
    pub(crate) fn create(
        &self,
        key: &ApiKeyConfig,
        request: CreateRequest,
        idempotency_key: Option<&str>,
        derived_base: &str,
    ) -> Result<Session, ApiError> {
        let now = self.now();
        let mut state = self.state();
        let idem_key = idempotency_key.map(|k| (key.key.clone(), k.to_owned()));
        if let Some(ik) = &idem_key {
            if let Some(previous) = state.idempotency.get(ik).cloned() {
                if previous.request != request {
                    return Err(ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "idempotency-key-mismatch",
                        "Idempotency-Key already used with a different request",
                    ));
                }
                if let Some(record) = state.sessions.get_mut(&previous.session_id) {
                    record.session.refresh(now);
                    return Ok(record.session.clone());
                }
            }
        }
        let id = ids::session_id();
        let base = state
            .config
            .launch_base_url
            .clone()
            .unwrap_or_else(|| derived_base.to_owned());
        let session = Session {
            wave_launch_url: launch_url(
                &base,
                &id,
                &request.amount,
                &request.currency,
                &key.business_name,
            ),
            id: id.clone(),
            amount: request.amount.clone(),
            currency: request.currency.clone(),
            checkout_status: CheckoutStatus::Open,
            payment_status: PaymentStatus::Processing,
            client_reference: request.client_reference.clone(),
            business_name: key.business_name.clone(),
            success_url: request.success_url.clone(),
            error_url: request.error_url.clone(),
            transaction_id: None,
            last_payment_error: None,
            aggregated_merchant_id: request.aggregated_merchant_id.clone(),
            restrict_payer_mobile: request.restrict_payer_mobile.clone(),
            when_created: now,
            when_expires: now + state.config.session_ttl,
            when_completed: None,
        };
        state.seq += 1;
        let seq = state.seq;
        state.sessions.insert(
            id.clone(),
            Record {
                session: session.clone(),
                owner: key.business_name.clone(),
                seq,
                refunded: false,
                when_refunded: None,
                payer_mobile: None,
            },
        );
        if let Some(ik) = idem_key {
            state.idempotency.insert(
                ik,
                Idempotent {
                    request,
                    session_id: id,
                },
            );
        }
        Ok(session)
    }

    /// Runs `f` on a session of `owner` after lazy expiry.
    pub(crate) fn with_owned<T>(
        &self,
        owner: &str,
        id: &str,
        f: impl FnOnce(&mut Record, DateTime<Utc>) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let now = self.now();
        let mut state = self.state();
        match state.sessions.get_mut(id) {
            Some(record) if record.owner == owner => {
                record.session.refresh(now);
                f(record, now)
            }
            _ => Err(ApiError::session_not_found()),
        }
    }

    /// Sessions of `owner` matching `pred`, in creation order.
    pub(crate) fn find_owned(&self, owner: &str, pred: impl Fn(&Session) -> bool) -> Vec<Session> {
        let now = self.now();
        let mut state = self.state();
        let mut found: Vec<(u64, Session)> = state
            .sessions
            .values_mut()
            .filter(|r| r.owner == owner)
            .filter_map(|r| {
                r.session.refresh(now);
                pred(&r.session).then(|| (r.seq, r.session.clone()))
            })
            .collect();
        found.sort_by_key(|(seq, _)| *seq);
        found.into_iter().map(|(_, s)| s).collect()
    }
}

fn take(counter: &mut u32) -> bool {
    if *counter > 0 {
        *counter -= 1;
        true
    } else {
        false
    }
}
