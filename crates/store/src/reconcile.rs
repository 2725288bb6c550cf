//! Reconciliation's side of attempts: which open attempts are due for a status check
//! with their provider, claimed one replica at a time, and rescheduled.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::{read, transaction};
use crate::error::StoreResult;
use crate::models::{AttemptRow, PaymentRow};
use crate::schema::{payment_attempts as pa, payments as p};
use crate::{now, Store};

/// An attempt due for a check, with its payment.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconcileTarget {
    pub attempt: AttemptRow,
    pub payment: PaymentRow,
}

impl Store {
    /// Attempts whose check is due at `at`, oldest deadline first.
    pub async fn list_due_attempts(
        &self,
        at: NaiveDateTime,
        limit: i64,
    ) -> StoreResult<Vec<ReconcileTarget>> {
        let rows: Vec<(AttemptRow, PaymentRow)> = read!(self, |c| Ok::<_, crate::StoreError>(
            pa::table
                .inner_join(p::table.on(p::id.eq(pa::payment_id)))
                .filter(pa::next_check_at.le(at))
                .order(pa::next_check_at.asc())
                .limit(limit)
                .select((AttemptRow::as_select(), PaymentRow::as_select()))
                .load(c)
                .await?
        ))?;
        Ok(rows
            .into_iter()
            .map(|(attempt, payment)| ReconcileTarget { attempt, payment })
            .collect())
    }

    /// Takes the check of `attempt_id` due at `due`, moving its schedule to `lease_until`
    /// and counting it; `false` when another replica took it first.
    pub async fn claim_attempt_check(
        &self,
        attempt_id: &str,
        due: NaiveDateTime,
        lease_until: NaiveDateTime,
    ) -> StoreResult<bool> {
        transaction!(self, |c| {
            let n = diesel::update(
                pa::table
                    .find(attempt_id)
                    .filter(pa::next_check_at.eq(Some(due))),
            )
            .set((
                pa::next_check_at.eq(Some(lease_until)),
                pa::checks.eq(pa::checks + 1),
            ))
            .execute(c)
            .await?;
            Ok(n == 1)
        })
    }

    /// Sets (or clears, with `None`) the next check of an attempt.
    pub async fn schedule_attempt_check(
        &self,
        attempt_id: &str,
        next: Option<NaiveDateTime>,
    ) -> StoreResult<()> {
        transaction!(self, |c| {
            diesel::update(pa::table.find(attempt_id))
                .set((pa::next_check_at.eq(next), pa::updated_at.eq(now())))
                .execute(c)
                .await?;
            Ok(())
        })
    }

    /// The attempt a provider knows by `provider_reference`, with its payment.
    pub async fn find_attempt_by_reference(
        &self,
        provider_reference: &str,
    ) -> StoreResult<Option<ReconcileTarget>> {
        let row: Option<(AttemptRow, PaymentRow)> = read!(self, |c| Ok::<_, crate::StoreError>(
            pa::table
                .inner_join(p::table.on(p::id.eq(pa::payment_id)))
                .filter(pa::provider_reference.eq(provider_reference))
                .select((AttemptRow::as_select(), PaymentRow::as_select()))
                .get_result(c)
                .await
                .optional()?
        ))?;
        Ok(row.map(|(attempt, payment)| ReconcileTarget { attempt, payment }))
    }

    /// Attempts that carry a flag for an admin (amount mismatch, a second success).
    pub async fn list_flagged_attempts(&self, limit: i64) -> StoreResult<Vec<AttemptRow>> {
        read!(self, |c| Ok(pa::table
            .filter(pa::flag.is_not_null())
            .order(pa::updated_at.desc())
            .limit(limit)
            .select(AttemptRow::as_select())
            .load(c)
            .await?))
    }
}
