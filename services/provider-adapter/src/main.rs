#![forbid(unsafe_code)]
//! `nexpay-provider-adapter`: the only service that talks to payment providers. Serves
//! its command queue, and the providers' webhooks on `/api/v1/webhook/{code}`.

use std::sync::Arc;
use std::time::Duration;

use nexpay_provider_adapter::live::{self, LiveConnectors, LiveSettings};
use nexpay_provider_adapter::{Connectors, ProviderAdapter, SharedTokenCache, WebhookInbox};
use nexpay_providers::TokenCache;
use nexpay_runtime as rt;

const SERVICE: &str = "provider-adapter";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = rt::load_config(SERVICE, 8083);
    rt::init_tracing(config.log_json);
    let metrics = rt::Metrics::new(SERVICE);
    let store = rt::connect_store(&config).await?;
    let rabbit = rt::connect_bus(&config, SERVICE).await?;
    let bus = rt::metered(&rabbit, &metrics);

    // Orange Money tokens are shared by the replicas through Redis (a miss when Redis
    // is away: each replica then fetches its own).
    let cache = rt::connect_cache(&config)?;
    let om_tokens: Arc<dyn TokenCache> = Arc::new(SharedTokenCache::new(cache.shared()));
    let keyring = live::keyring(&config)?;
    let live = LiveConnectors::new(
        store.clone(),
        keyring.clone(),
        LiveSettings {
            public_url: config.public_url.clone(),
            om_token_cache: om_tokens.clone(),
        },
    );
    let connectors = Connectors::test_mode(
        config.sandbox_base(),
        config.sandbox_callback_base(),
        om_tokens,
    )?
    .with_live(Arc::new(live));

    let consumer = ProviderAdapter::new(connectors.clone(), keyring)
        .serve(bus.as_ref(), rt::consumer_options())
        .await?;
    metrics.watch_queues(bus.clone(), &[nexpay_contracts::queues::PROVIDERS]);
    let inbox = Arc::new(WebhookInbox::new(store.clone(), connectors));
    let processor = tokio::spawn(inbox.processor(bus.clone()).run(Duration::from_secs(2)));
    let probes = rt::Probes {
        store: Some(store),
        bus: Some(bus),
        cache: Some(cache),
    };
    let (server, port) = rt::http_server(&config, probes, metrics, move |cfg| {
        cfg.configure(rt::health_routes)
            .configure(inbox.clone().configure());
    })?;
    tracing::info!(
        port,
        "provider-adapter serving its queue and provider webhooks"
    );
    rt::run_until_stopped(
        SERVICE,
        server,
        vec![consumer],
        vec![processor],
        Some(rabbit),
    )
    .await
}
