//! Merchant webhooks: the endpoints of each project, one delivery per (event, endpoint),
//! every attempt, and the notifications NexPay leaves for admins.
//!
//! A delivery is claimed by one dispatcher at a time with a lease (PostgreSQL:
//! `FOR UPDATE SKIP LOCKED`; SQLite's single writer serialises claims by itself). An
//! attempt and the delivery's new state are written in one transaction, conditional on
//! the delivery still being pending, so a dispatcher that lost its lease cannot
//! overwrite a later outcome.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::{read, skip_locked_ids, transaction, SqliteConn};
use crate::error::StoreResult;
use crate::models::{
    AdminNotificationRow, WebhookAttemptRow, WebhookDeliveryRow, WebhookEndpointRow,
};
use crate::schema::admin_notifications as notice;
use crate::schema::webhook_attempts as a;
use crate::schema::webhook_deliveries as d;
use crate::schema::webhook_endpoints as e;
use crate::{now, Store};

pub const DELIVERY_PENDING: &str = "pending";
pub const DELIVERY_SUCCEEDED: &str = "succeeded";
pub const DELIVERY_FAILED: &str = "failed";

/// What an admin may change on an endpoint (None: unchanged).
#[derive(Debug, Clone, Default)]
pub struct EndpointUpdate {
    pub url: Option<String>,
    pub header_name: Option<String>,
    /// JSON array.
    pub event_types: Option<String>,
    pub enabled: Option<bool>,
    pub description: Option<Option<String>>,
}

/// A new secret, the old one staying valid until `previous_expires_at`.
#[derive(Debug, Clone)]
pub struct SecretRotation {
    pub sealed_secret: String,
    pub secret_last4: String,
    pub previous_sealed_secret: Option<String>,
    pub previous_expires_at: Option<NaiveDateTime>,
}

/// How an attempt ended, as far as the delivery is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered,
    /// Tried again at this time.
    Retry(NaiveDateTime),
    /// No more attempts (given up, or the endpoint is gone or disabled).
    GaveUp,
}

/// One attempt to record with [`Store::record_webhook_attempts`].
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub attempt: WebhookAttemptRow,
    /// The lease the dispatcher holds on the delivery.
    pub claimed_until: Option<NaiveDateTime>,
    pub outcome: AttemptOutcome,
    /// The endpoint to switch off with this record, if any.
    pub shutdown: Option<EndpointShutdown>,
}

/// The endpoint switched off together with an attempt's record.
#[derive(Debug, Clone)]
pub struct EndpointShutdown {
    pub reason: String,
    pub notification: AdminNotificationRow,
}

impl Store {
    // ------------------------------------------------------------------- endpoints

    pub async fn insert_webhook_endpoint(&self, row: &WebhookEndpointRow) -> StoreResult<()> {
        transaction!(self, |c| {
            diesel::insert_into(e::table).values(row).execute(c).await?;
            Ok(())
        })
    }

    /// An endpoint that is not deleted.
    pub async fn get_webhook_endpoint(&self, id: &str) -> StoreResult<Option<WebhookEndpointRow>> {
        read!(self, |c| Ok(e::table
            .find(id)
            .filter(e::deleted_at.is_null())
            .select(WebhookEndpointRow::as_select())
            .get_result(c)
            .await
            .optional()?))
    }

    /// The endpoints of a project (both modes), oldest first.
    pub async fn list_webhook_endpoints(
        &self,
        project_id: &str,
    ) -> StoreResult<Vec<WebhookEndpointRow>> {
        read!(self, |c| Ok(e::table
            .filter(e::project_id.eq(project_id))
            .filter(e::deleted_at.is_null())
            .order(e::created_at.asc())
            .select(WebhookEndpointRow::as_select())
            .load(c)
            .await?))
    }

