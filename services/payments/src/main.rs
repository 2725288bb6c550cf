#![forbid(unsafe_code)]
//! `nexpay-payments`: owner of every payment state change. Serves its command queue,
//! relays the outbox and sweeps expired sessions. Replicas share the work: commands are
//! competing consumers, outbox rows are claimed with `FOR UPDATE SKIP LOCKED`, and
//! expiry is a conditional update that only one replica can win.

use std::time::Duration;

use nexpay_payments::{Payments, PaymentsConfig};
use nexpay_runtime as rt;

const SERVICE: &str = "payments";

/// Reconciliation looks for due checks this often: a tenth of the interval, between
/// 100 ms and 5 s.
fn reconcile_poll(config: &nexpay_config::Config) -> Duration {
    (config.reconcile_interval / 10).clamp(Duration::from_millis(100), Duration::from_secs(5))
}

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
            reconcile: nexpay_payments::ReconcileSchedule {
                first_check: config.reconcile_first_check,
                interval: config.reconcile_interval,
                grace: config.reconcile_grace,
            },
        },
    )
    .with_cache(cache.shared());
    let consumer = payments.serve(rt::consumer_options()).await?;
    let tasks = vec![
        tokio::spawn(payments.outbox_relay().run(Duration::from_millis(500))),
        tokio::spawn(payments.expiry_sweeper().run(config.sweep_interval)),
        tokio::spawn(payments.reconciler().run(reconcile_poll(&config))),
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
