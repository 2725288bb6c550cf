#![forbid(unsafe_code)]
//! The merchant API (`/api/v1/payment/*`): API-key auth, validation, idempotency,
//! request ids, the error envelope and the OpenAPI document. Writes go to the payments
//! service over the bus; reads come straight from the store.

mod auth;
mod cache;
mod error;
mod idempotency;
mod openapi;
mod request_id;
mod routes;
mod session_view;
mod validate;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use nexpay_bus::Bus;
use nexpay_store::Store;

pub use auth::RateLimit;
pub use error::ApiError;
pub use request_id::{current_request_id, RequestIdMiddleware};

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub rpc_timeout: Duration,
    pub idempotency_ttl: Duration,
    pub max_body_bytes: usize,
    /// Swagger UI and the OpenAPI document are served outside production only.
    pub serve_openapi: bool,
    pub public_url: String,
}

#[derive(Clone)]
pub struct GatewayState {
    pub store: Store,
    pub bus: Arc<dyn Bus>,
    pub config: Arc<GatewayConfig>,
    pub(crate) keys: Arc<auth::KeyUsage>,
    /// Provider display names: fixed rows, read once instead of at every status poll.
    provider_names: Arc<tokio::sync::OnceCell<std::collections::HashMap<String, String>>>,
    /// Optional: key lookups, rate limits, idempotent replays and session statuses.
    pub(crate) cache: Option<Arc<cache::GatewayCache>>,
    pub(crate) rate_limit: RateLimit,
    pub(crate) key_fingerprint: Arc<auth::KeyFingerprint>,
}

impl GatewayState {
    pub fn new(store: Store, bus: Arc<dyn Bus>, config: GatewayConfig) -> Self {
        GatewayState {
            store,
            bus,
            config: Arc::new(config),
            keys: Arc::default(),
            provider_names: Arc::default(),
            cache: None,
            rate_limit: RateLimit::default(),
            key_fingerprint: Arc::default(),
        }
    }

    /// Uses `cache` (shared with the dashboard and payments, which invalidate what it
    /// holds) for API-key lookups, per-key rate limits ([`GatewayState::with_rate_limit`],
    /// default [`RateLimit::default`]), replays of completed idempotent requests and
    /// session statuses. The database stays the source of truth: a cache that fails or
    /// misses only sends the request down the path taken without a cache. Without this
    /// call there is no cache and no rate limit.
    pub fn with_cache(mut self, cache: Arc<dyn nexpay_cache::Cache>) -> Self {
        self.cache = Some(Arc::new(cache::GatewayCache::new(cache)));
        self
    }

    /// The per-key rate limit applied when a cache is set (`RATE_LIMIT_PER_SEC`,
    /// `RATE_LIMIT_BURST`); `per_sec: 0` turns it off.
    pub fn with_rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = limit;
        self
    }

    pub(crate) async fn provider_name(&self, code: &str) -> Result<String, ApiError> {
        let names = self
            .provider_names
            .get_or_try_init(|| async {
                let rows = self
                    .store
                    .list_providers()
                    .await
                    .map_err(ApiError::internal)?;
                Ok::<_, ApiError>(
                    rows.into_iter()
                        .map(|p| (p.code, p.name))
                        .collect::<std::collections::HashMap<_, _>>(),
                )
            })
            .await?;
        Ok(names.get(code).cloned().unwrap_or_else(|| code.to_owned()))
    }
}

/// Mounts the merchant API. The caller wraps the app with `RequestIdMiddleware`.
pub fn configure(state: GatewayState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| {
        let json = web::JsonConfig::default()
            .limit(state.config.max_body_bytes)
            .content_type_required(true)
            .error_handler(|err, _req| error::json_error(err).into());
        let serve_openapi = state.config.serve_openapi;
        cfg.app_data(web::Data::new(state)).app_data(json).service(
            web::scope("/api/v1/payment")
                .route("/initiate", web::post().to(routes::initiate_payment))
                .route(
                    "/session/initiate",
                    web::post().to(routes::initiate_session),
                )
                .route("/session/{id}", web::get().to(routes::get_session))
                .route(
                    "/session/{id}/checkout",
                    web::post().to(routes::checkout_session),
                )
                .default_service(web::to(routes::not_found)),
        );
        if serve_openapi {
            openapi::configure(cfg);
        }
    }
}
