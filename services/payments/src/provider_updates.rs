//! What providers report, applied to attempts, payments and sessions: a confirmed
//! status (from provider-adapter after a webhook, or from reconciliation) becomes a
//! conditional update in one transaction with its history and its merchant event.
//!
//! - A success is accepted only when the provider's amount and currency are the
//!   payment's; otherwise the attempt is flagged for an admin and nothing else changes.
//! - A success after we gave up (expired, cancelled, failed) is recorded as succeeded
//!   and flagged late: the customer has paid.
//! - A second attempt succeeding on an already paid payment is recorded and flagged
//!   (`second_success`), never silently.
//! - A failure ends a direct payment; a session goes back to the provider choice.

use nexpay_bus::HandlerError;
use nexpay_contracts::{ProviderState, ProviderUpdate, ProviderUpdateOutcome};
use nexpay_domain::{
    attempt_transition, payment_transition, session_transition, AttemptEvent, AttemptStatus,
    EventType, PaymentEvent, PaymentStatus, SessionEvent, SessionStatus, TransitionError,
};
use nexpay_store::{
    now, AttemptUpdate, OutboxEvent, PaymentEventRow, PaymentUpdate, ReconcileTarget,
    SessionUpdate, StatusChange, StoreError,
};
use serde_json::json;

use crate::events::{history, merchant_event};
use crate::{store_error, Payments};

/// A lost race (another webhook or a reconciliation check changed the rows first) is
/// retried on fresh rows this many times.
const RACE_RETRIES: usize = 3;

fn outcome(outcome: &str, payment_status: Option<&str>) -> ProviderUpdateOutcome {
    ProviderUpdateOutcome {
        outcome: outcome.to_owned(),
        payment_status: payment_status.map(str::to_owned),
    }
}

/// One transaction's worth of writes.
#[derive(Default)]
struct Plan {
    changes: Vec<StatusChange>,
    history: Vec<PaymentEventRow>,
    events: Vec<OutboxEvent>,
    outcome: String,
    payment_status: String,
}

impl Payments {
    pub async fn apply_provider_update(
        &self,
        update: ProviderUpdate,
        corr: &str,
    ) -> Result<ProviderUpdateOutcome, HandlerError> {
        for _ in 0..RACE_RETRIES {
            let Some(target) = self
                .store
                .find_attempt_by_reference(&update.provider_reference)
                .await
                .map_err(store_error)?
            else {
                tracing::warn!(reference = %update.provider_reference, provider = %update.provider_code, "provider update for an unknown reference");
                return Ok(outcome("unknown_reference", None));
            };
            if target.payment.mode != update.mode
                || target.attempt.provider_code != update.provider_code
            {
                // A test-mode credential must never move a live payment (or the reverse).
                tracing::warn!(reference = %update.provider_reference, "provider update from another mode or provider refused");
                return Ok(outcome("refused_other_mode", None));
            }
            let plan = self.plan(&target, &update, corr).await?;
            let at = now();
            match self
                .store
                .apply_changes(&plan.changes, &plan.history, &plan.events, at)
                .await
            {
                Ok(()) => {
                    if !plan.events.is_empty() {
                        self.committed();
                    }
                    if !plan.changes.is_empty() {
                        self.session_changed(target.payment.session_id.as_deref())
                            .await;
                    }
                    return Ok(outcome(&plan.outcome, Some(&plan.payment_status)));
                }
                Err(StoreError::Stale(_)) => continue,
                Err(e) => return Err(store_error(e)),
            }
        }
        Err(HandlerError::Retryable(
            "the payment kept changing while applying a provider update".to_owned(),
        ))
    }

    async fn plan(
        &self,
        t: &ReconcileTarget,
        u: &ProviderUpdate,
        corr: &str,
    ) -> Result<Plan, HandlerError> {
        let at = now();
        let (payment, attempt) = (&t.payment, &t.attempt);
        let mut plan = Plan {
            payment_status: payment.status.clone(),
            outcome: "unchanged".to_owned(),
            ..Plan::default()
        };
        if let Some(claim) = &u.webhook_claim {
            // The webhook said something the provider's status API does not confirm.
            plan.history.push(history(
                &payment.id,
                Some(&attempt.id),
                "provider.webhook_disputed",
                Some(&attempt.status),
                &attempt.status,
                json!({
                    "webhook_id": u.webhook_id,
                    "claimed": claim,
                    "confirmed": u.status,
                }),
                at,
            ));
        }
        let attempt_status = AttemptStatus::parse(&attempt.status)
            .map_err(|e| HandlerError::Permanent(e.to_string()))?;
        match &u.status.state {
            ProviderState::Pending => {}
            ProviderState::Succeeded => {
                self.plan_success(t, u, corr, attempt_status, &mut plan)
                    .await?
            }
            ProviderState::Failed { code, message } => {
                self.plan_failure(t, code, message, corr, attempt_status, &mut plan)
                    .await?
            }
            // The payer declined: like a failure, the session goes back to the choice
            // and a direct payment ends.
            ProviderState::Cancelled => {
                self.plan_failure(
                    t,
                    "cancelled_by_payer",
                    "The payer declined the payment",
                    corr,
                    attempt_status,
                    &mut plan,
                )
                .await?
            }
            ProviderState::Expired => {
                let (event, to) = (AttemptEvent::Expire, "expired");
                if attempt_transition(attempt_status, &event).is_ok() {
                    plan.changes.push(attempt_change(
                        attempt,
                        resolved(to, at, AttemptUpdate::default()),
                    ));
                    plan.history.push(history(
                        &payment.id,
                        Some(&attempt.id),
                        &format!("attempt.{to}"),
                        Some(&attempt.status),
                        to,
                        json!({"source": u.source}),
                        at,
                    ));
                    plan.outcome = "applied".to_owned();
                }
            }
        }
        Ok(plan)
    }

