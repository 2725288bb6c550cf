//! End-to-end tests: the standalone wiring on a free port, driven over HTTP like a
//! merchant would, with the store as a witness of what was (not) written. Every test
//! runs on SQLite and on PostgreSQL in the standalone wiring, and on the distributed
//! wiring (every service a process, over PostgreSQL, RabbitMQ and Redis).
#![allow(clippy::unwrap_used)]

/// `e2e!(name, |app| { ... })` defines `mod name { fn sqlite(); fn postgres(); }`: the
/// body runs once per backend against a fresh app (`app: &TestApp`), which is stopped
/// afterwards. `e2e!(name, env = [("VAR", "value")], |app| { ... })` adds configuration.
macro_rules! e2e {
    ($name:ident, |$app:ident| $body:block) => {
        e2e!($name, env = [], |$app| $body);
    };
    ($name:ident, env = [$(($k:expr, $v:expr)),* $(,)?], |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[allow(unused_variables)]
            async fn scenario($app: &nexpay_testkit::TestApp) $body

            async fn run(backend: nexpay_testkit::Backend) {
                let env: &[(&str, &str)] = &[$(($k, $v)),*];
                let app = nexpay_testkit::TestApp::spawn_with(backend, env).await.expect("app starts");
                scenario(&app).await;
                app.stop().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(nexpay_testkit::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = "needs PostgreSQL (NEXPAY_TEST_PG_URL); run with -- --ignored"]
            async fn postgres() {
                run(nexpay_testkit::Backend::Postgres).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = "needs PostgreSQL, RabbitMQ and Redis; run with -- --ignored"]
            async fn distributed() {
                run(nexpay_testkit::Backend::Distributed).await;
            }
        }
    };
}

mod support;

mod admin;
mod auth;
mod browser_journeys;
mod cache;
mod checkout;
mod checkout_accessibility;
mod direct;
mod expiry;
mod health;
mod hosted_checkout;
mod idempotency;
mod journeys;
mod merchant_webhooks;
mod openapi;
mod provider_config;
mod providers;
mod sandbox;
mod sessions;
mod validation;
