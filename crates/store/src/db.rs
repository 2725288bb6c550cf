//! Connection pools for both backends and the macros that run ONE diesel body on
//! whichever connection is live (the vaultwarden approach): the body is expanded once per
//! backend, so every query is type-checked against PostgreSQL and SQLite.

use std::time::Duration;

use diesel::SqliteConnection;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures::FutureExt;

use crate::error::{StoreError, StoreResult};

pub type SqliteConn = SyncConnectionWrapper<SqliteConnection>;

/// Which database a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Postgres,
    Sqlite,
}

impl BackendKind {
    pub fn from_url(url: &str) -> StoreResult<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(BackendKind::Postgres)
        } else if url.starts_with("sqlite:") || url.ends_with(".db") || url == ":memory:" {
            Ok(BackendKind::Sqlite)
        } else {
            Err(StoreError::Config(format!(
                "unsupported DATABASE_URL scheme (expected postgres:// or sqlite://): {}",
                redact_url(url)
            )))
        }
    }
}

#[derive(Clone)]
pub(crate) enum Backend {
    Pg(Pool<AsyncPgConnection>),
    /// SQLite allows one writer at a time: one writer connection queues writes in the
    /// application instead of spinning on SQLITE_BUSY, and commits them in groups (see
    /// [`crate::group_commit`]), while WAL lets the reader pool run concurrently.
    Sqlite {
        writer: crate::group_commit::GroupWriter,
        reader: Pool<SqliteConn>,
    },
}

pub(crate) fn sqlite_path(url: &str) -> String {
    url.trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .to_owned()
}

/// `synchronous = FULL` in WAL mode: a committed payment survives a power cut, not only
/// a process crash. The benchmark measures its ceiling with the same setting.
/// `busy_timeout` comes first so that switching to WAL waits for another process instead
/// of failing at once.
pub const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;";

/// Opens a connection to the SQLite file with [`SQLITE_PRAGMAS`].
pub(crate) async fn open_sqlite(path: &str) -> Result<SqliteConn, diesel::ConnectionError> {
    let mut conn = SqliteConn::establish(path).await?;
    conn.batch_execute(SQLITE_PRAGMAS)
        .await
        .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}

fn sqlite_manager(path: String) -> AsyncDieselConnectionManager<SqliteConn> {
    let mut config = ManagerConfig::<SqliteConn>::default();
    // A local file cannot drop its connection: skip the `SELECT 1` that the default
    // recycling method runs at every checkout (it doubled the cost of a point read).
    config.recycling_method = diesel_async::pooled_connection::RecyclingMethod::Fast;
    config.custom_setup = Box::new(|url: &str| {
        let url = url.to_owned();
        async move { open_sqlite(&url).await }.boxed()
    });
    AsyncDieselConnectionManager::new_with_config(path, config)
}

/// A pooled PostgreSQL connection unused for longer than this is checked with
/// `SELECT 1` before it is handed out: the server may have closed it meanwhile
/// (`pg_terminate_backend`, a restart, an idle timeout). One in steady use is not.
pub const PG_VERIFY_AFTER_IDLE: Duration = Duration::from_millis(100);

type PgHookFuture<'a> =
    deadpool::managed::HookFuture<'a, diesel_async::pooled_connection::PoolError>;

fn verify_if_idle<'a>(
    conn: &'a mut AsyncPgConnection,
    metrics: &'a deadpool::managed::Metrics,
) -> PgHookFuture<'a> {
    Box::pin(async move {
        if metrics.last_used() < PG_VERIFY_AFTER_IDLE {
            return Ok(());
        }
        conn.batch_execute("SELECT 1").await.map_err(|e| {
            deadpool::managed::HookError::Backend(
                diesel_async::pooled_connection::PoolError::QueryError(e),
            )
        })
    })
}