    /// The enabled endpoints an event of `project_id` in `mode` may go to (the caller
    /// filters by event type).
    pub async fn endpoints_for_event(
        &self,
        project_id: &str,
        mode: &str,
    ) -> StoreResult<Vec<WebhookEndpointRow>> {
        read!(self, |c| Ok(e::table
            .filter(e::project_id.eq(project_id))
            .filter(e::mode.eq(mode))
            .filter(e::enabled.eq(true))
            .filter(e::deleted_at.is_null())
            .select(WebhookEndpointRow::as_select())
            .load(c)
            .await?))
    }

    /// Applies `update`; false when there is no such endpoint. Enabling clears the
    /// failure record, so the endpoint gets its full retry period again.
    pub async fn update_webhook_endpoint(
        &self,
        id: &str,
        update: &EndpointUpdate,
    ) -> StoreResult<bool> {
        let at = now();
        transaction!(self, |c| {
            let target = e::table.find(id).filter(e::deleted_at.is_null());
            let n = diesel::update(target)
                .set(e::updated_at.eq(at))
                .execute(c)
                .await?;
            if n == 0 {
                return Ok(false);
            }
            if let Some(url) = &update.url {
                diesel::update(target)
                    .set(e::url.eq(url))
                    .execute(c)
                    .await?;
            }
            if let Some(h) = &update.header_name {
                diesel::update(target)
                    .set(e::header_name.eq(h))
                    .execute(c)
                    .await?;
            }
            if let Some(t) = &update.event_types {
                diesel::update(target)
                    .set(e::event_types.eq(t))
                    .execute(c)
                    .await?;
            }
            if let Some(desc) = &update.description {
                diesel::update(target)
                    .set(e::description.eq(desc))
                    .execute(c)
                    .await?;
            }
            match update.enabled {
                Some(true) => {
                    diesel::update(target)
                        .set((
                            e::enabled.eq(true),
                            e::disabled_reason.eq(None::<String>),
                            e::failing_since.eq(None::<NaiveDateTime>),
                        ))
                        .execute(c)
                        .await?;
                }
                Some(false) => {
                    diesel::update(target)
                        .set(e::enabled.eq(false))
                        .execute(c)
                        .await?;
                }
                None => {}
            }
            Ok(true)
        })
    }

    pub async fn rotate_webhook_secret(
        &self,
        id: &str,
        rotation: &SecretRotation,
    ) -> StoreResult<bool> {
        let at = now();
        transaction!(self, |c| Ok(diesel::update(
            e::table.find(id).filter(e::deleted_at.is_null())
        )
        .set((
            e::sealed_secret.eq(&rotation.sealed_secret),
            e::secret_last4.eq(&rotation.secret_last4),
            e::previous_sealed_secret.eq(&rotation.previous_sealed_secret),
            e::previous_secret_expires_at.eq(rotation.previous_expires_at),
            e::updated_at.eq(at),
        ))
        .execute(c)
        .await?
            == 1))
    }

    /// Deletes the endpoint (softly: its deliveries keep their history); what it still
    /// had to deliver is failed.
    pub async fn delete_webhook_endpoint(&self, id: &str) -> StoreResult<bool> {
        let at = now();
        transaction!(self, |c| {
            let n = diesel::update(e::table.find(id).filter(e::deleted_at.is_null()))
                .set((
                    e::deleted_at.eq(Some(at)),
                    e::enabled.eq(false),
                    e::updated_at.eq(at),
                ))
                .execute(c)
                .await?;
            if n == 1 {
                c.fail_pending_deliveries(id, "endpoint deleted", at)
                    .await?;
            }
            Ok(n == 1)
        })
    }

    // ------------------------------------------------------------------ deliveries

    /// Inserts the deliveries of one event; those already there (a redelivered event)
    /// are skipped. Returns how many were new.
    pub async fn insert_webhook_deliveries(
        &self,
        rows: &[WebhookDeliveryRow],
    ) -> StoreResult<usize> {
        Ok(self
            .insert_new_webhook_deliveries(rows)
            .await?
            .into_iter()
            .filter(|new| *new)
            .count())
    }

