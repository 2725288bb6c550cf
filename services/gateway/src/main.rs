#![forbid(unsafe_code)]
//! `nexpay-gateway`: the merchant API. Stateless; run as many replicas as the load needs.

use actix_web::web;
use nexpay_gateway::{ApiError, GatewayConfig, GatewayState, RateLimit, RequestIdMiddleware};
use nexpay_runtime as rt;

const SERVICE: &str = "gateway";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = rt::load_config(SERVICE, 8081);
    rt::init_tracing(config.log_json);
    let metrics = rt::Metrics::new(SERVICE);
    let store = rt::connect_store(&config).await?;
    let rabbit = rt::connect_bus(&config, SERVICE).await?;
    let bus = rt::metered(&rabbit, &metrics);
    let cache = rt::connect_cache(&config)?;
    let gateway = GatewayState::new(
        store.clone(),
        bus.clone(),
        GatewayConfig {
            rpc_timeout: config.rpc_timeout,
            idempotency_ttl: config.idempotency_ttl,
            max_body_bytes: config.max_body_bytes,
            serve_openapi: !config.is_production(),
            public_url: config.public_url.clone(),
        },
    )
    .with_cache(cache.shared())
    .with_rate_limit(RateLimit {
        per_sec: config.rate_limit_per_sec,
        burst: config.rate_limit_burst,
    });
    let probes = rt::Probes {
        store: Some(store),
        bus: Some(bus),
        cache: Some(cache),
    };
    let (server, port) = rt::http_server(&config, probes, metrics, move |cfg| {
        cfg.service(
            web::scope("")
                .wrap(RequestIdMiddleware)
                .configure(rt::health_routes)
                .configure(nexpay_gateway::configure(gateway.clone()))
                .default_service(web::to(|| async {
                    Err::<actix_web::HttpResponse, _>(ApiError::new(
                        404,
                        "not_found",
                        "No such route",
                    ))
                })),
        );
    })?;
    tracing::info!(port, "gateway listening");
    rt::run_until_stopped(SERVICE, server, Vec::new(), Vec::new(), Some(rabbit)).await
}
