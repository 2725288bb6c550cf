//! The outbox relay's side of the outbox: claim unpublished rows, mark them published.

use chrono::Duration;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::{read, skip_locked_ids, transaction};
use crate::error::StoreResult;
use crate::models::OutboxRow;
use crate::schema::outbox as o;
use crate::{now, Store};

impl Store {
    /// Claims up to `limit` unpublished rows for `lease`: another relay (another
    /// `payments` replica) skips them until the lease ends, so a relay that dies mid-way
    /// only delays its rows. PostgreSQL uses `FOR UPDATE SKIP LOCKED`; SQLite has a single
    /// writer, which serialises claims by itself.
    pub async fn claim_outbox_batch(
        &self,
        limit: i64,
        lease: Duration,
    ) -> StoreResult<Vec<OutboxRow>> {
        let at = now();
        let until = at + lease;
        transaction!(self, |c| {
            let ids = c.claimable_outbox_ids(at, limit).await?;
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            diesel::update(o::table.filter(o::id.eq_any(&ids)))
                .set((
                    o::locked_until.eq(Some(until)),
                    o::attempts.eq(o::attempts + 1),
                ))
                .execute(c)
                .await?;
            Ok(o::table
                .filter(o::id.eq_any(&ids))
                .order(o::created_at.asc())
                .select(OutboxRow::as_select())
                .load(c)
                .await?)
        })
    }

    pub async fn mark_outbox_published(&self, ids: &[String]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let at = now();
        transaction!(self, |c| {
            diesel::update(o::table.filter(o::id.eq_any(ids)))
                .set((
                    o::published_at.eq(Some(at)),
                    o::locked_until.eq(None::<chrono::NaiveDateTime>),
                ))
                .execute(c)
                .await?;
            Ok(())
        })
    }

    /// Rows not yet published and the age of the oldest, for metrics and tests.
    pub async fn outbox_backlog(&self) -> StoreResult<(i64, Option<chrono::NaiveDateTime>)> {
        read!(self, |c| {
            let count: i64 = o::table
                .filter(o::published_at.is_null())
                .count()
                .get_result(c)
                .await?;
            let oldest: Option<chrono::NaiveDateTime> = o::table
                .filter(o::published_at.is_null())
                .select(diesel::dsl::min(o::created_at))
                .get_result(c)
                .await?;
            Ok((count, oldest))
        })
    }

    pub async fn list_outbox(&self, aggregate_id: &str) -> StoreResult<Vec<OutboxRow>> {
        read!(self, |c| Ok(o::table
            .filter(o::aggregate_id.eq(aggregate_id))
            .order(o::created_at.asc())
            .select(OutboxRow::as_select())
            .load(c)
            .await?))
    }
}

skip_locked_ids!(ClaimOutbox, claimable_outbox_ids, |at, limit| o::table
    .filter(o::published_at.is_null())
    .filter(o::locked_until.is_null().or(o::locked_until.lt(at)))
    .order(o::created_at.asc())
    .limit(limit)
    .select(o::id));
