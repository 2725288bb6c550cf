//! Expires sessions whose deadline passed: session, payment and open attempts move to
//! expired in one transaction with the `payment.expired` event.

use std::time::Duration;

use nexpay_domain::EventType;
use nexpay_store::{
    now, AttemptRow, AttemptUpdate, PaymentUpdate, SessionRow, SessionUpdate, StatusChange,
    StoreError, StoreResult,
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
        let store = &self.payments.store;
        let mut expired = 0;
        for payment in store.list_expired_direct_payments(now(), BATCH).await? {
            let Some(project) = store.get_project(&payment.project_id).await? else {
                continue;
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
            let mut changes = vec![StatusChange::Payment {
                id: payment.id.clone(),
                from: vec!["PENDING".to_owned()],
                set: PaymentUpdate {
                    status: Some("EXPIRED".to_owned()),
                    resolved_at: Some(Some(at)),
                    updated_at: Some(at),
                    ..Default::default()
                },
            }];
            changes.extend(expire_open_attempts(&attempts, at));
            let hist = [history(
                &payment.id,
                None,
                "payment.expired",
                Some("PENDING"),
                "EXPIRED",
                serde_json::json!({}),
                at,
            )];
            let events = [merchant_event(
                EventType::PaymentExpired,
                &payment,
                &project,
                provider.as_ref(),
                Some(at),
                false,
                &format!("sweeper-{}", payment.id),
                at,
            )];
            match store.apply_changes(&changes, &hist, &events, at).await {
                Ok(()) => {
                    self.payments.committed();
                    expired += 1;
                }
                Err(StoreError::Stale(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(expired)
    }

    async fn expire(&self, s: &SessionRow) -> StoreResult<bool> {
        let store = &self.payments.store;
        let Some(payment) = store.get_payment(&s.payment_id).await? else {
            return Ok(false);
        };
        let Some(project) = store.get_project(&s.project_id).await? else {
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
        let mut changes = vec![
            StatusChange::Session {
                id: s.id.clone(),
                from: vec![s.status.clone()],
                set: SessionUpdate {
                    status: Some("expired".to_owned()),
                    updated_at: Some(at),
                },
            },
            StatusChange::Payment {
                id: payment.id.clone(),
                from: vec!["PENDING".to_owned()],
                set: PaymentUpdate {
                    status: Some("EXPIRED".to_owned()),
                    resolved_at: Some(Some(at)),
                    updated_at: Some(at),
                    ..Default::default()
                },
            },
        ];
        changes.extend(expire_open_attempts(&attempts, at));
        let hist = [history(
            &payment.id,
            None,
            "payment.expired",
            Some("PENDING"),
            "EXPIRED",
            serde_json::json!({"sessionId": s.id}),
            at,
        )];
        let events = [merchant_event(
            EventType::PaymentExpired,
            &payment,
            &project,
            provider.as_ref(),
            Some(at),
            false,
            &format!("sweeper-{}", s.id),
            at,
        )];
        match store.apply_changes(&changes, &hist, &events, at).await {
            Ok(()) => {
                self.payments.committed();
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
                ..Default::default()
            },
        })
        .collect()
}
