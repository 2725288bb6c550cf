//! Expires sessions whose deadline passed: session, payment and open attempts move to
//! expired in one transaction with the `payment.expired` event. An attempt of an open
//! session whose own provider deadline passed expires alone: the session stays open and
//! its page offers the choice again.

use std::time::Duration;

use nexpay_domain::EventType;
use nexpay_store::{
    now, AttemptRow, AttemptUpdate, PaymentRow, PaymentUpdate, SessionRow, SessionUpdate,
    StatusChange, StoreError, StoreResult,
};

use crate::events::{history, merchant_event};
use crate::Payments;

const BATCH: i64 = 100;

pub struct ExpirySweeper {
    payments: Payments,
}

impl ExpirySweeper {
    pub(crate) fn new(payments: Payments) -> Self {
        ExpirySweeper { payments }
    }

    pub async fn run(self, every: Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = self.sweep_once().await {
                tracing::warn!(error = %e, "expiry sweep failed; retrying at next tick");
            }
        }
    }

    /// Expires every overdue session and direct payment; returns how many this call
    /// expired.
    pub async fn sweep_once(&self) -> StoreResult<usize> {
        let mut expired = self.sweep_direct_payments().await?;
        expired += self.sweep_session_attempts().await?;
        loop {
            let batch = self
                .payments
                .store
                .list_expired_sessions(now(), BATCH)
                .await?;
            let n = batch.len();
            for s in batch {
                if self.expire(&s).await? {
                    expired += 1;
                }
            }
            if (n as i64) < BATCH {
                return Ok(expired);
            }
        }
    }

    /// A direct payment has no session deadline: it expires when every open attempt has
    /// passed the provider's own deadline (the QR or link no longer works).
    async fn sweep_direct_payments(&self) -> StoreResult<usize> {
        let mut expired = 0;
        for payment in self
            .payments
            .store
            .list_expired_direct_payments(now(), BATCH)
            .await?
        {
            if self.expire_payment(payment, None).await? {
                expired += 1;
            }
        }
        Ok(expired)
    }

    /// Attempts of open sessions past their provider's deadline: expired one by one, in
    /// the payment's history; the payment stays pending (no merchant event).
    async fn sweep_session_attempts(&self) -> StoreResult<usize> {
        let store = &self.payments.store;
        let mut expired = 0;
        for a in store.list_overdue_session_attempts(now(), BATCH).await? {
            let at = now();
            let changes = expire_open_attempts(std::slice::from_ref(&a), at);
            let hist = [history(
                &a.payment_id,
                Some(&a.id),
                "attempt.expired",
                Some(&a.status),
                "expired",
                serde_json::json!({"provider": a.provider_code}),
                at,
            )];
            match store.apply_changes(&changes, &hist, &[], at).await {
                Ok(()) => {
                    expired += 1;
                    if let Some(p) = store.get_payment(&a.payment_id).await? {
                        self.payments.session_changed(p.session_id.as_deref()).await;
                    }
                }
                Err(StoreError::Stale(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(expired)
    }

    async fn expire(&self, s: &SessionRow) -> StoreResult<bool> {
        match self.payments.store.get_payment(&s.payment_id).await? {
            Some(payment) => self.expire_payment(payment, Some(s)).await,
            None => Ok(false),
        }
    }

    /// Moves the payment (and its session, when it has one) and every open attempt to
    /// expired, with the `payment.expired` event, in one transaction. `false` when
    /// someone else changed it first.
    async fn expire_payment(
        &self,
        payment: PaymentRow,
        session: Option<&SessionRow>,
    ) -> StoreResult<bool> {
        let store = &self.payments.store;
        let Some(project) = store.get_project(&payment.project_id).await? else {
            return Ok(false);
        };
        let attempts = store.list_attempts(&payment.id).await?;
        let provider = match &payment.provider_code {
            Some(code) => store
                .list_providers()
                .await?
                .into_iter()
                .find(|p| &p.code == code),
            None => None,
        };
        let at = now();
        let mut changes = Vec::new();
        if let Some(s) = session {
            changes.push(StatusChange::Session {
                id: s.id.clone(),
                from: vec![s.status.clone()],
                set: SessionUpdate {
                    status: Some("expired".to_owned()),
                    updated_at: Some(at),
                },
            });
        }
        changes.push(StatusChange::Payment {
            id: payment.id.clone(),
            from: vec!["PENDING".to_owned()],
            set: PaymentUpdate {
                status: Some("EXPIRED".to_owned()),
                resolved_at: Some(Some(at)),
                updated_at: Some(at),
                ..Default::default()
            },
        });
        changes.extend(expire_open_attempts(&attempts, at));
        let detail = match session {
            Some(s) => serde_json::json!({"sessionId": s.id}),
            None => serde_json::json!({}),
        };
        let hist = [history(
            &payment.id,
            None,
            "payment.expired",
            Some("PENDING"),
            "EXPIRED",
            detail,
            at,
        )];
        let correlation = format!(
            "sweeper-{}",
            session.map_or(payment.id.as_str(), |s| s.id.as_str())
        );
        let events = [merchant_event(
            EventType::PaymentExpired,
            &payment,
            &project,
            provider.as_ref(),
            Some(at),
            false,
            &correlation,
            at,
        )];
        match store.apply_changes(&changes, &hist, &events, at).await {
            Ok(()) => {
                self.payments.committed();
                self.payments
                    .session_changed(payment.session_id.as_deref())
                    .await;
                Ok(true)
            }
            // Paid, cancelled or expired by someone else in the meantime: nothing to do.
            Err(StoreError::Stale(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

fn expire_open_attempts(attempts: &[AttemptRow], at: chrono::NaiveDateTime) -> Vec<StatusChange> {
    attempts
        .iter()
        .filter(|a| a.status == "created" || a.status == "pending")
        .map(|a| StatusChange::Attempt {
            id: a.id.clone(),
            from: vec![a.status.clone()],
            set: AttemptUpdate {
                status: Some("expired".to_owned()),
                resolved_at: Some(Some(at)),
                updated_at: Some(at),
                // Reconciliation makes a last status check (a payment at the last second
                // is recorded, late) and closes the checkout at the provider.
                next_check_at: Some(Some(at)),
                ..Default::default()
            },
        })
        .collect()
}
