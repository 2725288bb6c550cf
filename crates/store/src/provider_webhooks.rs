//! The raw log of inbound provider webhooks, and its processing queue: a row is stored
//! (with its verification result) before anything acts on it, claimed by one
//! provider-adapter replica at a time with a lease, and marked processed with its
//! outcome.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::{read, skip_locked_ids, transaction};
use crate::error::StoreResult;
use crate::models::ProviderWebhookRow;
use crate::schema::provider_webhooks as w;
use crate::{now, Store};

/// What storing an inbound webhook did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookInsert {
    /// First time this event is seen.
    Stored,
    /// A verified event already stored (the provider's retry or duplicate); the id of the
    /// first row.
    Duplicate { first_id: String },
}

impl Store {
    /// Stores the webhook. A verified event whose `(provider, mode, event id)` is already
    /// there is not stored again.
    pub async fn insert_provider_webhook(
        &self,
        row: &ProviderWebhookRow,
    ) -> StoreResult<WebhookInsert> {
        transaction!(self, |c| {
            let n = diesel::insert_into(w::table)
                .values(row)
                .on_conflict_do_nothing()
                .execute(c)
                .await?;
            if n == 1 {
                return Ok(WebhookInsert::Stored);
            }
            let first_id: String = w::table
                .filter(w::provider_code.eq(&row.provider_code))
                .filter(w::mode.eq(&row.mode))
                .filter(w::event_id.eq(&row.event_id))
                .select(w::id)
                .get_result(c)
                .await?;
            Ok(WebhookInsert::Duplicate { first_id })
        })
    }

    /// Claims up to `limit` verified, unprocessed webhooks for `lease`, oldest first, in
    /// one transaction. On PostgreSQL the candidates are locked with `SKIP LOCKED`, so
    /// replicas claiming at once take different rows; SQLite's single writer serialises
    /// claims by itself.
    pub async fn claim_provider_webhooks(
        &self,
        limit: i64,
        lease: Duration,
    ) -> StoreResult<Vec<ProviderWebhookRow>> {
        let at = now();
        let until = at + lease;
        transaction!(self, |c| {
            let ids = c.claimable_webhook_ids(at, limit).await?;
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            diesel::update(w::table.filter(w::id.eq_any(&ids)))
                .set((
                    w::locked_until.eq(Some(until)),
                    w::attempts.eq(w::attempts + 1),
                ))
                .execute(c)
                .await?;
            Ok(w::table
                .filter(w::id.eq_any(&ids))
                .order(w::received_at.asc())
                .select(ProviderWebhookRow::as_select())
                .load(c)
                .await?)
        })
    }

    pub async fn mark_provider_webhook_processed(
        &self,
        id: &str,
        outcome: &str,
    ) -> StoreResult<()> {
        let at = now();
        transaction!(self, |c| {
            diesel::update(w::table.find(id))
                .set((
                    w::processed_at.eq(Some(at)),
                    w::locked_until.eq(None::<NaiveDateTime>),
                    w::outcome.eq(Some(outcome)),
                ))
                .execute(c)
                .await?;
            Ok(())
        })
    }

    /// Leaves the row for a later try (`retry_at`), recording why this one failed.
    pub async fn defer_provider_webhook(
        &self,
        id: &str,
        retry_at: NaiveDateTime,
        error: &str,
    ) -> StoreResult<()> {
        transaction!(self, |c| {
            diesel::update(w::table.find(id))
                .set((
                    w::locked_until.eq(Some(retry_at)),
                    w::outcome.eq(Some(format!("retrying: {error}"))),
                ))
                .execute(c)
                .await?;
            Ok(())
        })
    }

    pub async fn get_provider_webhook(&self, id: &str) -> StoreResult<Option<ProviderWebhookRow>> {
        read!(self, |c| Ok(w::table
            .find(id)
            .select(ProviderWebhookRow::as_select())
            .get_result(c)
            .await
            .optional()?))
    }

    /// The webhooks of one provider, newest first (admin inspection, tests).
    pub async fn list_provider_webhooks(
        &self,
        provider_code: &str,
        limit: i64,
    ) -> StoreResult<Vec<ProviderWebhookRow>> {
        read!(self, |c| Ok(w::table
            .filter(w::provider_code.eq(provider_code))
            .order(w::received_at.desc())
            .limit(limit)
            .select(ProviderWebhookRow::as_select())
            .load(c)
            .await?))
    }
}

skip_locked_ids!(ClaimWebhooks, claimable_webhook_ids, |at, limit| w::table
    .filter(w::verified.eq(true))
    .filter(w::processed_at.is_null())
    .filter(w::locked_until.is_null().or(w::locked_until.lt(at)))
    .order(w::received_at.asc())
    .limit(limit)
    .select(w::id));