    /// As [`Store::insert_webhook_deliveries`], saying for each row whether it was new
    /// (false: a delivery of that endpoint and event was already there, left as it is).
    pub async fn insert_new_webhook_deliveries(
        &self,
        rows: &[WebhookDeliveryRow],
    ) -> StoreResult<Vec<bool>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        transaction!(self, |c| {
            let mut new = Vec::with_capacity(rows.len());
            for row in rows {
                let n = diesel::insert_into(d::table)
                    .values(row)
                    .on_conflict_do_nothing()
                    .execute(c)
                    .await?;
                new.push(n == 1);
            }
            Ok(new)
        })
    }

    /// Claims up to `limit` due deliveries for `lease`, oldest due first.
    pub async fn claim_webhook_deliveries(
        &self,
        limit: i64,
        lease: Duration,
    ) -> StoreResult<Vec<WebhookDeliveryRow>> {
        let at = now();
        let until = at + lease;
        transaction!(self, |c| {
            let ids = c.claimable_delivery_ids(at, limit).await?;
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            diesel::update(d::table.filter(d::id.eq_any(&ids)))
                .set(d::locked_until.eq(Some(until)))
                .execute(c)
                .await?;
            Ok(d::table
                .filter(d::id.eq_any(&ids))
                .order(d::next_attempt_at.asc())
                .select(WebhookDeliveryRow::as_select())
                .load(c)
                .await?)
        })
    }

    /// Records an attempt and its outcome on the delivery and on the endpoint's failure
    /// record, in one transaction. False (and nothing written) when the delivery is no
    /// longer pending or was claimed again since (`claimed_until` is the lease this
    /// dispatcher holds).
    pub async fn record_webhook_attempt(
        &self,
        attempt: &WebhookAttemptRow,
        claimed_until: Option<NaiveDateTime>,
        outcome: &AttemptOutcome,
        shutdown: Option<&EndpointShutdown>,
    ) -> StoreResult<bool> {
        let record = AttemptRecord {
            attempt: attempt.clone(),
            claimed_until,
            outcome: *outcome,
            shutdown: shutdown.cloned(),
        };
        let done = self
            .record_webhook_attempts(std::slice::from_ref(&record))
            .await?;
        Ok(matches!(done.as_slice(), [true, ..]))
    }

    /// [`Store::record_webhook_attempt`] for several attempts in one transaction (one
    /// commit for a dispatcher's batch instead of one per attempt); for each, whether it
    /// was written. Each is conditional on its own delivery, as when recorded alone.
    pub async fn record_webhook_attempts(
        &self,
        records: &[AttemptRecord],
    ) -> StoreResult<Vec<bool>> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        transaction!(self, |c| {
            // 1. Each delivery's new state, conditional on the lease (one statement on
            //    PostgreSQL); the endpoint of each one written.
            let finished = c.finish_deliveries(records, now()).await?;
            let written: Vec<bool> = finished.iter().map(Option::is_some).collect();
            // 2. The attempts of those written, in one insert.
            let attempts: Vec<WebhookAttemptRow> = records
                .iter()
                .zip(&written)
                .filter(|(_, w)| **w)
                .map(|(r, _)| r.attempt.clone())
                .collect();
            if !attempts.is_empty() {
                c.insert_attempts(attempts).await?;
            }
            // 3. Each endpoint's failure record once, as the attempts in order leave it,
            //    endpoints in one order for every dispatcher (no deadlock between them).
            let mut failing: std::collections::BTreeMap<&str, Failing> = Default::default();
            for (record, endpoint_id) in records.iter().zip(&finished) {
                if let Some(endpoint_id) = endpoint_id {
                    let state = failing
                        .entry(endpoint_id.as_str())
                        .or_insert(Failing::Unchanged);
                    *state = state.then(record.outcome, record.attempt.attempted_at);
                }
            }
            for (endpoint_id, state) in failing {
                let endpoint = e::table.find(endpoint_id);
                match state {
                    Failing::Unchanged => 0,
                    Failing::Cleared => {
                        diesel::update(endpoint.filter(e::failing_since.is_not_null()))
                            .set(e::failing_since.eq(None::<NaiveDateTime>))
                            .execute(c)
                            .await?
                    }
                    Failing::SinceUnlessEarlier(at) => {
                        diesel::update(endpoint.filter(e::failing_since.is_null()))
                            .set(e::failing_since.eq(Some(at)))
                            .execute(c)
                            .await?
                    }
                    Failing::Since(at) => {
                        diesel::update(endpoint)
                            .set(e::failing_since.eq(Some(at)))
                            .execute(c)
                            .await?
                    }
                };
            }
            // 4. Endpoints switched off with their attempt (rare).
            for (record, endpoint_id) in records.iter().zip(&finished) {
                let (Some(shutdown), Some(endpoint_id)) = (&record.shutdown, endpoint_id) else {
                    continue;
                };
                let n = diesel::update(e::table.find(endpoint_id).filter(e::enabled.eq(true)))
                    .set((
                        e::enabled.eq(false),
                        e::disabled_reason.eq(Some(&shutdown.reason)),
                        e::updated_at.eq(now()),
                    ))
                    .execute(c)
                    .await?;
                if n == 1 {
                    c.fail_pending_deliveries(endpoint_id, &shutdown.reason, now())
                        .await?;
                    diesel::insert_into(notice::table)
                        .values(&shutdown.notification)
                        .execute(c)
                        .await?;
                }
            }
            Ok(written)
        })
    }

    /// Fails a claimed delivery without an attempt (its endpoint was disabled or
    /// deleted meanwhile).
    pub async fn abandon_webhook_delivery(&self, id: &str, reason: &str) -> StoreResult<bool> {
        let at = now();
        transaction!(self, |c| Ok(diesel::update(
            d::table.find(id).filter(d::status.eq(DELIVERY_PENDING))
        )
        .set((
            d::status.eq(DELIVERY_FAILED),
            d::next_attempt_at.eq(None::<NaiveDateTime>),
            d::locked_until.eq(None::<NaiveDateTime>),
            d::last_error.eq(Some(reason)),
            d::updated_at.eq(at),
        ))
        .execute(c)
        .await?
            == 1))
    }

    pub async fn get_webhook_delivery(&self, id: &str) -> StoreResult<Option<WebhookDeliveryRow>> {
        read!(self, |c| Ok(d::table
            .find(id)
            .select(WebhookDeliveryRow::as_select())
            .get_result(c)
            .await
            .optional()?))
    }

    /// The deliveries of an endpoint, newest first, optionally of one status.
    pub async fn list_webhook_deliveries(
        &self,
        endpoint_id: &str,
        status: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<WebhookDeliveryRow>> {
        read!(self, |c| {
            let mut q = d::table.filter(d::endpoint_id.eq(endpoint_id)).into_boxed();
            if let Some(s) = status {
                q = q.filter(d::status.eq(s));
            }
            Ok(q.order(d::created_at.desc())
                .limit(limit)
                .select(WebhookDeliveryRow::as_select())
                .load(c)
                .await?)
        })
    }

    /// The deliveries of one event (every endpoint), for tests and support.
    pub async fn list_event_deliveries(
        &self,
        event_id: &str,
    ) -> StoreResult<Vec<WebhookDeliveryRow>> {
        read!(self, |c| Ok(d::table
            .filter(d::event_id.eq(event_id))
            .order(d::created_at.asc())
            .select(WebhookDeliveryRow::as_select())
            .load(c)
            .await?))
    }

    pub async fn list_webhook_attempts(
        &self,
        delivery_id: &str,
    ) -> StoreResult<Vec<WebhookAttemptRow>> {
        read!(self, |c| Ok(a::table
            .filter(a::delivery_id.eq(delivery_id))
            .order((a::attempted_at.asc(), a::number.asc()))
            .select(WebhookAttemptRow::as_select())
            .load(c)
            .await?))
    }

    /// Sends a delivery again, whatever its state: due now, with a fresh retry
    /// schedule. False when there is no such delivery.
    pub async fn resend_webhook_delivery(&self, id: &str) -> StoreResult<bool> {
        let at = now();
        transaction!(self, |c| Ok(diesel::update(d::table.find(id))
            .set((
                d::status.eq(DELIVERY_PENDING),
                d::attempts.eq(0),
                d::next_attempt_at.eq(Some(at)),
                d::locked_until.eq(None::<NaiveDateTime>),
                d::updated_at.eq(at),
            ))
            .execute(c)
            .await?
            == 1))
    }

    /// Sends again every failed delivery of an endpoint created since `since`. Returns
    /// how many.
    pub async fn resend_failed_webhook_deliveries(
        &self,
        endpoint_id: &str,
        since: NaiveDateTime,
    ) -> StoreResult<usize> {
        let at = now();
        transaction!(self, |c| Ok(diesel::update(
            d::table
                .filter(d::endpoint_id.eq(endpoint_id))
                .filter(d::status.eq(DELIVERY_FAILED))
                .filter(d::created_at.ge(since))
        )
        .set((
            d::status.eq(DELIVERY_PENDING),
            d::attempts.eq(0),
            d::next_attempt_at.eq(Some(at)),
            d::locked_until.eq(None::<NaiveDateTime>),
            d::updated_at.eq(at),
        ))
        .execute(c)
        .await?))
    }

    // --------------------------------------------------------------- notifications

    pub async fn insert_admin_notification(&self, row: &AdminNotificationRow) -> StoreResult<()> {
        transaction!(self, |c| {
            diesel::insert_into(notice::table)
                .values(row)
                .execute(c)
                .await?;
            Ok(())
        })
    }

    /// Newest first.
    pub async fn list_admin_notifications(
        &self,
        limit: i64,
    ) -> StoreResult<Vec<AdminNotificationRow>> {
        read!(self, |c| Ok(notice::table
            .order(notice::created_at.desc())
            .limit(limit)
            .select(AdminNotificationRow::as_select())
            .load(c)
            .await?))
    }

    pub async fn mark_admin_notification_read(&self, id: &str) -> StoreResult<bool> {
        let at = now();
        transaction!(self, |c| Ok(diesel::update(
            notice::table.find(id).filter(notice::read_at.is_null())
        )
        .set(notice::read_at.eq(Some(at)))
        .execute(c)
        .await?
            == 1))
    }
}

