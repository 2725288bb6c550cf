#![forbid(unsafe_code)]
//! `nexpay-payments`: owner of every payment state change. Serves its command queue,
//! relays the outbox and sweeps expired sessions. Replicas share the work: commands are
//! competing consumers, outbox rows are claimed with `FOR UPDATE SKIP LOCKED`, and
//! expiry is a conditional update that only one replica can win.

use std::time::Duration;

use nexpay_payments::{Payments, PaymentsConfig};
use nexpay_runtime as rt;

const SERVICE: &str = "payments";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = rt::load_config(SERVICE, 8082);
    rt::init_tracing(config.log_json);
    let metrics = rt::Metrics::new(SERVICE);
    let store = rt::connect_store(&config).await?;
    let rabbit = rt::connect_bus(&config, SERVICE).await?;
    let bus = rt::metered(&rabbit, &metrics);
    let cache = rt::connect_cache(&config)?;
    let payments = Payments::new(
        store.clone(),
        bus.clone(),
        PaymentsConfig {
            public_url: config.public_url.clone(),
            session_ttl: config.session_ttl,
            provider_timeout: config.rpc_timeout,
        },
    )
    .with_cache(cache.shared());
    let consumer = payments.serve(rt::consumer_options()).await?;
    let tasks = vec![
        tokio::spawn(payments.outbox_relay().run(Duration::from_millis(500))),
        tokio::spawn(payments.expiry_sweeper().run(config.sweep_interval)),
        tokio::spawn(rt::purge_idempotency_keys(store.clone())),
    ];
    metrics.watch_queues(bus.clone(), &[nexpay_contracts::queues::PAYMENTS]);
    metrics.watch_outbox(store.clone());
    let probes = rt::Probes {
        store: Some(store),
        bus: Some(bus),
        cache: Some(cache),
    };
    let (server, port) = rt::http_server(&config, probes, metrics, rt::health_routes)?;
    tracing::info!(port, "payments serving its queue; health on this port");
    rt::run_until_stopped(SERVICE, server, vec![consumer], tasks, Some(rabbit)).await
}
