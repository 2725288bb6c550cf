#![forbid(unsafe_code)]
//! `nexpay-webhook-dispatcher`: see the library documentation for what it does today.

use nexpay_runtime as rt;
use nexpay_webhook_dispatcher::{BINDINGS, EVENTS_QUEUE};

const SERVICE: &str = "webhook-dispatcher";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = rt::load_config(SERVICE, 8084);
    rt::init_tracing(config.log_json);
    let metrics = rt::Metrics::new(SERVICE);
    let rabbit = rt::connect_bus(&config, SERVICE).await?;
    rabbit.declare_events_queue(EVENTS_QUEUE, BINDINGS).await?;
    let bus = rt::metered(&rabbit, &metrics);
    metrics.watch_queues(bus.clone(), &[EVENTS_QUEUE]);
    let probes = rt::Probes {
        bus: Some(bus),
        ..rt::Probes::default()
    };
    let (server, port) = rt::http_server(&config, probes, metrics, rt::health_routes)?;
    tracing::info!(port, "webhook-dispatcher ready");
    rt::run_until_stopped(SERVICE, server, Vec::new(), Vec::new(), Some(rabbit)).await
}