    async fn plan_success(
        &self,
        t: &ReconcileTarget,
        u: &ProviderUpdate,
        corr: &str,
        attempt_status: AttemptStatus,
        plan: &mut Plan,
    ) -> Result<(), HandlerError> {
        let at = now();
        let (payment, attempt) = (&t.payment, &t.attempt);
        let amount_ok = u.status.amount_minor == Some(payment.amount)
            && u.status
                .currency
                .as_deref()
                .is_some_and(|c| c.eq_ignore_ascii_case(&payment.currency));
        if !amount_ok {
            // Money moved, but not the money we asked for: an admin decides.
            if attempt.flag.as_deref() != Some("amount_mismatch") {
                plan.changes.push(flag(attempt, "amount_mismatch", at));
                plan.history.push(history(
                    &payment.id,
                    Some(&attempt.id),
                    "attempt.flagged",
                    Some(&attempt.status),
                    &attempt.status,
                    json!({
                        "flag": "amount_mismatch",
                        "expected": {"amount": payment.amount, "currency": payment.currency},
                        "reported": {"amount": u.status.amount_minor, "currency": u.status.currency},
                        "source": u.source,
                    }),
                    at,
                ));
            }
            plan.outcome = "flagged".to_owned();
            return Ok(());
        }
        let attempt_t = match attempt_transition(attempt_status, &AttemptEvent::ProviderSucceeded) {
            Ok(t) => t,
            Err(TransitionError::Duplicate) => return Ok(()),
            Err(e) => return Err(HandlerError::Permanent(e.to_string())),
        };
        let payment_status = PaymentStatus::parse(&payment.status)
            .map_err(|e| HandlerError::Permanent(e.to_string()))?;
        let payment_t = payment_transition(payment_status, &PaymentEvent::ProviderSucceeded);
        let second_success = matches!(payment_t, Err(TransitionError::Duplicate));
        plan.changes.push(attempt_change(
            attempt,
            resolved(
                "succeeded",
                at,
                AttemptUpdate {
                    provider_transaction_id: Some(u.status.transaction_id.clone()),
                    late: Some(attempt_t.late),
                    flag: second_success.then(|| Some("second_success".to_owned())),
                    ..Default::default()
                },
            ),
        ));
        plan.history.push(history(
            &payment.id,
            Some(&attempt.id),
            "attempt.succeeded",
            Some(&attempt.status),
            "succeeded",
            json!({
                "source": u.source,
                "transaction_id": u.status.transaction_id,
                "webhook_id": u.webhook_id,
                "late": attempt_t.late,
            }),
            at,
        ));
        plan.outcome = "applied".to_owned();
        if second_success {
            tracing::error!(payment = %payment.id, attempt = %attempt.id, "a second attempt succeeded on a paid payment; flagged for an admin");
            plan.history.push(history(
                &payment.id,
                Some(&attempt.id),
                "payment.second_success",
                Some(&payment.status),
                &payment.status,
                json!({"flag": "second_success", "transaction_id": u.status.transaction_id}),
                at,
            ));
            plan.outcome = "flagged".to_owned();
            return Ok(());
        }
        let payment_t = payment_t.map_err(|e| HandlerError::Permanent(e.to_string()))?;
        let resolved_at = Some(at);
        plan.changes.push(StatusChange::Payment {
            id: payment.id.clone(),
            from: vec![payment.status.clone()],
            set: PaymentUpdate {
                status: Some("SUCCEEDED".to_owned()),
                provider_code: Some(Some(attempt.provider_code.clone())),
                late: Some(payment_t.late),
                resolved_at: Some(resolved_at),
                updated_at: Some(at),
            },
        });
        plan.history.push(history(
            &payment.id,
            Some(&attempt.id),
            "payment.succeeded",
            Some(&payment.status),
            "SUCCEEDED",
            json!({"late": payment_t.late, "source": u.source}),
            at,
        ));
        if let Some(session_id) = &payment.session_id {
            if let Some(session) = self
                .store
                .get_session(session_id)
                .await
                .map_err(store_error)?
            {
                let status = SessionStatus::parse(&session.status)
                    .map_err(|e| HandlerError::Permanent(e.to_string()))?;
                if session_transition(status, &SessionEvent::ProviderSucceeded).is_ok() {
                    plan.changes.push(StatusChange::Session {
                        id: session.id.clone(),
                        from: vec![session.status.clone()],
                        set: SessionUpdate {
                            status: Some("succeeded".to_owned()),
                            updated_at: Some(at),
                        },
                    });
                }
            }
        }
        let project = self.project_any(&payment.project_id).await?;
        let provider = self.provider_row(&attempt.provider_code).await.ok();
        let mut after = payment.clone();
        after.status = "SUCCEEDED".to_owned();
        after.provider_code = Some(attempt.provider_code.clone());
        after.late = payment_t.late;
        after.resolved_at = resolved_at;
        plan.events.push(merchant_event(
            EventType::PaymentSucceeded,
            &after,
            &project,
            provider.as_ref(),
            resolved_at,
            payment_t.late,
            corr,
            at,
        ));
        plan.payment_status = "SUCCEEDED".to_owned();
        Ok(())
    }

