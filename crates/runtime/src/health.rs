//! `/health/live` (the process answers) and `/health/ready` (its database and broker
//! answer; the cache is reported but does not make a service unready, because every
//! service keeps working without it).

use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpResponse};
use nexpay_bus::Bus;
use nexpay_cache::Cache;
use nexpay_store::Store;
use serde_json::{json, Map, Value};

use crate::{CacheHandle, Metrics};

/// The dependencies a service's readiness depends on.
#[derive(Clone, Default)]
pub struct Probes {
    pub store: Option<Store>,
    pub bus: Option<Arc<dyn Bus>>,
    pub cache: Option<CacheHandle>,
}

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

impl Probes {
    /// (ready, details by dependency).
    pub async fn check(&self) -> (bool, Map<String, Value>) {
        let mut ready = true;
        let mut details = Map::new();
        if let Some(store) = &self.store {
            let ok = matches!(
                tokio::time::timeout(CHECK_TIMEOUT, store.health()).await,
                Ok(Ok(()))
            );
            ready &= ok;
            details.insert("database".into(), json!(if ok { "ok" } else { "error" }));
        }
        if let Some(bus) = &self.bus {
            let ok = matches!(
                tokio::time::timeout(CHECK_TIMEOUT, bus.health()).await,
                Ok(Ok(()))
            );
            ready &= ok;
            details.insert("broker".into(), json!(if ok { "ok" } else { "error" }));
        }
        match &self.cache {
            Some(CacheHandle::Redis(cache)) => {
                let ok = matches!(
                    tokio::time::timeout(CHECK_TIMEOUT, cache.inner().health()).await,
                    Ok(Ok(()))
                );
                details.insert("cache".into(), json!(if ok { "ok" } else { "degraded" }));
            }
            Some(CacheHandle::Memory(_)) => {
                details.insert("cache".into(), json!("memory"));
            }
            None => {}
        }
        (ready, details)
    }
}

/// `/health/live`, `/health/ready` and `/metrics`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health/live", web::get().to(live))
        .route("/health/ready", web::get().to(ready))
        .route("/metrics", web::get().to(metrics));
}

async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

async fn ready(probes: web::Data<Probes>) -> HttpResponse {
    let (ok, mut details) = probes.check().await;
    details.insert(
        "status".into(),
        json!(if ok { "ok" } else { "unavailable" }),
    );
    if ok {
        HttpResponse::Ok().json(details)
    } else {
        tracing::warn!(?details, "readiness check failed");
        HttpResponse::ServiceUnavailable().json(details)
    }
}

async fn metrics(metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(metrics.render().await)
}