/// Fails what an endpoint still had to deliver (one statement, implemented per
/// backend connection so the transaction bodies can call it on either).
pub(crate) trait FailPending {
    fn fail_pending_deliveries(
        &mut self,
        endpoint_id: &str,
        reason: &str,
        at: NaiveDateTime,
    ) -> impl std::future::Future<Output = QueryResult<usize>> + Send;
}

macro_rules! fail_pending_update {
    ($endpoint_id:expr, $reason:expr, $at:expr) => {
        diesel::update(
            d::table
                .filter(d::endpoint_id.eq($endpoint_id))
                .filter(d::status.eq(DELIVERY_PENDING)),
        )
        .set((
            d::status.eq(DELIVERY_FAILED),
            d::next_attempt_at.eq(None::<NaiveDateTime>),
            d::locked_until.eq(None::<NaiveDateTime>),
            d::last_error.eq(Some($reason)),
            d::updated_at.eq($at),
        ))
    };
}

impl FailPending for diesel_async::AsyncPgConnection {
    #[allow(clippy::manual_async_fn)]
    fn fail_pending_deliveries(
        &mut self,
        endpoint_id: &str,
        reason: &str,
        at: NaiveDateTime,
    ) -> impl std::future::Future<Output = QueryResult<usize>> + Send {
        let (endpoint_id, reason) = (endpoint_id.to_owned(), reason.to_owned());
        async move {
            fail_pending_update!(endpoint_id, reason, at)
                .execute(self)
                .await
        }
    }
}

