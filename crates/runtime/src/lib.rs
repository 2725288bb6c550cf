#![forbid(unsafe_code)]
//! What every distributed NexPay service binary shares, so that each `main` is a thin
//! wiring of its own parts: configuration, telemetry, connections to PostgreSQL,
//! RabbitMQ and Redis (with retries at start-up, when containers come up in any
//! order), `/health/live`, `/health/ready`, Prometheus `/metrics`, and graceful
//! shutdown.

mod bus;
mod health;
mod metrics;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, App, HttpServer};
use nexpay_bus_rabbitmq::RabbitBus;
use nexpay_cache::{Cache, FailOpen, MemoryCache, RedisCache};
use nexpay_config::{Config, Keys};
use nexpay_store::Store;

pub use bus::MeteredBus;
pub use health::{routes as health_routes, Probes};
pub use metrics::Metrics;

/// The sealing keys each service holds: provider-adapter seals and opens provider
/// secrets (`ENCRYPTION_KEY`); the dashboard seals merchant webhook secrets and the
/// dispatcher opens them to sign (`WEBHOOK_SECRETS_KEY`). No other service reads a key.
pub fn keys_of(service: &str) -> Keys {
    match service {
        "provider-adapter" => Keys {
            encryption: true,
            webhook_secrets: false,
        },
        "dashboard" | "webhook-dispatcher" => Keys {
            encryption: false,
            webhook_secrets: true,
        },
        _ => Keys::NONE,
    }
}

/// Loads the configuration from the environment; a service's own default port applies
/// when `PORT` is not set, and it reads only the keys [`keys_of`] gives it. Exits with
/// status 2 and a message on a configuration error.
pub fn load_config(service: &str, default_port: u16) -> Config {
    match Config::from_env_for(keys_of(service)) {
        Ok(mut config) => {
            if std::env::var_os("PORT").is_none() {
                config.http_port = default_port;
            }
            config
        }
        Err(e) => {
            eprintln!("{service}: configuration error: {e}");
            std::process::exit(2);
        }
    }
}

/// `RUST_LOG`-filtered logs, JSON when `LOG_FORMAT=json`.
pub fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,actix_server=warn,lapin=warn".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// How long a service keeps trying its dependencies at start-up before giving up (the
/// orchestrator restarts it).
const CONNECT_PATIENCE: Duration = Duration::from_secs(60);

async fn with_retries<T, E: std::fmt::Display, F, Fut>(what: &str, mut f: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let started = std::time::Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if started.elapsed() < CONNECT_PATIENCE => {
                tracing::warn!(error = %e, "{what} not reachable yet; retrying in {delay:?}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => anyhow::bail!("{what} not reachable after {CONNECT_PATIENCE:?}: {e}"),
        }
    }
}

/// The database (migrations applied, under an advisory lock on PostgreSQL).
pub async fn connect_store(config: &Config) -> anyhow::Result<Store> {
    tracing::info!(database = %config.database_url_redacted(), "opening store");
    with_retries("database", || {
        Store::connect(config.database_url.expose(), config.db_max_connections)
    })
    .await
}

/// The broker; `AMQP_URL` is required by the distributed services.
pub async fn connect_bus(config: &Config, service: &str) -> anyhow::Result<RabbitBus> {
    let url = config.amqp_url.as_ref().ok_or_else(|| {
        anyhow::anyhow!(
            "AMQP_URL is not set: the {service} service talks to the others over RabbitMQ \
             (e.g. AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f); \
             to run everything in one process without a broker, use `nexpay`"
        )
    })?;
    with_retries("RabbitMQ", || RabbitBus::connect(url.expose(), service)).await
}

