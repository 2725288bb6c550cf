#![forbid(unsafe_code)]
//! The merchant API (`/api/v1/payment/*`): API-key auth, validation, idempotency,
//! request ids, the error envelope and the OpenAPI document. Writes go to the payments
//! service over the bus; reads come straight from the store.

mod auth;
mod error;
mod idempotency;
mod openapi;
mod request_id;
mod routes;
mod validate;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use nexpay_bus::Bus;
use nexpay_store::Store;

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
}

impl GatewayState {
    pub fn new(store: Store, bus: Arc<dyn Bus>, config: GatewayConfig) -> Self {
        GatewayState {
            store,
            bus,
            config: Arc::new(config),
            keys: Arc::default(),
            provider_names: Arc::default(),
        }
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
