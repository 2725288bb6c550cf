#![forbid(unsafe_code)]
//! `nexpay-dashboard`: the admin API and the hosted checkout page.
//! On the first start against an empty database it creates the default project and
//! admin account and prints their credentials once.

use actix_web::middleware::from_fn;
use actix_web::{web, HttpResponse};
use nexpay_dashboard::request_id::envelope_errors;
use nexpay_dashboard::AdminError;
use nexpay_dashboard::DashboardState;
use nexpay_runtime as rt;

const SERVICE: &str = "dashboard";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = rt::load_config(SERVICE, 9090);
    rt::init_tracing(config.log_json);
    let metrics = rt::Metrics::new(SERVICE);
    let store = rt::connect_store(&config).await?;
    let cache = rt::connect_cache(&config)?;
    if let Some(first) = nexpay_dashboard::bootstrap::bootstrap(&store, &config).await? {
        println!("{}", first.banner());
    }
    let mut state = DashboardState::new(store.clone(), config.clone()).with_cache(cache.shared());
    // The bus carries the provider test payment to the payments service. Without
    // AMQP_URL the admin API still works; only that route answers 503.
    let rabbit = match &config.amqp_url {
        Some(_) => Some(rt::connect_bus(&config, SERVICE).await?),
        None => {
            tracing::warn!("AMQP_URL is not set: provider test payments are unavailable");
            None
        }
    };
    let bus = rabbit.as_ref().map(|r| rt::metered(r, &metrics));
    if let Some(bus) = &bus {
        state = state.with_bus(bus.clone());
    }
    let state = web::Data::new(state);
    // The bus is not a readiness dependency: the admin API works without it.
    let probes = rt::Probes {
        store: Some(store),
        cache: Some(cache),
        ..rt::Probes::default()
    };
    let (server, port) = rt::http_server(&config, probes, metrics, move |cfg| {
        cfg.app_data(state.clone())
            // The hosted checkout page renders its own HTML errors: outside the admin
            // API's JSON envelope.
            .configure(nexpay_dashboard::checkout::configure)
            .service(
                web::scope("")
                    .wrap(from_fn(envelope_errors))
                    .configure(rt::health_routes)
                    .configure(nexpay_dashboard::configure)
                    .default_service(web::to(|| async {
                        Err::<HttpResponse, _>(AdminError::NotFound("No such route"))
                    })),
            );
    })?;
    tracing::info!(port, "dashboard listening");
    rt::run_until_stopped(SERVICE, server, Vec::new(), Vec::new(), rabbit).await
}