impl FailPending for SqliteConn {
    #[allow(clippy::manual_async_fn)]
    fn fail_pending_deliveries(
        &mut self,
        endpoint_id: &str,
        reason: &str,
        at: NaiveDateTime,
    ) -> impl std::future::Future<Output = QueryResult<usize>> + Send {
        let (endpoint_id, reason) = (endpoint_id.to_owned(), reason.to_owned());
        async move {
            fail_pending_update!(endpoint_id, reason, at)
                .execute(self)
                .await
        }
    }
}

skip_locked_ids!(ClaimDeliveries, claimable_delivery_ids, |at, limit| {
    d::table
        .filter(d::status.eq(DELIVERY_PENDING))
        .filter(d::next_attempt_at.le(at))
        .filter(d::locked_until.is_null().or(d::locked_until.lt(at)))
        .order(d::next_attempt_at.asc())
        .limit(limit)
        .select(d::id)
});

/// What a batch of attempts does to an endpoint's `failing_since`, the attempts taken in
/// order: a success clears it, a failure sets it unless it is already set, a failure
/// after a success in the same batch sets it whatever it was.
#[derive(Debug, Clone, Copy)]
enum Failing {
    Unchanged,
    Cleared,
    SinceUnlessEarlier(NaiveDateTime),
    Since(NaiveDateTime),
}