    async fn plan_failure(
        &self,
        t: &ReconcileTarget,
        code: &str,
        message: &str,
        corr: &str,
        attempt_status: AttemptStatus,
        plan: &mut Plan,
    ) -> Result<(), HandlerError> {
        let at = now();
        let (payment, attempt) = (&t.payment, &t.attempt);
        if attempt_transition(attempt_status, &AttemptEvent::ProviderFailed).is_err() {
            return Ok(());
        }
        plan.changes.push(attempt_change(
            attempt,
            resolved(
                "failed",
                at,
                AttemptUpdate {
                    failure_code: Some(Some(code.to_owned())),
                    failure_message: Some(Some(message.to_owned())),
                    ..Default::default()
                },
            ),
        ));
        plan.history.push(history(
            &payment.id,
            Some(&attempt.id),
            "attempt.failed",
            Some(&attempt.status),
            "failed",
            json!({"code": code, "message": message}),
            at,
        ));
        plan.outcome = "applied".to_owned();
        if payment.status != "PENDING" {
            return Ok(());
        }
        match &payment.session_id {
            Some(session_id) => {
                // Back to the provider choice, if this attempt is the session's current one.
                let attempts = self
                    .store
                    .list_attempts(&payment.id)
                    .await
                    .map_err(store_error)?;
                let latest = attempts.iter().max_by_key(|a| a.created_at);
                if latest.is_some_and(|a| a.id == attempt.id) {
                    plan.changes.push(StatusChange::Session {
                        id: session_id.clone(),
                        from: vec!["pending".to_owned()],
                        set: SessionUpdate {
                            status: Some("opened".to_owned()),
                            updated_at: Some(at),
                        },
                    });
                }
            }
            None => {
                plan.changes.push(StatusChange::Payment {
                    id: payment.id.clone(),
                    from: vec!["PENDING".to_owned()],
                    set: PaymentUpdate {
                        status: Some("FAILED".to_owned()),
                        resolved_at: Some(Some(at)),
                        updated_at: Some(at),
                        ..Default::default()
                    },
                });
                plan.history.push(history(
                    &payment.id,
                    Some(&attempt.id),
                    "payment.failed",
                    Some("PENDING"),
                    "FAILED",
                    json!({"code": code}),
                    at,
                ));
                let project = self.project_any(&payment.project_id).await?;
                let provider = self.provider_row(&attempt.provider_code).await.ok();
                let mut after = payment.clone();
                after.status = "FAILED".to_owned();
                after.resolved_at = Some(at);
                plan.events.push(merchant_event(
                    EventType::PaymentFailed,
                    &after,
                    &project,
                    provider.as_ref(),
                    Some(at),
                    false,
                    corr,
                    at,
                ));
                plan.payment_status = "FAILED".to_owned();
            }
        }
        Ok(())
    }

    /// The payment's project, archived or not: money taken is recorded either way.
    pub(crate) async fn project_any(
        &self,
        id: &str,
    ) -> Result<nexpay_store::ProjectRow, HandlerError> {
        self.store
            .get_project(id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| HandlerError::Permanent(format!("project {id} is missing")))
    }
}

/// A conditional change of `attempt`: applied only if its status has not moved since it
/// was read.
pub(crate) fn attempt_change(
    attempt: &nexpay_store::AttemptRow,
    set: AttemptUpdate,
) -> StatusChange {
    StatusChange::Attempt {
        id: attempt.id.clone(),
        from: vec![attempt.status.clone()],
        set,
    }
}

/// `set`, completed to move an attempt to the final status `to` at `at`, with nothing
/// left for reconciliation to check.
pub(crate) fn resolved(to: &str, at: chrono::NaiveDateTime, set: AttemptUpdate) -> AttemptUpdate {
    AttemptUpdate {
        status: Some(to.to_owned()),
        resolved_at: Some(Some(at)),
        updated_at: Some(at),
        next_check_at: Some(None),
        ..set
    }
}

/// Sets a flag on an attempt, whatever its status (which must not have moved).
fn flag(attempt: &nexpay_store::AttemptRow, flag: &str, at: chrono::NaiveDateTime) -> StatusChange {
    attempt_change(
        attempt,
        AttemptUpdate {
            flag: Some(Some(flag.to_owned())),
            updated_at: Some(at),
            ..Default::default()
        },
    )
}
