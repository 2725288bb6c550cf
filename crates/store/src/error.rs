use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// Errors of the store. Unique-key violations are surfaced as `Conflict` so callers can
/// turn them into 409/422 answers instead of 500s.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A conditional update matched no row: another writer got there first. The
    /// transaction was rolled back; the caller re-reads and decides.
    #[error("stale state: {0}")]
    Stale(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Database(#[source] DieselError),
    #[error("connection pool error: {0}")]
    Pool(String),
    /// The write was rolled back with the batch it was committed with (SQLite's group
    /// commit): the commit failed, or another write broke the transaction. Nothing of
    /// it was kept; running it again is safe.
    #[error("{0}")]
    Aborted(String),
    #[error("migration error: {0}")]
    Migration(String),
    #[error("invalid stored data: {0}")]
    Corrupt(String),
    #[error("configuration error: {0}")]
    Config(String),
}

impl StoreError {
    /// Errors worth retrying: the connection went away, the database was busy, or it
    /// broke a deadlock by aborting this transaction.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Pool(_) | StoreError::Aborted(_) => true,
            StoreError::Database(DieselError::DatabaseError(kind, info)) => {
                matches!(
                    kind,
                    DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::SerializationFailure
                ) || info.message().contains("database is locked")
                    // PostgreSQL picked this transaction as a deadlock victim (40P01):
                    // the other one went through; running it again is safe.
                    || info.message().contains("deadlock detected")
            }
            StoreError::Database(DieselError::BrokenTransactionManager) => true,
            _ => false,
        }
    }
}

impl From<DieselError> for StoreError {
    fn from(e: DieselError) -> Self {
        match e {
            DieselError::NotFound => StoreError::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, ref info) => {
                StoreError::Conflict(info.message().to_owned())
            }
            other => StoreError::Database(other),
        }
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for StoreError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        StoreError::Pool(e.to_string())
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
