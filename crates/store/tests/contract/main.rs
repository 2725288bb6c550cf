//! Store contract suite: every test is written once and run against SQLite and against
//! the real PostgreSQL server (`NEXPAY_TEST_PG_URL`, default the local one), each on a
//! fresh database that is dropped at the end.

/// `contract!(name)` (body `async fn name(ctx: Ctx) -> TestResult` in the same module) or
/// `contract!(name, body)` expands into `mod name { fn sqlite; fn postgres }`.
/// `contract!(postgres_only name, body)` runs on PostgreSQL alone.
macro_rules! contract {
    ($name:ident) => {
        contract!($name, $name);
    };
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                crate::support::run(nexpay_store::BackendKind::Sqlite, super::$body).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = "needs PostgreSQL (NEXPAY_TEST_PG_URL); run with -- --ignored"]
            async fn postgres() {
                crate::support::run(nexpay_store::BackendKind::Postgres, super::$body).await;
            }
        }
    };
    (postgres_only $name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = "needs PostgreSQL (NEXPAY_TEST_PG_URL); run with -- --ignored"]
            async fn postgres() {
                crate::support::run(nexpay_store::BackendKind::Postgres, super::$body).await;
            }
        }
    };
}

mod fixtures;
mod support;

mod changes;
mod idempotency;
mod keys;
mod migrations;
mod outbox;
mod payments;
mod projects;
mod provider_webhooks;
mod users;
mod webhooks;
