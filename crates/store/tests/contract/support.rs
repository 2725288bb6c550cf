//! The runner behind `contract!` and throw-away unmigrated databases.

use std::future::Future;

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use nexpay_store::testing::{pg_admin_url, replace_db_name, unique_suffix, TestDb};
use nexpay_store::{BackendKind, Store};

pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// What a contract body gets: the store on a fresh, migrated database.
pub struct Ctx {
    pub store: Store,
    pub url: String,
    pub kind: BackendKind,
}

/// Creates the database, runs the body, always drops the database (a panicking body
/// drops it through `TestDb`'s `Drop`), then fails the test if the body returned an error.
pub async fn run<F, Fut>(kind: BackendKind, body: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = TestResult>,
{
    let db = match kind {
        BackendKind::Sqlite => TestDb::sqlite().await,
        BackendKind::Postgres => TestDb::postgres().await,
    }
    .expect("create the test database");
    let ctx = Ctx {
        store: db.store().clone(),
        url: db.url.clone(),
        kind,
    };
    let outcome = body(ctx).await;
    db.cleanup().await;
    if let Err(e) = outcome {
        panic!("contract failed on {kind:?}: {e}");
    }
}

/// Number of migrations shipped for a backend (one folder each).
pub fn shipped_migrations(kind: BackendKind) -> usize {
    let dir = match kind {
        BackendKind::Postgres => "postgres",
        BackendKind::Sqlite => "sqlite",
    };
    let path = format!("{}/../../migrations/{dir}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_dir(&path)
        .expect("migrations folder")
        .filter_map(Result::ok)
        .filter(|e| e.path().join("up.sql").exists())
        .count()
}

/// An empty database with no migrations applied, dropped by `drop_now`.
pub struct FreshDb {
    pub url: String,
    kind: BackendKind,
    name: String,
    dir: Option<std::path::PathBuf>,
    dropped: bool,
}

impl FreshDb {
    pub async fn create(
        kind: BackendKind,
    ) -> Result<FreshDb, Box<dyn std::error::Error + Send + Sync>> {
        let name = format!("nexpay_fresh_{}", unique_suffix());
        match kind {
            BackendKind::Sqlite => {
                let dir = std::env::temp_dir().join(&name);
                std::fs::create_dir_all(&dir)?;
                let url = format!("sqlite://{}", dir.join("nexpay.db").display());
                Ok(FreshDb {
                    url,
                    kind,
                    name,
                    dir: Some(dir),
                    dropped: false,
                })
            }
            BackendKind::Postgres => {
                let mut admin = AsyncPgConnection::establish(&pg_admin_url()).await?;
                admin
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .await?;
                let url = replace_db_name(&pg_admin_url(), &name);
                Ok(FreshDb {
                    url,
                    kind,
                    name,
                    dir: None,
                    dropped: false,
                })
            }
        }
    }

    pub async fn drop_now(mut self) {
        self.dropped = true;
        drop_database(self.kind, &self.name, self.dir.as_deref()).await;
    }
}

/// A test that panicked still drops its database, from a thread with its own runtime.
impl Drop for FreshDb {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (kind, name, dir) = (self.kind, self.name.clone(), self.dir.clone());
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(drop_database(kind, &name, dir.as_deref()));
            }
        })
        .join();
    }
}

async fn drop_database(kind: BackendKind, name: &str, dir: Option<&std::path::Path>) {
    match kind {
        BackendKind::Sqlite => {
            if let Some(dir) = dir {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
        BackendKind::Postgres => {
            if let Ok(mut admin) = AsyncPgConnection::establish(&pg_admin_url()).await {
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                let _ = admin.batch_execute(&sql).await;
            }
        }
    }
}
