#![forbid(unsafe_code)]
//! `nexpay-provider-adapter`: the only service that talks to payment providers.

use nexpay_provider_adapter::{Connectors, ProviderAdapter};
use nexpay_runtime as rt;

const SERVICE: &str = "provider-adapter";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = rt::load_config(SERVICE, 8083);
    rt::init_tracing(config.log_json);
    let metrics = rt::Metrics::new(SERVICE);
    let rabbit = rt::connect_bus(&config, SERVICE).await?;
    let bus = rt::metered(&rabbit, &metrics);
    let consumer = ProviderAdapter::new(Connectors::sandbox(&config.public_url))
        .serve(bus.as_ref(), rt::consumer_options())
        .await?;
    metrics.watch_queues(bus.clone(), &[nexpay_contracts::queues::PROVIDERS]);
    let probes = rt::Probes {
        bus: Some(bus),
        ..rt::Probes::default()
    };
    let (server, port) = rt::http_server(&config, probes, metrics, rt::health_routes)?;
    tracing::info!(
        port,
        "provider-adapter serving its queue; health on this port"
    );
    rt::run_until_stopped(SERVICE, server, vec![consumer], Vec::new(), Some(rabbit)).await
}
