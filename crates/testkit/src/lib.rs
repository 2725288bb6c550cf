#![forbid(unsafe_code)]
//! Starts NexPay for tests, in either wiring, and gives the test keys the first start
//! printed:
//! - `Backend::Sqlite | Backend::Postgres`: the standalone wiring in this process on a
//!   free port with a fresh database;
//! - `Backend::Distributed`: every service binary as child processes over a fresh
//!   PostgreSQL database, RabbitMQ vhost and Redis key prefix ([`distributed::Stack`]),
//!   behind a router that routes like Traefik.
//!
//! [`TestApp::stop`] tears everything down (database, vhost, keys, processes).

pub mod a11y;
pub mod browser;
pub mod distributed;
pub mod proxy;
pub mod rabbit;
pub mod receiver;
mod router;

use nexpay_config::{Config, Source};
use nexpay_store::testing::{unique_suffix, TestDb};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    Distributed,
}

pub struct TestApp {
    pub base_url: String,
    pub port: u16,
    pub write_key: String,
    pub read_key: String,
    pub project_id: String,
    pub admin_email: String,
    pub admin_password: String,
    pub data_dir: std::path::PathBuf,
    pub client: reqwest::Client,
    pub store: nexpay_store::Store,
    db: Option<TestDb>,
    server: Option<tokio::task::JoinHandle<()>>,
    /// The child processes, in the distributed wiring.
    pub stack: Option<distributed::Stack>,
}

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "Initial-Passw0rd-for-tests";

impl TestApp {
    pub async fn spawn(backend: Backend) -> anyhow::Result<TestApp> {
        TestApp::spawn_with(backend, &[]).await
    }

    /// `extra`: more configuration variables (e.g. `("SESSION_TTL_SECONDS", "60")`).
    pub async fn spawn_with(backend: Backend, extra: &[(&str, &str)]) -> anyhow::Result<TestApp> {
        let db = match backend {
            Backend::Sqlite => TestDb::sqlite().await?,
            Backend::Postgres | Backend::Distributed => TestDb::postgres().await?,
        };
        let suffix = unique_suffix();
        let data_dir = std::env::temp_dir().join(format!("nexpay-app-{suffix}"));
        std::fs::create_dir_all(&data_dir)?;
        let mut pairs: Vec<(String, String)> = vec![
            ("NEXPAY_DATA_DIR".into(), data_dir.display().to_string()),
            ("DATABASE_URL".into(), db.url.clone()),
            ("HOST".into(), "127.0.0.1".into()),
            ("PORT".into(), "0".into()),
            ("PUBLIC_URL".into(), "http://127.0.0.1:0".into()),
            ("ADMIN_EMAIL".into(), ADMIN_EMAIL.into()),
            ("ADMIN_PASSWORD".into(), ADMIN_PASSWORD.into()),
            ("SWEEP_INTERVAL_MS".into(), "200".into()),
        ];
        pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        // Generates the dev secrets once into the data dir, where every process of the
        // distributed wiring finds the same ones.
        let config = Config::load(Source::from_pairs(pairs.clone()))?;
        let (port, store, first, server, stack) = if backend == Backend::Distributed {
            let store = nexpay_store::Store::connect(&db.url, 4).await?;
            let first = nexpay_dashboard::bootstrap::bootstrap(&store, &config).await?;
            let stack = distributed::Stack::start(pairs, &suffix).await?;
            (stack.router_port, store, first, None, Some(stack))
        } else {
            let mut app = nexpay_standalone::Application::build(config).await?;
            let port = app.port();
            let store = app.store.clone();
            let first = app.first_start.take();
            let server = tokio::spawn(async move {
                let _ = app.run_until_stopped().await;
            });
            (port, store, first, Some(server), None)
        };
        let first = first
            .ok_or_else(|| anyhow::anyhow!("fresh instance did not report its first start"))?;
        Ok(TestApp {
            base_url: format!("http://127.0.0.1:{port}"),
            port,
            write_key: first.write_key.expose().to_owned(),
            read_key: first.read_key.expose().to_owned(),
            project_id: first.project_id.to_string(),
            admin_email: ADMIN_EMAIL.into(),
            admin_password: ADMIN_PASSWORD.into(),
            data_dir,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                // Servers close a keep-alive connection after 5 s idle (actix's default): a
                // request sent on it just as it closes fails. Drop idle ones well before.
                .pool_idle_timeout(std::time::Duration::from_secs(3))
                .build()?,
            store,
            db: Some(db),
            server,
            stack,
        })
    }

    /// Where one service answers directly: the single port of the standalone wiring, or
    /// the first replica of `service` in the distributed one (e.g. Swagger UI, which
    /// the router does not route because production does not serve it).
    pub fn service_url(&self, service: &str) -> String {
        self.stack
            .as_ref()
            .and_then(|s| s.url_of(service, 0))
            .unwrap_or_else(|| self.base_url.clone())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// POST JSON with a key; returns (status, headers, body).
    pub async fn post(
        &self,
        path: &str,
        key: Option<&str>,
        body: &serde_json::Value,
        idempotency_key: Option<&str>,
    ) -> anyhow::Result<(u16, reqwest::header::HeaderMap, serde_json::Value)> {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(k) = key {
            req = req.header("x-api-key", k);
        }
        if let Some(k) = idempotency_key {
            req = req.header("Idempotency-Key", k);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.json().await.unwrap_or(serde_json::Value::Null);
        Ok((status, headers, body))
    }

    pub async fn get(
        &self,
        path: &str,
        key: Option<&str>,
    ) -> anyhow::Result<(u16, reqwest::header::HeaderMap, serde_json::Value)> {
        let mut req = self.client.get(self.url(path));
        if let Some(k) = key {
            req = req.header("x-api-key", k);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.json().await.unwrap_or(serde_json::Value::Null);
        Ok((status, headers, body))
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
        if let Some(stack) = self.stack.take() {
            stack.stop().await;
        }
        if let Some(db) = self.db.take() {
            db.cleanup().await;
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// Polls `check` until it returns `Some` or the deadline passes.
pub async fn eventually<T, F, Fut>(deadline: std::time::Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let until = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= until {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