pub(crate) fn build_backend(url: &str, max_connections: usize) -> StoreResult<Backend> {
    let timeout = Some(Duration::from_secs(10));
    match BackendKind::from_url(url)? {
        BackendKind::Postgres => {
            let mut config = ManagerConfig::<AsyncPgConnection>::default();
            // The default recycling runs `SELECT 1` at every checkout: a round trip and
            // a statement on the server for each query the service makes. A connection
            // in steady use proves itself alive; only one idle for longer than
            // [`PG_VERIFY_AFTER_IDLE`] is checked before it is handed out (see
            // [`verify_if_idle`]). A broken connection is discarded either way.
            config.recycling_method = diesel_async::pooled_connection::RecyclingMethod::Fast;
            let manager =
                AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, config);
            let pool = Pool::builder(manager)
                .pre_recycle(deadpool::managed::Hook::async_fn(verify_if_idle))
                .max_size(max_connections.max(1))
                .wait_timeout(timeout)
                .create_timeout(timeout)
                .runtime(deadpool::Runtime::Tokio1)
                .build()
                .map_err(|e| StoreError::Pool(e.to_string()))?;
            Ok(Backend::Pg(pool))
        }
        BackendKind::Sqlite => {
            let path = sqlite_path(url);
            let writer = crate::group_commit::GroupWriter::new(path.clone());
            let reader = Pool::builder(sqlite_manager(path))
                .max_size(max_connections.max(1))
                .wait_timeout(timeout)
                .runtime(deadpool::Runtime::Tokio1)
                .build()
                .map_err(|e| StoreError::Pool(e.to_string()))?;
            Ok(Backend::Sqlite { writer, reader })
        }
    }
}

/// Hide the password of a database URL in messages and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Runs `$body` with `$c` bound to a pooled connection used for reads.
macro_rules! read {
    ($store:expr, |$c:ident| $body:expr) => {
        match &$store.backend {
            $crate::db::Backend::Pg(pool) => {
                let mut obj = pool.get().await?;
                let $c: &mut diesel_async::AsyncPgConnection = &mut obj;
                $body
            }
            $crate::db::Backend::Sqlite { reader, .. } => {
                let mut obj = reader.get().await?;
                let $c: &mut $crate::db::SqliteConn = &mut obj;
                $body
            }
        }
    };
}

/// Runs `$body` inside ONE write transaction: all of it is committed or none of it. On
/// SQLite the body runs inside a savepoint of a batch opened with `BEGIN IMMEDIATE` (so
/// a read-then-write transaction never fails half way on a lock upgrade), committed
/// with other writes made meanwhile (see [`crate::group_commit`]); the macro returns
/// once that commit is done.
macro_rules! transaction {
    ($store:expr, |$c:ident| $body:expr) => {
        match &$store.backend {
            $crate::db::Backend::Pg(pool) => {
                let mut obj = pool.get().await?;
                let conn: &mut diesel_async::AsyncPgConnection = &mut obj;
                diesel_async::AsyncConnection::transaction::<_, $crate::error::StoreError, _>(
                    conn,
                    async |$c| $body,
                )
                .await
            }
            $crate::db::Backend::Sqlite { writer, .. } => {
                writer
                    .transaction(async |$c: &mut $crate::db::SqliteConn| $body)
                    .await
            }
        }
    };
}

/// Declares `trait $trait` with `fn $method(at, limit)`, implemented for both backends:
/// the ids `$query` selects (a claim's candidates), locked with `FOR UPDATE SKIP LOCKED`
/// on PostgreSQL, which alone has it, so that replicas claiming at once take different
/// rows; SQLite's single writer serialises claims by itself. Written out as
/// `impl Future + Send` (not `async fn`) because the transaction callers need the
/// future to be `Send`.
macro_rules! skip_locked_ids {
    ($trait:ident, $method:ident, |$at:ident, $limit:ident| $query:expr) => {
        pub(crate) trait $trait {
            fn $method(
                &mut self,
                $at: chrono::NaiveDateTime,
                $limit: i64,
            ) -> impl std::future::Future<Output = diesel::QueryResult<Vec<String>>> + Send;
        }

        impl $trait for diesel_async::AsyncPgConnection {
            #[allow(clippy::manual_async_fn)]
            fn $method(
                &mut self,
                $at: chrono::NaiveDateTime,
                $limit: i64,
            ) -> impl std::future::Future<Output = diesel::QueryResult<Vec<String>>> + Send {
                async move { $query.for_update().skip_locked().load(self).await }
            }
        }

        impl $trait for $crate::db::SqliteConn {
            #[allow(clippy::manual_async_fn)]
            fn $method(
                &mut self,
                $at: chrono::NaiveDateTime,
                $limit: i64,
            ) -> impl std::future::Future<Output = diesel::QueryResult<Vec<String>>> + Send {
                async move { $query.load(self).await }
            }
        }
    };
}

pub(crate) use read;
pub(crate) use skip_locked_ids;
pub(crate) use transaction;