/// The shared cache: Redis behind [`FailOpen`] when `REDIS_URL` (or `REDIS_HOST`) is
/// set, so an outage degrades to misses and unlimited rates instead of errors;
/// otherwise a process-local memory cache (rate limits then hold per replica).
pub fn connect_cache(config: &Config) -> anyhow::Result<CacheHandle> {
    match &config.redis_url {
        Some(url) => {
            let prefix = std::env::var("REDIS_KEY_PREFIX").unwrap_or_else(|_| "nexpay:".into());
            let redis = RedisCache::connect(url.expose(), &prefix)
                .map_err(|e| anyhow::anyhow!("REDIS_URL: {e}"))?;
            Ok(CacheHandle::Redis(Arc::new(FailOpen::new(redis))))
        }
        None => {
            tracing::warn!(
                "REDIS_URL is not set: caches and rate limits are per process, \
                 not shared between replicas"
            );
            Ok(CacheHandle::Memory(Arc::new(MemoryCache::new())))
        }
    }
}

/// The cache a service got, kept concrete so readiness can report Redis' state.
#[derive(Clone)]
pub enum CacheHandle {
    Redis(Arc<FailOpen<RedisCache>>),
    Memory(Arc<MemoryCache>),
}

impl CacheHandle {
    pub fn shared(&self) -> Arc<dyn Cache> {
        match self {
            CacheHandle::Redis(c) => c.clone(),
            CacheHandle::Memory(c) => c.clone(),
        }
    }
}

/// Binds `HOST:PORT` and serves what `configure` mounts, which must include
/// [`health_routes`] (a service mounts them inside its own middleware, so they carry
/// request ids like every other route). Actix stops on SIGINT/SIGTERM, finishing
/// in-flight requests.
pub fn http_server<F>(
    config: &Config,
    probes: Probes,
    metrics: Metrics,
    configure: F,
) -> anyhow::Result<(actix_web::dev::Server, u16)>
where
    F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
{
    let listener = TcpListener::bind((config.http_host.as_str(), config.http_port))?;
    let port = listener.local_addr()?.port();
    let server = HttpServer::new(move || {
        App::new()
            .wrap(metrics::HttpMetrics::new(metrics.clone()))
            .app_data(web::Data::new(probes.clone()))
            .app_data(web::Data::new(metrics.clone()))
            .configure(configure.clone())
    });
    let server = server
        .workers(config.http_workers)
        .on_connect(no_delay)
        .listen(listener)?
        .shutdown_timeout(10)
        .run();
    Ok((server, port))
}

/// `HttpServer::on_connect` hook: turns Nagle's algorithm off on every accepted
/// connection. actix-web leaves it on, so a response written in two parts (headers,
/// then a compressed body) waited for the client's delayed ACK: about 40 ms on a third
/// to three quarters of compressed checkout pages in the benchmark.
pub fn no_delay(conn: &dyn std::any::Any, _: &mut actix_web::dev::Extensions) {
    if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    }
}

/// Runs `server` until it stops (SIGINT/SIGTERM), then stops the consumers (in-flight
/// messages finish or go back to their queue), the background tasks and the bus.
pub async fn run_until_stopped(
    service: &str,
    server: actix_web::dev::Server,
    consumers: Vec<nexpay_bus::ConsumerHandle>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    bus: Option<RabbitBus>,
) -> anyhow::Result<()> {
    let result = server.await;
    tracing::info!("{service}: stopping");
    for c in consumers {
        c.shutdown().await;
    }
    for t in tasks {
        t.abort();
    }
    if let Some(bus) = bus {
        bus.close().await;
    }
    result?;
    Ok(())
}

/// Consumer tuning of the distributed services: bounded prefetch, dead-lettering after
/// five failed deliveries.
pub fn consumer_options() -> nexpay_bus::ConsumerOptions {
    nexpay_bus::ConsumerOptions {
        prefetch: 64,
        max_deliveries: 5,
        concurrency: 32,
    }
}

/// Idempotency keys are kept at least their TTL (24 h by default), then purged hourly.
pub async fn purge_idempotency_keys(store: Store) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        if let Err(e) = store.purge_expired_idempotency_keys().await {
            tracing::warn!(error = %e, "idempotency purge failed");
        }
    }
}

/// The bus of a distributed service: RabbitMQ, metered.
pub fn metered(bus: &RabbitBus, metrics: &Metrics) -> Arc<dyn nexpay_bus::Bus> {
    Arc::new(MeteredBus::new(Arc::new(bus.clone()), metrics.clone()))
}
