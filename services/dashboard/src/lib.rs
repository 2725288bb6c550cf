#![forbid(unsafe_code)]
//! NexPay administration: the admin JSON API (`/admin/api/v1`), the first-start
//! bootstrap and the actions behind the `nexpay` CLI subcommands.
//!
//! Each action (create a project, rotate a key…) is one function in its feature module,
//! called by both the HTTP handler and the CLI, so validation and audit logging cannot
//! drift apart between the two entry points.

use std::sync::Arc;

use actix_web::web;
use chrono::{DateTime, NaiveDateTime, Utc};
use nexpay_config::Config;
use nexpay_security::SessionTokenSigner;
use nexpay_store::Store;

pub mod accounts;
pub mod audit;
pub mod bootstrap;
pub mod checkout;
pub mod cli;
pub mod error;
pub mod keys;
pub mod project_input;
pub mod projects;
pub mod providers;
pub mod request_id;
pub mod reviews;
mod routes;
pub mod session;
pub mod webhooks;

pub use error::{AdminError, AdminResult, FieldIssue};
pub use routes::API_PREFIX;

/// What the admin handlers share. The caller registers it as `web::Data<DashboardState>`.
#[derive(Clone)]
pub struct DashboardState {
    pub store: Store,
    pub config: Arc<Config>,
    pub signer: Arc<SessionTokenSigner>,
    /// The gateway's cache, when it has one: key changes delete what it holds.
    pub cache: Option<Arc<dyn nexpay_cache::Cache>>,
    /// The message bus to the payments service, for test payments.
    pub bus: Option<Arc<dyn nexpay_bus::Bus>>,
}

impl DashboardState {
    /// Session tokens are signed with `config.jwt_secret`, so every replica sharing the
    /// configuration accepts the same tokens.
    pub fn new(store: Store, config: impl Into<Arc<Config>>) -> Self {
        let config = config.into();
        let signer = Arc::new(SessionTokenSigner::new(
            config.jwt_secret.expose().as_bytes(),
        ));
        DashboardState {
            store,
            config,
            signer,
            cache: None,
            bus: None,
        }
    }

    /// The cache the gateway keeps API-key lookups in: revoking or rotating a key, or
    /// archiving a project, deletes the affected entries right after the change commits,
    /// so the change takes effect at once on every gateway sharing the cache.
    pub fn with_cache(mut self, cache: Arc<dyn nexpay_cache::Cache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// The bus to the payments service: the provider test payment sends its command
    /// through it. Without one, that route answers 503.
    pub fn with_bus(mut self, bus: Arc<dyn nexpay_bus::Bus>) -> Self {
        self.bus = Some(bus);
        self
    }

    pub(crate) fn cache(&self) -> Option<&dyn nexpay_cache::Cache> {
        self.cache.as_deref()
    }
}

/// Mounts the admin API under `/admin/api/v1`. Used by the standalone binary and by the
/// dashboard service alike; the caller adds `web::Data<DashboardState>`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    routes::mount(cfg);
}

/// Stored times are naive UTC; the API shows them with their zone.
pub(crate) fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}