impl Failing {
    fn then(self, outcome: AttemptOutcome, at: NaiveDateTime) -> Failing {
        match (outcome, self) {
            (AttemptOutcome::Delivered, _) => Failing::Cleared,
            (_, Failing::Unchanged) => Failing::SinceUnlessEarlier(at),
            (_, Failing::Cleared) => Failing::Since(at),
            (_, kept) => kept,
        }
    }
}

/// The delivery's new state after an attempt: (status, next attempt, delivered at).
fn finished_state(
    outcome: AttemptOutcome,
    at: NaiveDateTime,
) -> (&'static str, Option<NaiveDateTime>, Option<NaiveDateTime>) {
    match outcome {
        AttemptOutcome::Delivered => (DELIVERY_SUCCEEDED, None, Some(at)),
        AttemptOutcome::Retry(t) => (DELIVERY_PENDING, Some(t), None),
        AttemptOutcome::GaveUp => (DELIVERY_FAILED, None, None),
    }
}

/// Writes each attempted delivery's new state, conditional on it being still pending
/// under the lease the dispatcher holds; for each record, the delivery's endpoint when
/// written. PostgreSQL does the whole batch in one statement.
pub(crate) trait FinishDeliveries {
    fn finish_deliveries(
        &mut self,
        records: &[AttemptRecord],
        at: NaiveDateTime,
    ) -> impl std::future::Future<Output = QueryResult<Vec<Option<String>>>> + Send;

    /// Inserts attempt rows (one statement on PostgreSQL).
    fn insert_attempts(
        &mut self,
        rows: Vec<WebhookAttemptRow>,
    ) -> impl std::future::Future<Output = QueryResult<()>> + Send;
}

#[derive(QueryableByName)]
struct Finished {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    endpoint_id: String,
}

