//! Reconciliation: open attempts are checked with their provider on a schedule (first
//! after `first_check`, then every `interval` until the attempt's expiry plus `grace`),
//! so a lost webhook still ends in the right state. Attempts we closed ourselves (the
//! session expired, another attempt won, the customer switched provider) are closed at
//! the provider too where it can (Wave expire), after a last status check, so a payment
//! made at the last second is recorded (late), not lost.
//!
//! Every replica may run one: each check is claimed with a conditional update of the
//! attempt's `next_check_at`.

use std::time::Duration;

use nexpay_bus::{BusError, Envelope, HandlerError};
use nexpay_contracts::{
    kinds, queues, ExpireCheckout, FetchStatus, ProviderStatus, ProviderUpdate,
};
use nexpay_store::{now, AttemptUpdate, ReconcileTarget, StoreError, StoreResult};
use serde_json::json;

use crate::events::history;
use crate::provider_updates::{attempt_change, resolved};
use crate::Payments;

/// When attempts are checked. Configured by `RECONCILE_*` variables.
#[derive(Debug, Clone, Copy)]
pub struct ReconcileSchedule {
    pub first_check: Duration,
    pub interval: Duration,
    pub grace: Duration,
}

impl Default for ReconcileSchedule {
    fn default() -> Self {
        ReconcileSchedule {
            first_check: Duration::from_secs(60),
            interval: Duration::from_secs(300),
            grace: Duration::from_secs(600),
        }
    }
}

const BATCH: i64 = 50;
/// A claimed check not finished by then (the replica died) is due again.
const LEASE: chrono::Duration = chrono::Duration::seconds(120);

pub struct Reconciler {
    payments: Payments,
}

