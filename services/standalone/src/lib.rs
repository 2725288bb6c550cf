#![forbid(unsafe_code)]
//! Every NexPay service in one process, on embedded adapters: SQLite (or the database of
//! `DATABASE_URL`), the in-process bus, the built-in provider simulators, one HTTP port
//! routed like Traefik routes the distributed stack.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{web, App, HttpResponse, HttpServer};
use nexpay_bus::{Bus, ConsumerOptions, InProcessBus};
use nexpay_cache::{Cache, MemoryCache};
use nexpay_config::Config;
use nexpay_dashboard::DashboardState;
use nexpay_gateway::{GatewayConfig, GatewayState, RateLimit, RequestIdMiddleware};
use nexpay_payments::{Payments, PaymentsConfig};
use nexpay_provider_adapter::live::{LiveConnectors, LiveSettings};
use nexpay_provider_adapter::{Connectors, ProviderAdapter, WebhookInbox};
use nexpay_providers::{InMemoryTokenCache, TokenCache};
use nexpay_store::Store;
use nexpay_webhook_dispatcher::{Dispatcher, DispatcherHandle, EndpointSecrets, Fanout, FanoutBus};

pub use nexpay_dashboard::bootstrap::FirstStart;

/// A built instance, bound to its port, not yet serving (zero2prod's `Application`).
pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
    pub store: Store,
    pub first_start: Option<FirstStart>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    dispatching: DispatcherHandle,
}

impl Application {
    /// Builds everything and binds `config.http_host:config.http_port` (port 0 in tests).
    pub async fn build(mut config: Config) -> anyhow::Result<Application> {
        let listener = TcpListener::bind((config.http_host.as_str(), config.http_port))?;
        let port = listener.local_addr()?.port();
        if config.http_port == 0 {
            // The public URL must name the port really bound.
            config.public_url = config.public_url.replace(":0", &format!(":{port}"));
        }
        let config = Arc::new(config);
        tracing::info!(database = %config.database_url_redacted(), "opening store");
        let store = Store::connect(config.database_url.expose(), config.db_max_connections).await?;
        let first_start = nexpay_dashboard::bootstrap::bootstrap(&store, &config).await?;

        let bus: Arc<dyn Bus> = Arc::new(InProcessBus::new());
        // One in-memory cache for everything: the gateway reads it, payments and the
        // dashboard invalidate what it holds. Bounded to keep the process small (a
        // cached session status is about 1 KB; the oldest entries go first).
        let cache: Arc<dyn Cache> = Arc::new(MemoryCache::with_max_entries(20_000));
        // webhook-dispatcher: deliveries are written from each merchant-facing event
        // before the outbox relay hands it to the in-memory bus (see `FanoutBus`), and
        // sent at once through the dispatcher's fast lane (retries and resends by its
        // claim loop).
        let dispatcher = Dispatcher::new(
            store.clone(),
            EndpointSecrets::from_config(&config)?,
            config.webhooks.clone(),
        )?;
        let relay_bus: Arc<dyn Bus> = Arc::new(FanoutBus::new(
            bus.clone(),
            Fanout::sending(store.clone(), &dispatcher),
        ));
        let payments = Payments::new(
            store.clone(),
            relay_bus,
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
        .with_cache(cache.clone());
        let opts = || ConsumerOptions {
            prefetch: 64,
            max_deliveries: 5,
            concurrency: 32,
        };
        // Consumer handles detach on drop; the consumers live as long as the bus.
        let _ = payments.serve(opts()).await?;
        // provider-adapter: test mode through the real connectors to the simulators this
        // process serves itself; live mode from the configuration the admin saved.
        let om_tokens: Arc<dyn TokenCache> = Arc::new(InMemoryTokenCache::new());
        let keyring = nexpay_provider_adapter::live::keyring(&config)?;
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
        let _ = ProviderAdapter::new(connectors.clone(), keyring)
            .serve(bus.as_ref(), opts())
            .await?;
        let inbox = Arc::new(WebhookInbox::new(store.clone(), connectors));
        let tasks = vec![
            tokio::spawn(
                payments
                    .outbox_relay()
                    .run(std::time::Duration::from_millis(500)),
            ),
            tokio::spawn(payments.expiry_sweeper().run(config.sweep_interval)),
            tokio::spawn(
                payments
                    .reconciler()
                    .run((config.reconcile_interval / 10).clamp(
                        std::time::Duration::from_millis(100),
                        std::time::Duration::from_secs(5),
                    )),
            ),
            tokio::spawn(
                inbox
                    .processor(bus.clone())
                    .run(std::time::Duration::from_secs(2)),
            ),
            tokio::spawn(purge_idempotency_keys(store.clone())),
        ];
        let dispatching = dispatcher.spawn();

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
        .with_cache(cache.clone())
        .with_rate_limit(RateLimit {
            per_sec: config.rate_limit_per_sec,
            burst: config.rate_limit_burst,
        });
        let dashboard = web::Data::new(
            DashboardState::new(store.clone(), config.clone())
                .with_cache(cache)
                .with_bus(bus.clone()),
        );
        let health_store = store.clone();
        let sims = nexpay_sandbox::test_mode::Simulators::for_test_mode(
            &config.public_url,
            config.sandbox_callback_base(),
        );
        let server = HttpServer::new(move || {
            App::new()
                .wrap(RequestIdMiddleware)
                .app_data(dashboard.clone())
                .app_data(web::Data::new(health_store.clone()))
                .route(
                    "/health/live",
                    web::get().to(|| async {
                        HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
                    }),
                )
                .route("/health/ready", web::get().to(ready))
                .configure(nexpay_gateway::configure(gateway.clone()))
                // The provider simulators, as the distributed stack's sandbox service
                // serves them: the Wave Checkout API and the Orange Money API with their
                // payer pages.
                .configure(sims.configure())
                // Provider webhooks, as Traefik routes `/api/v1/webhook/*` to
                // provider-adapter.
                .configure(inbox.clone().configure())
                .configure(nexpay_dashboard::configure)
                .configure(nexpay_dashboard::checkout::configure)
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(nexpay_gateway::ApiError::new(
                        404,
                        "not_found",
                        "No such route",
                    ))
                }))
        });
        let server = server
            .workers(config.http_workers)
            .on_connect(no_delay)
            .listen(listener)?
            .shutdown_timeout(10)
            .run();
        Ok(Application {
            port,
            server,
            store,
            first_start,
            tasks,
            dispatching,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT/SIGTERM (actix handles the signals) and then stops the
    /// background tasks.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        for t in self.tasks {
            t.abort();
        }
        self.dispatching.abort();
        result
    }
}

async fn ready(store: web::Data<Store>) -> HttpResponse {
    match store.health().await {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({"status": "ok", "database": "ok"})),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database check failed");
            HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({"status": "unavailable", "database": "error"}))
        }
    }
}

/// Idempotency keys are kept at least their TTL (24 h by default), then purged hourly.
async fn purge_idempotency_keys(store: Store) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        if let Err(e) = store.purge_expired_idempotency_keys().await {
            tracing::warn!(error = %e, "idempotency purge failed");
        }
    }
}

/// Nagle's algorithm off on every connection, as the service binaries do
/// (`nexpay_runtime::no_delay`, which this binary does not link): a response written in
/// two parts must not wait for the client's delayed ACK.
fn no_delay(conn: &dyn std::any::Any, _: &mut actix_web::dev::Extensions) {
    if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
        let _ = tcp.set_nodelay(true);
    }
}
