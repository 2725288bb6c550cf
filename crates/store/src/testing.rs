//! Throw-away databases for tests: a fresh SQLite file, or a fresh database on the
//! PostgreSQL server named by `NEXPAY_TEST_PG_URL` (default: the local server), dropped
//! at the end.

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};

use crate::error::{StoreError, StoreResult};
use crate::Store;

pub const DEFAULT_PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn pg_admin_url() -> String {
    std::env::var("NEXPAY_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_ADMIN_URL.to_owned())
}

pub struct TestDb {
    pub url: String,
    store: Store,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(std::path::PathBuf),
    PgDatabase { admin_url: String, name: String },
    Done,
}

impl TestDb {
    pub async fn sqlite() -> StoreResult<TestDb> {
        let dir = std::env::temp_dir().join(format!("nexpay-test-{}", unique_suffix()));
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::Config(e.to_string()))?;
        let url = format!("sqlite://{}", dir.join("nexpay.db").display());
        let store = Store::connect(&url, 8).await?;
        Ok(TestDb {
            url,
            store,
            cleanup: Cleanup::Dir(dir),
        })
    }

    pub async fn postgres() -> StoreResult<TestDb> {
        let admin_url = pg_admin_url();
        let name = format!("nexpay_test_{}", unique_suffix());
        let mut admin = AsyncPgConnection::establish(&admin_url)
            .await
            .map_err(|e| StoreError::Config(format!("cannot reach PostgreSQL for tests: {e}")))?;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await?;
        let url = replace_db_name(&admin_url, &name);
        let store = Store::connect(&url, 8).await?;
        Ok(TestDb {
            url,
            store,
            cleanup: Cleanup::PgDatabase { admin_url, name },
        })
    }

    /// `NEXPAY_TEST_BACKEND=postgres` selects PostgreSQL, anything else SQLite.
    pub async fn from_env() -> StoreResult<TestDb> {
        match std::env::var("NEXPAY_TEST_BACKEND").as_deref() {
            Ok("postgres") => TestDb::postgres().await,
            _ => TestDb::sqlite().await,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub async fn cleanup(mut self) {
        let cleanup = std::mem::replace(&mut self.cleanup, Cleanup::Done);
        drop_now(cleanup).await;
    }
}

impl Drop for TestDb {
    /// A test that panicked still drops its database, from a thread with its own runtime
    /// (Drop cannot await).
    fn drop(&mut self) {
        let cleanup = std::mem::replace(&mut self.cleanup, Cleanup::Done);
        if matches!(cleanup, Cleanup::Done) {
            return;
        }
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(drop_now(cleanup));
            }
        })
        .join();
    }
}

async fn drop_now(cleanup: Cleanup) {
    match cleanup {
        Cleanup::Dir(dir) => {
            let _ = std::fs::remove_dir_all(dir);
        }
        Cleanup::PgDatabase { admin_url, name } => {
            if let Ok(mut admin) = AsyncPgConnection::establish(&admin_url).await {
                let _ = admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            }
        }
        Cleanup::Done => {}
    }
}

pub fn replace_db_name(url: &str, name: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            u.set_path(&format!("/{name}"));
            u.to_string()
        }
        Err(_) => format!(
            "{}/{name}",
            url.rsplit_once('/').map(|(a, _)| a).unwrap_or(url)
        ),
    }
}

pub fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000_000,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}
