//! Embedded migrations, one folder per backend. Applied at start-up and by
//! `nexpay migrate`; an applied migration is never edited, only followed by new ones.

use diesel::Connection;
use diesel_async::{
    AsyncConnection, AsyncMigrationHarness, AsyncPgConnection, SimpleAsyncConnection,
};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::db::{sqlite_path, BackendKind, SQLITE_PRAGMAS};
use crate::error::{StoreError, StoreResult};

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

const SQLITE_ATTEMPTS: usize = 50;

/// Any constant works; it only has to be the same in every replica.
const MIGRATION_LOCK: i64 = 0x6e65_7870_6179;

/// Applies pending migrations and returns how many ran. Several replicas starting at
/// once serialise on a PostgreSQL advisory lock.
pub async fn run_migrations(url: &str) -> StoreResult<usize> {
    match BackendKind::from_url(url)? {
        BackendKind::Postgres => {
            let mut conn = AsyncPgConnection::establish(url)
                .await
                .map_err(|e| StoreError::Migration(e.to_string()))?;
            conn.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
                .await?;
            let mut harness = AsyncMigrationHarness::new(conn);
            let result = harness
                .run_pending_migrations(PG_MIGRATIONS)
                .map(|v| v.len())
                .map_err(|e| StoreError::Migration(e.to_string()));
            let mut conn = harness.into_inner();
            conn.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
                .await?;
            result
        }
        BackendKind::Sqlite => {
            let path = sqlite_path(url);
            // SQLite has no advisory lock: the run holds the write lock instead. Should
            // a process still fail to get it (busy past the timeout), trying again then
            // finds the winner's work done.
            let mut last = None;
            for _ in 0..SQLITE_ATTEMPTS {
                let path = path.clone();
                let result = tokio::task::spawn_blocking(move || {
                    let mut conn = diesel::SqliteConnection::establish(&path)
                        .map_err(|e| StoreError::Migration(e.to_string()))?;
                    diesel::connection::SimpleConnection::batch_execute(&mut conn, SQLITE_PRAGMAS)?;
                    // One write transaction around the whole run (each migration is a
                    // savepoint in it): two processes never apply a migration each; the
                    // second waits for the first, then finds nothing to do.
                    conn.immediate_transaction::<_, StoreError, _>(|conn| {
                        conn.run_pending_migrations(SQLITE_MIGRATIONS)
                            .map(|v| v.len())
                            .map_err(|e| StoreError::Migration(e.to_string()))
                    })
                })
                .await
                .map_err(|e| StoreError::Migration(e.to_string()))?;
                match result {
                    Ok(n) => return Ok(n),
                    Err(e) => last = Some(e),
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(last.unwrap_or_else(|| StoreError::Migration("migrations did not run".into())))
        }
    }
}