fn chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl Reconciler {
    pub(crate) fn new(payments: Payments) -> Self {
        Reconciler { payments }
    }

    pub async fn run(self, poll: Duration) {
        let mut tick = tokio::time::interval(poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = self.run_once().await {
                tracing::warn!(error = %e, "reconciliation pass failed; retrying at next tick");
            }
        }
    }

    /// Checks every attempt due now; returns how many were checked.
    pub async fn run_once(&self) -> StoreResult<usize> {
        let store = &self.payments.store;
        let mut checked = 0;
        loop {
            let due = store.list_due_attempts(now(), BATCH).await?;
            let n = due.len();
            for target in due {
                let Some(at) = target.attempt.next_check_at else {
                    continue;
                };
                if !store
                    .claim_attempt_check(&target.attempt.id, at, now() + LEASE)
                    .await?
                {
                    continue;
                }
                let next = self.check(&target).await;
                store
                    .schedule_attempt_check(&target.attempt.id, next)
                    .await?;
                checked += 1;
            }
            if (n as i64) < BATCH {
                return Ok(checked);
            }
        }
    }

    /// One check; returns when to check again (`None`: done with this attempt).
    async fn check(&self, t: &ReconcileTarget) -> Option<chrono::NaiveDateTime> {
        let p = &self.payments;
        let schedule = p.config.reconcile;
        let retry = Some(now() + chrono(schedule.interval));
        if matches!(t.attempt.status.as_str(), "succeeded" | "failed") {
            return None;
        }
        let status = match self.fetch_status(t).await {
            Ok(s) => s,
            Err(FetchError::NotFound(message)) if t.attempt.status == "created" => {
                // The provider never opened it (we crashed or timed out before it
                // answered): nothing can be paid, so the attempt fails.
                self.fail_unopened(t, &message).await;
                return None;
            }
            Err(FetchError::Unsupported) => return None,
            Err(e) => {
                tracing::info!(attempt = %t.attempt.id, error = %e, "status check failed; will retry");
                return if self.past_deadline(t) { None } else { retry };
            }
        };
        let update = ProviderUpdate {
            provider_code: t.attempt.provider_code.clone(),
            mode: t.payment.mode.clone(),
            provider_reference: t.attempt.provider_reference.clone(),
            status: status.clone(),
            source: "reconciliation".to_owned(),
            webhook_id: None,
            webhook_claim: None,
        };
        let corr = format!("reconcile-{}", t.attempt.id);
        if let Err(e) = p.apply_provider_update(update, &corr).await {
            tracing::warn!(attempt = %t.attempt.id, error = %e, "cannot apply a reconciled status");
            return retry;
        }
        // Where do the attempt and its payment stand now?
        let Ok(Some(fresh)) = p
            .store
            .find_attempt_by_reference(&t.attempt.provider_reference)
            .await
        else {
            return retry;
        };
        let attempt = &fresh.attempt;
        if matches!(attempt.status.as_str(), "succeeded" | "failed") {
            return None;
        }
        if attempt.flag.is_some() {
            // Waiting for an admin; keep watching until the deadline.
            return (!self.past_deadline(&fresh)).then_some(retry).flatten();
        }
        let still_ours = matches!(attempt.status.as_str(), "created" | "pending")
            && fresh.payment.status == "PENDING";
        if still_ours {
            if self.past_deadline(&fresh) {
                self.close_locally(&fresh, "expired", "deadline passed without payment")
                    .await;
                return None;
            }
            return retry;
        }
        // We gave up on it (or another attempt won): close it at the provider.
        match self.expire_at_provider(&fresh).await {
            Ok(()) => {
                if matches!(attempt.status.as_str(), "created" | "pending") {
                    self.close_locally(&fresh, "cancelled", "payment already resolved")
                        .await;
                }
                None
            }
            // The provider cannot close it (an Orange QR code runs until its validity
            // ends): keep checking for a late payment until the deadline.
            Err(_) if !self.past_deadline(&fresh) => retry,
            Err(_) => {
                if matches!(attempt.status.as_str(), "created" | "pending") {
                    self.close_locally(&fresh, "expired", "deadline passed")
                        .await;
                }
                None
            }
        }
    }

    /// The attempt's own deadline plus the grace period is behind us.
    fn past_deadline(&self, t: &ReconcileTarget) -> bool {
        let grace = chrono(self.payments.config.reconcile.grace);
        let deadline = t
            .attempt
            .expires_at
            .unwrap_or(t.attempt.created_at + chrono(self.payments.config.session_ttl));
        now() > deadline + grace
    }

    async fn fetch_status(&self, t: &ReconcileTarget) -> Result<ProviderStatus, FetchError> {
        let cmd = FetchStatus {
            provider_code: t.attempt.provider_code.clone(),
            mode: t.payment.mode.clone(),
            provider_id: t.attempt.provider_id.clone(),
            provider_reference: t.attempt.provider_reference.clone(),
        };
        let value = self
            .request(
                kinds::FETCH_STATUS,
                serde_json::to_value(&cmd).unwrap_or_default(),
            )
            .await?;
        serde_json::from_value(value).map_err(|e| FetchError::Other(e.to_string()))
    }

    async fn expire_at_provider(&self, t: &ReconcileTarget) -> Result<(), FetchError> {
        let Some(provider_id) = t.attempt.provider_id.clone() else {
            return Ok(());
        };
        let cmd = ExpireCheckout {
            provider_code: t.attempt.provider_code.clone(),
            mode: t.payment.mode.clone(),
            provider_id,
        };
        self.request(
            kinds::EXPIRE_CHECKOUT,
            serde_json::to_value(&cmd).unwrap_or_default(),
        )
        .await
        .map(|_| ())
    }

    async fn request(
        &self,
        kind: &str,
        payload: serde_json::Value,
    ) -> Result<serde_json::Value, FetchError> {
        let p = &self.payments;
        let msg = Envelope::new(
            kind,
            format!("reconcile-{}", nexpay_domain::EventId::generate()),
            payload,
        );
        match p
            .bus
            .request(queues::PROVIDERS, msg, p.config.provider_timeout)
            .await
        {
            Ok(v) => Ok(v),
            Err(BusError::Handler(HandlerError::Rejected { code, message, .. })) => {
                Err(match code.as_str() {
                    "provider_unsupported" => FetchError::Unsupported,
                    "provider_unavailable" | "provider_not_configured" => {
                        FetchError::Other(format!("{code}: {message}"))
                    }
                    _ => FetchError::NotFound(format!("{code}: {message}")),
                })
            }
            Err(e) => Err(FetchError::Other(e.to_string())),
        }
    }

    /// Moves an open attempt to `to` (expired / cancelled) on our side.
    async fn close_locally(&self, t: &ReconcileTarget, to: &str, why: &str) {
        let at = now();
        let changes = [attempt_change(
            &t.attempt,
            resolved(to, at, AttemptUpdate::default()),
        )];
        let hist = [history(
            &t.payment.id,
            Some(&t.attempt.id),
            &format!("attempt.{to}"),
            Some(&t.attempt.status),
            to,
            json!({"source": "reconciliation", "reason": why}),
            at,
        )];
        match self
            .payments
            .store
            .apply_changes(&changes, &hist, &[], at)
            .await
        {
            Ok(()) => {
                self.payments
                    .session_changed(t.payment.session_id.as_deref())
                    .await
            }
            Err(StoreError::Stale(_)) => {}
            Err(e) => {
                tracing::warn!(attempt = %t.attempt.id, error = %e, "cannot close an attempt")
            }
        }
    }

    async fn fail_unopened(&self, t: &ReconcileTarget, message: &str) {
        let p = &self.payments;
        let (Ok(project), Ok(provider)) = (
            p.project(&t.payment.project_id).await,
            p.provider_row(&t.attempt.provider_code).await,
        ) else {
            return;
        };
        let corr = format!("reconcile-{}", t.attempt.id);
        if let Err(e) = p
            .record_creation_failure(
                &t.payment,
                &t.attempt,
                &project,
                &provider,
                "not_opened",
                &format!("the provider never opened this checkout ({message})"),
                &corr,
            )
            .await
        {
            tracing::warn!(attempt = %t.attempt.id, error = %e, "cannot fail an unopened attempt");
        }
    }
}

#[derive(Debug)]
enum FetchError {
    /// The provider does not know the checkout.
    NotFound(String),
    /// The provider cannot do this (e.g. expire an Orange QR code).
    Unsupported,
    Other(String),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::NotFound(m) => write!(f, "not found at the provider: {m}"),
            FetchError::Unsupported => f.write_str("not supported by the provider"),
            FetchError::Other(m) => f.write_str(m),
        }
    }
}