impl FinishDeliveries for diesel_async::AsyncPgConnection {
    #[allow(clippy::manual_async_fn)]
    fn finish_deliveries(
        &mut self,
        records: &[AttemptRecord],
        at: NaiveDateTime,
    ) -> impl std::future::Future<Output = QueryResult<Vec<Option<String>>>> + Send {
        use diesel::sql_types::{Array, Nullable, Text, Timestamp};
        let mut ids = Vec::with_capacity(records.len());
        let mut claimed = Vec::with_capacity(records.len());
        let mut statuses = Vec::with_capacity(records.len());
        let mut next = Vec::with_capacity(records.len());
        let mut codes = Vec::with_capacity(records.len());
        let mut errors = Vec::with_capacity(records.len());
        let mut delivered = Vec::with_capacity(records.len());
        for r in records {
            let (status, n, d) = finished_state(r.outcome, at);
            ids.push(r.attempt.delivery_id.clone());
            claimed.push(r.claimed_until);
            statuses.push(status.to_owned());
            next.push(n);
            codes.push(r.attempt.status_code);
            errors.push(r.attempt.error.clone());
            delivered.push(d);
        }
        let order: Vec<String> = ids.clone();
        async move {
            let rows: Vec<Finished> = diesel::sql_query(
                "UPDATE webhook_deliveries AS d SET \
                   status = v.status, attempts = d.attempts + 1, \
                   next_attempt_at = v.next_attempt_at, locked_until = NULL, \
                   last_status_code = v.status_code, last_error = v.error, \
                   updated_at = $8, delivered_at = v.delivered_at \
                 FROM unnest($1::text[], $2::timestamp[], $3::text[], $4::timestamp[], \
                             $5::int4[], $6::text[], $7::timestamp[]) \
                   AS v(id, claimed_until, status, next_attempt_at, status_code, error, delivered_at) \
                 WHERE d.id = v.id AND d.status = $9 AND d.locked_until = v.claimed_until \
                 RETURNING d.id, d.endpoint_id",
            )
            .bind::<Array<Text>, _>(ids)
            .bind::<Array<Nullable<Timestamp>>, _>(claimed)
            .bind::<Array<Text>, _>(statuses)
            .bind::<Array<Nullable<Timestamp>>, _>(next)
            .bind::<Array<Nullable<diesel::sql_types::Integer>>, _>(codes)
            .bind::<Array<Nullable<Text>>, _>(errors)
            .bind::<Array<Nullable<Timestamp>>, _>(delivered)
            .bind::<Timestamp, _>(at)
            .bind::<Text, _>(DELIVERY_PENDING)
            .load(self)
            .await?;
            let mut by_id: std::collections::HashMap<String, String> =
                rows.into_iter().map(|f| (f.id, f.endpoint_id)).collect();
            Ok(order.iter().map(|id| by_id.remove(id)).collect())
        }
    }

    #[allow(clippy::manual_async_fn)]
    fn insert_attempts(
        &mut self,
        rows: Vec<WebhookAttemptRow>,
    ) -> impl std::future::Future<Output = QueryResult<()>> + Send {
        async move {
            diesel::insert_into(a::table)
                .values(&rows)
                .execute(self)
                .await?;
            Ok(())
        }
    }
}

impl FinishDeliveries for SqliteConn {
    #[allow(clippy::manual_async_fn)]
    fn finish_deliveries(
        &mut self,
        records: &[AttemptRecord],
        at: NaiveDateTime,
    ) -> impl std::future::Future<Output = QueryResult<Vec<Option<String>>>> + Send {
        let records = records.to_vec();
        async move {
            // One local statement each: SQLite has no round trip to save.
            let mut finished = Vec::with_capacity(records.len());
            for r in &records {
                let (status, next, delivered) = finished_state(r.outcome, at);
                let endpoint_id = diesel::update(
                    d::table
                        .find(&r.attempt.delivery_id)
                        .filter(d::status.eq(DELIVERY_PENDING))
                        .filter(d::locked_until.eq(r.claimed_until)),
                )
                .set((
                    d::status.eq(status),
                    d::attempts.eq(d::attempts + 1),
                    d::next_attempt_at.eq(next),
                    d::locked_until.eq(None::<NaiveDateTime>),
                    d::last_status_code.eq(r.attempt.status_code),
                    d::last_error.eq(&r.attempt.error),
                    d::updated_at.eq(at),
                    d::delivered_at.eq(delivered),
                ))
                .returning(d::endpoint_id)
                .get_result(self)
                .await
                .optional()?;
                finished.push(endpoint_id);
            }
            Ok(finished)
        }
    }

    #[allow(clippy::manual_async_fn)]
    fn insert_attempts(
        &mut self,
        rows: Vec<WebhookAttemptRow>,
    ) -> impl std::future::Future<Output = QueryResult<()>> + Send {
        async move {
            for row in &rows {
                diesel::insert_into(a::table)
                    .values(row)
                    .execute(self)
                    .await?;
            }
            Ok(())
        }
    }
}
