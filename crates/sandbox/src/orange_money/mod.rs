//! Orange Money (Sonatel eWallet) API simulator.
//!
//! Reproduces the Sonatel merchant-payment API (OAuth2 client credentials, QR code /
//! deep-link creation, transaction search and status, merchant callback registration and
//! payment notifications), including the gateway quirks observed in production:
//! 299 s tokens, `415` without `Content-Type: application/json` even on `GET`, float amounts
//! in transactions, empty body on callback registration, the `type` search filter bug, and
//! `Authorization: Basic <apiKey>` on notifications.
//!
//! Routes (relative to the scope chosen by the caller, `/sandbox/om` in the standalone binary):
//!
//! | method | path | |
//! |---|---|---|
//! | POST | `/oauth/v1/token` | client-credentials token |
//! | POST | `/api/eWallet/v4/qrcode` | create a payment QR code and deep links |
//! | GET | `/api/eWallet/v1/transactions` | search (bare JSON array) |
//! | GET | `/api/eWallet/v1/transactions/{id}/status` | authoritative status |
//! | POST, GET | `/api/notification/v1/merchantcallback` | callback registration |
//! | POST | `/_sim/qr/{qrId}/pay` | test control: a customer pays a QR code |
//! | GET, POST | `/_sim/faults` | test control: fault injection |
//! | GET | `/_sim/notifications` | test control: notification delivery log |
//! | GET | `/pay/{qrId}` | payer page (what the customer sees after scanning) |
//! | POST | `/pay/{qrId}/approve`, `/decline`, `/insufficient` | payer page actions |

mod api;
mod control;
mod notify;
mod payer;
mod problem;
mod state;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use actix_web::web;
use chrono::{DateTime, Utc};

pub use notify::{parse_signature_header, sign_notification, verify_signature_header};
pub use state::{Faults, PayOutcome};

pub use crate::clock::{Clock, ManualClock, SystemClock};

/// An OAuth client known to the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OmClient {
    pub client_id: String,
    pub client_secret: String,
    /// `false` reproduces an application not yet switched to production by Sonatel:
    /// the token endpoint answers `401 unauthorized_client` even with the right secret.
    pub provisioned: bool,
}

impl OmClient {
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            provisioned: true,
        }
    }
}

/// Simulator settings.
#[derive(Debug, Clone)]
pub struct OmSimConfig {
    pub clients: Vec<OmClient>,
    /// Access-token lifetime (`expires_in`), 299 s at Sonatel.
    pub token_ttl_secs: i64,
    /// Smallest amount the paying side (MaxIt / OM app) accepts; the API itself accepts 1.
    pub min_payable_amount: i64,
    /// Reproduce the production bug: any `type` query parameter makes the search return `[]`.
    pub type_filter_bug: bool,
    /// Secret issued by Sonatel for `X-Sonatel-Signature`; no signature header when `None`.
    pub endpoint_secret: Option<String>,
    /// Require `https` callback URLs, as Sonatel does (off by default for loopback tests).
    pub require_https_callbacks: bool,
    /// Public base URL of this simulator scope (e.g. `http://127.0.0.1:8080/sandbox/om`).
    /// When set, `shortLink` points to the payer page `<base>/pay/<qrId>`.
    pub public_base_url: Option<String>,
    /// Notification delivery: attempts in total (first try included).
    pub notification_max_attempts: u32,
    /// Delay before the first retry; doubled after each retry.
    pub notification_retry_backoff: Duration,
    /// Per-attempt timeout; a timeout is retried like a 5xx.
    pub notification_timeout: Duration,
}

impl Default for OmSimConfig {
    fn default() -> Self {
        Self {
            clients: Vec::new(),
            token_ttl_secs: 299,
            min_payable_amount: 10,
            type_filter_bug: true,
            endpoint_secret: None,
            require_https_callbacks: false,
            public_base_url: None,
            notification_max_attempts: 5,
            notification_retry_backoff: Duration::from_secs(2),
            notification_timeout: Duration::from_secs(5),
        }
    }
}

/// The Orange Money simulator. Cheap to clone: clones share the same state.
#[derive(Clone)]
pub struct OmSim {
    inner: Arc<Inner>,
}

struct Inner {
    config: OmSimConfig,
    clock: Arc<dyn Clock>,
    state: Mutex<state::State>,
    http: reqwest::Client,
}

impl OmSim {
    pub fn new(config: OmSimConfig) -> Self {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    pub fn with_clock(config: OmSimConfig, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                clock,
                state: Mutex::new(state::State::default()),
                http: reqwest::Client::new(),
            }),
        }
    }

    /// Registers (or replaces) the notification callback of a merchant code, as
    /// `POST /api/notification/v1/merchantcallback` does.
    pub fn register_callback(
        &self,
        code: impl Into<String>,
        name: impl Into<String>,
        callback_url: impl Into<String>,
        api_key: impl Into<String>,
    ) {
        let code = code.into();
        let now = self.now();
        let mut st = self.state();
        st.callbacks.retain(|c| c.code != code);
        st.callbacks.push(state::Callback {
            code,
            name: name.into(),
            callback_url: callback_url.into(),
            api_key: api_key.into(),
            created_at: now,
        });
    }

    pub fn config(&self) -> &OmSimConfig {
        &self.inner.config
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// Replaces the active fault switches.
    pub fn set_faults(&self, faults: Faults) {
        let mut st = self.state();
        st.faults = faults;
        st.api_errors_served = 0;
    }

    pub fn faults(&self) -> Faults {
        self.state().faults.clone()
    }

    /// Transactions as the API returns them, oldest first.
    pub fn transactions_json(&self) -> Vec<serde_json::Value> {
        self.state()
            .transactions
            .iter()
            .map(state::Transaction::to_json)
            .collect()
    }

    fn state(&self) -> MutexGuard<'_, state::State> {
        lock(&self.inner.state)
    }
}

/// Mounts every route of the simulator on the caller's scope.
pub fn configure(sim: OmSim) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(web::Data::new(sim))
            .route("/oauth/v1/token", web::post().to(api::token))
            .route("/api/eWallet/v4/qrcode", web::post().to(api::create_qrcode))
            .route(
                "/api/eWallet/v1/transactions",
                web::get().to(api::search_transactions),
            )
            .route(
                "/api/eWallet/v1/transactions/{id}/status",
                web::get().to(api::transaction_status),
            )
            .route(
                "/api/eWallet/v4/transactions/{tail:.*}",
                web::route().to(api::entity_not_found),
            )
            .route(
                "/api/notification/v1/merchantcallback",
                web::post().to(api::register_callback),
            )
            .route(
                "/api/notification/v1/merchantcallback",
                web::get().to(api::list_callbacks),
            )
            .route("/_sim/qr/{qr_id}/pay", web::post().to(control::pay))
            .route("/_sim/faults", web::post().to(control::set_faults))
            .route("/_sim/faults", web::get().to(control::get_faults))
            .route("/_sim/notifications", web::get().to(control::notifications))
            .route("/pay/{qr_id}", web::get().to(payer::page))
            .route("/pay/{qr_id}/{action}", web::post().to(payer::act));
    }
}

/// Locks a mutex, recovering the data if a holder panicked (the state stays usable).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
