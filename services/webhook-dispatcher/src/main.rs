#![forbid(unsafe_code)]
//! `nexpay-webhook-dispatcher`: consumes merchant-facing events into delivery rows and
//! delivers them (see the library documentation).

use nexpay_runtime as rt;
use nexpay_webhook_dispatcher::{Dispatcher, EndpointSecrets, Fanout};

const SERVICE: &str = "webhook-dispatcher";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = rt::load_config(SERVICE, 8084);
    rt::init_tracing(config.log_json);
    let metrics = rt::Metrics::new(SERVICE);
    let store = rt::connect_store(&config).await?;
    let rabbit = rt::connect_bus(&config, SERVICE).await?;
    let bus = rt::metered(&rabbit, &metrics);

    let dispatcher = Dispatcher::new(
        store.clone(),
        EndpointSecrets::from_config(&config)?,
        config.webhooks.clone(),
    )?
    .with_metrics(metrics.clone());
    let running = dispatcher.spawn();
    let consumer = Fanout::sending(store.clone(), &dispatcher)
        .consume(bus.as_ref(), rt::consumer_options())
        .await?;
    metrics.watch_queues(bus.clone(), &[nexpay_webhook_dispatcher::EVENTS_QUEUE]);
    let probes = rt::Probes {
        store: Some(store),
        bus: Some(bus),
        ..rt::Probes::default()
    };
    let (server, port) = rt::http_server(&config, probes, metrics, rt::health_routes)?;
    tracing::info!(port, "webhook-dispatcher delivering merchant webhooks");
    let result =
        rt::run_until_stopped(SERVICE, server, vec![consumer], Vec::new(), Some(rabbit)).await;
    running.abort();
    result
}
