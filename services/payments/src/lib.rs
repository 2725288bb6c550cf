#![forbid(unsafe_code)]
//! The payments service: owner of sessions, payments and attempts. Every write to them
//! happens here, as a conditional update in one transaction with its history row and
//! its outbox event. Reached over the bus only.

mod commands;
mod direct;
mod events;
mod provider_updates;
mod reconcile;
mod relay;
mod sessions;
mod sweeper;
mod views;

use std::sync::Arc;
use std::time::Duration;

use nexpay_bus::{Bus, BusError, ConsumerHandle, ConsumerOptions, HandlerError};
use nexpay_cache::{names, Cache, FailOpen};
use nexpay_store::{Store, StoreError};

pub use reconcile::{ReconcileSchedule, Reconciler};
pub use relay::OutboxRelay;
pub use sweeper::ExpirySweeper;

#[derive(Debug, Clone)]
pub struct PaymentsConfig {
    /// Base URL of the hosted checkout, e.g. `https://pay.example.com`.
    pub public_url: String,
    pub session_ttl: Duration,
    pub provider_timeout: Duration,
    pub reconcile: ReconcileSchedule,
}

#[derive(Clone)]
pub struct Payments {
    pub(crate) store: Store,
    pub(crate) bus: Arc<dyn Bus>,
    pub(crate) config: Arc<PaymentsConfig>,
    /// Wakes the outbox relay right after a commit, so events leave in milliseconds
    /// without polling the database in a tight loop.
    pub(crate) outbox_signal: Arc<tokio::sync::Notify>,
    /// The cache the gateway serves session statuses from, if any.
    pub(crate) cache: Option<Arc<FailOpen<Arc<dyn Cache>>>>,
}

impl Payments {
    pub fn new(store: Store, bus: Arc<dyn Bus>, config: PaymentsConfig) -> Payments {
        Payments {
            store,
            bus,
            config: Arc::new(config),
            outbox_signal: Arc::new(tokio::sync::Notify::new()),
            cache: None,
        }
    }

    /// Shares the gateway's cache, so that the session statuses it serves from there
    /// are invalidated after every change payments commits to a session, the expiry
    /// sweeper's included (see [`Payments::session_changed`]). A cache failure is
    /// logged and ignored.
    pub fn with_cache(mut self, cache: Arc<dyn Cache>) -> Self {
        self.cache = Some(Arc::new(FailOpen::new(cache)));
        self
    }

    /// Serves the payments command queue.
    pub async fn serve(&self, opts: ConsumerOptions) -> Result<ConsumerHandle, BusError> {
        let handler = Arc::new(commands::CommandHandler {
            payments: self.clone(),
        });
        self.bus
            .serve(nexpay_contracts::queues::PAYMENTS, handler, opts)
            .await
    }

    pub fn outbox_relay(&self) -> OutboxRelay {
        OutboxRelay::new(
            self.store.clone(),
            self.bus.clone(),
            self.outbox_signal.clone(),
        )
    }

    pub fn reconciler(&self) -> Reconciler {
        Reconciler::new(self.clone())
    }

    pub fn expiry_sweeper(&self) -> ExpirySweeper {
        ExpirySweeper::new(self.clone())
    }

    pub(crate) fn committed(&self) {
        self.outbox_signal.notify_one();
    }

    /// Called right after a transaction that changed the session (its status, its
    /// payment or an attempt) committed: replaces the cached status with the
    /// [`names::SESSION_CHANGED`] marker, which makes the next reads go to the database
    /// and keeps a view read before the change from being cached after it. Every write
    /// to sessions goes through this service, so this is the one place to do it.
    pub(crate) async fn session_changed(&self, session_id: Option<&str>) {
        if let (Some(cache), Some(id)) = (&self.cache, session_id) {
            let _ = cache
                .set(
                    &names::session_status(id),
                    names::SESSION_CHANGED,
                    names::SESSION_CHANGED_TTL,
                )
                .await;
        }
    }
}

/// Business answers travel back to the gateway as `Rejected`; storage trouble is
/// retryable (the request is redelivered, and the merchant may retry with the same key).
pub(crate) fn rejected(status: u16, code: &str, message: impl Into<String>) -> HandlerError {
    HandlerError::Rejected {
        status,
        code: code.to_owned(),
        message: message.into(),
        details: serde_json::json!([]),
    }
}

pub(crate) fn store_error(e: StoreError) -> HandlerError {
    tracing::error!(error = %e, "store error in payments");
    if e.is_transient() {
        HandlerError::Retryable(e.to_string())
    } else {
        HandlerError::Permanent("internal storage error".to_owned())
    }
}
