#![forbid(unsafe_code)]
//! Storage for NexPay on PostgreSQL or SQLite through diesel-async, one query code path
//! for both. Functions are named for the action they perform.
//!
//! Lookups by a unique key use `get_result`, not `first`: `first` binds its `LIMIT` as a
//! parameter, which makes SQLite discard the prepared statement at every call (about half
//! of the CPU of a status read went to re-parsing SQL).

mod db;
pub mod error;
mod group_commit;
mod migrate;
pub mod models;
pub mod schema;

mod admin;
mod idempotency;
mod merchant_webhooks;
mod outbox;
mod payments;
mod projects;
mod provider_webhooks;
mod providers;
mod reconcile;
pub mod testing;

pub use db::{redact_url, BackendKind};
pub use error::{StoreError, StoreResult};
pub use group_commit::GroupCommitStats;
pub use idempotency::{IdempotencyClaim, IdempotencyRecord, IdempotencyScope};
pub use merchant_webhooks::{
    AttemptOutcome, AttemptRecord, EndpointShutdown, EndpointUpdate, SecretRotation,
    DELIVERY_FAILED, DELIVERY_PENDING, DELIVERY_SUCCEEDED,
};
pub use migrate::run_migrations;
pub use models::*;
pub use payments::{
    AttemptUpdate, NewPaymentBundle, OutboxEvent, PaymentUpdate, SessionUpdate, StatusChange,
};
pub use projects::ProjectUpdate;
pub use provider_webhooks::WebhookInsert;
pub use providers::{
    OmConfigDoc, OmWebhookDoc, OmWebhookStrategy, ProviderConfigDoc, ProviderConfigUpdate,
    WaveConfigDoc, WaveWebhookDoc, WaveWebhookStrategy,
};
pub use reconcile::ReconcileTarget;

use chrono::NaiveDateTime;

/// The store: cheap to clone, shared by every handler.
#[derive(Clone)]
pub struct Store {
    pub(crate) backend: db::Backend,
    kind: BackendKind,
    /// Bumped after every committed change that can make a valid API key invalid
    /// (revocation, rotation, archiving a project). Shared by the clones of this store,
    /// so a key cache in the same process notices such a change at once, whoever made it.
    key_changes: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Store {
    /// Connects (lazily: the pools open connections on first use) and applies pending
    /// migrations.
    pub async fn connect(url: &str, max_connections: usize) -> StoreResult<Store> {
        if let BackendKind::Sqlite = BackendKind::from_url(url)? {
            let path = db::sqlite_path(url);
            if let Some(parent) = std::path::Path::new(&path).parent() {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        StoreError::Config(format!("cannot create {parent:?}: {e}"))
                    })?;
                }
            }
        }
        run_migrations(url).await?;
        Ok(Store {
            backend: db::build_backend(url, max_connections)?,
            kind: BackendKind::from_url(url)?,
            key_changes: std::sync::Arc::default(),
        })
    }

    pub fn kind(&self) -> BackendKind {
        self.kind
    }

    /// On SQLite, how many write transactions ran and how many commits they took (the
    /// writer commits concurrent writes together); `None` on PostgreSQL, which groups
    /// commits by itself.
    pub fn group_commit_stats(&self) -> Option<GroupCommitStats> {
        match &self.backend {
            db::Backend::Sqlite { writer, .. } => Some(writer.stats()),
            db::Backend::Pg(_) => None,
        }
    }

    /// How many key-invalidating changes (revocation, rotation, archiving a project)
    /// this process committed through this store or its clones. Changes made by other
    /// processes show in [`Store::api_key_fingerprint`] instead.
    pub fn key_change_epoch(&self) -> u64 {
        self.key_changes.load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn key_changed(&self) {
        self.key_changes
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// A round trip to the database, for readiness probes.
    pub async fn health(&self) -> StoreResult<()> {
        use diesel_async::SimpleAsyncConnection;
        db::read!(self, |c| c
            .batch_execute("SELECT 1")
            .await
            .map_err(StoreError::from))
    }
}

/// Now, in UTC, at the microsecond precision both databases keep, so a value read back
/// compares equal to the value written.
pub fn now() -> NaiveDateTime {
    let n = chrono::Utc::now().naive_utc();
    chrono::DurationRound::duration_trunc(n, chrono::Duration::microseconds(1)).unwrap_or(n)
}
