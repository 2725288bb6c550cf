//! Sessions, payments and attempts. Every status change is a conditional update
//! (`WHERE status IN (<allowed>)`) written in the same transaction as its history row and
//! its outbox event; if any update matches no row the whole transaction is rolled back.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::{read, transaction};
use crate::error::{StoreError, StoreResult};
use crate::models::{
    AttemptRow, OutboxRow, PaymentEventRow, PaymentRow, SessionRow, SessionStatusRow,
};
use crate::schema::{
    checkout_sessions as cs, outbox, payment_attempts as pa, payment_events as pe, payments as p,
};
use crate::Store;

/// An event to publish, stored in the outbox by the transaction that caused it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    pub id: String,
    pub kind: String,
    pub aggregate_id: String,
    pub correlation_id: String,
    pub payload: serde_json::Value,
}

impl OutboxEvent {
    fn into_row(self, at: NaiveDateTime) -> OutboxRow {
        OutboxRow {
            id: self.id,
            kind: self.kind,
            aggregate_id: self.aggregate_id,
            correlation_id: self.correlation_id,
            payload: self.payload.to_string(),
            created_at: at,
            published_at: None,
            attempts: 0,
            locked_until: None,
        }
    }
}

/// A new payment, with its session when it comes from the hosted checkout.
pub struct NewPaymentBundle {
    pub payment: PaymentRow,
    pub session: Option<SessionRow>,
    pub history: Vec<PaymentEventRow>,
    pub events: Vec<OutboxEvent>,
}

/// The inserts of a [`NewPaymentBundle`], in one transaction the caller opened.
trait InsertBundle {
    fn insert_bundle(
        &mut self,
        bundle: &NewPaymentBundle,
    ) -> impl std::future::Future<Output = QueryResult<()>> + Send;
}

impl InsertBundle for diesel_async::AsyncPgConnection {
    /// All the inserts are sent at once and answered in order (diesel-async pipelines
    /// queries issued through shared references to one connection): one round trip
    /// instead of one per row, which is most of what PostgreSQL spends on a session
    /// creation. After a failed insert PostgreSQL refuses the rest of the transaction,
    /// so the first error in order is the real one (a duplicate request key, say).
    #[allow(clippy::manual_async_fn)]
    fn insert_bundle(
        &mut self,
        bundle: &NewPaymentBundle,
    ) -> impl std::future::Future<Output = QueryResult<()>> + Send {
        async move {
            use futures::future::{join_all, BoxFuture, FutureExt};
            let at = bundle.payment.created_at;
            let events: Vec<OutboxRow> = bundle
                .events
                .iter()
                .map(|e| e.clone().into_row(at))
                .collect();
            // One `&mut` handle per insert, all to the same connection.
            let shared: &diesel_async::AsyncPgConnection = self;
            let (mut payment_conn, mut session_conn) = (shared, shared);
            let mut history_conns = vec![shared; bundle.history.len()];
            let mut event_conns = vec![shared; events.len()];
            let mut inserts: Vec<BoxFuture<'_, QueryResult<usize>>> =
                vec![diesel::insert_into(p::table)
                    .values(&bundle.payment)
                    .execute(&mut payment_conn)
                    .boxed()];
            if let Some(session) = &bundle.session {
                let insert = diesel::insert_into(cs::table).values(session);
                inserts.push(insert.execute(&mut session_conn).boxed());
            }
            for (h, c) in bundle.history.iter().zip(&mut history_conns) {
                inserts.push(diesel::insert_into(pe::table).values(h).execute(c).boxed());
            }
            for (e, c) in events.iter().zip(&mut event_conns) {
                inserts.push(
                    diesel::insert_into(outbox::table)
                        .values(e)
                        .execute(c)
                        .boxed(),
                );
            }
            join_all(inserts)
                .await
                .into_iter()
                .try_for_each(|r| r.map(drop))
        }
    }
}

impl InsertBundle for crate::db::SqliteConn {
    #[allow(clippy::manual_async_fn)]
    fn insert_bundle(
        &mut self,
        bundle: &NewPaymentBundle,
    ) -> impl std::future::Future<Output = QueryResult<()>> + Send {
        async move {
            let at = bundle.payment.created_at;
            diesel::insert_into(p::table)
                .values(&bundle.payment)
                .execute(self)
                .await?;
            if let Some(session) = &bundle.session {
                diesel::insert_into(cs::table)
                    .values(session)
                    .execute(self)
                    .await?;
            }
            for h in &bundle.history {
                diesel::insert_into(pe::table)
                    .values(h)
                    .execute(self)
                    .await?;
            }
            for e in &bundle.events {
                diesel::insert_into(outbox::table)
                    .values(e.clone().into_row(at))
                    .execute(self)
                    .await?;
            }
            Ok(())
        }
    }
}

#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = p)]
pub struct PaymentUpdate {
    pub status: Option<String>,
    pub provider_code: Option<Option<String>>,
    pub late: Option<bool>,
    pub resolved_at: Option<Option<NaiveDateTime>>,
    pub updated_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = cs)]
pub struct SessionUpdate {
    pub status: Option<String>,
    pub updated_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = pa)]
pub struct AttemptUpdate {
    pub status: Option<String>,
    pub provider_id: Option<Option<String>>,
    pub provider_transaction_id: Option<Option<String>>,
    pub checkout_urls: Option<String>,
    pub qr_png_base64: Option<Option<String>>,
    pub expires_at: Option<Option<NaiveDateTime>>,
    pub failure_code: Option<Option<String>>,
    pub failure_message: Option<Option<String>>,
    pub late: Option<bool>,
    pub resolved_at: Option<Option<NaiveDateTime>>,
    pub updated_at: Option<NaiveDateTime>,
    pub next_check_at: Option<Option<NaiveDateTime>>,
    pub flag: Option<Option<String>>,
}

/// One conditional update: applied only while the row is in one of `from`.
#[derive(Debug, Clone)]
pub enum StatusChange {
    Payment {
        id: String,
        from: Vec<String>,
        set: PaymentUpdate,
    },
    Session {
        id: String,
        from: Vec<String>,
        set: SessionUpdate,
    },
    /// Also requires `updated_at` to be unchanged since the caller read the session:
    /// two customers' clicks on one session cannot both start an attempt.
    SessionVersioned {
        id: String,
        from: Vec<String>,
        expect_updated_at: NaiveDateTime,
        set: SessionUpdate,
    },
    Attempt {
        id: String,
        from: Vec<String>,
        set: AttemptUpdate,
    },
}

impl Store {
    /// Inserts a payment (and its session), its first history rows and events atomically.
    /// A duplicate request key surfaces as `StoreError::Conflict`.
    pub async fn insert_payment_bundle(&self, bundle: NewPaymentBundle) -> StoreResult<()> {
        transaction!(self, |c| Ok(c.insert_bundle(&bundle).await?))
    }

    /// Inserts an attempt and applies `changes` with their history and events in one
    /// transaction. Returns `StoreError::Stale` (nothing written) when a conditional
    /// update lost a race.
    pub async fn insert_attempt(
        &self,
        attempt: &AttemptRow,
        changes: &[StatusChange],
        history: &[PaymentEventRow],
        events: &[OutboxEvent],
    ) -> StoreResult<()> {
        let at = attempt.created_at;
        transaction!(self, |c| {
            diesel::insert_into(pa::table)
                .values(attempt)
                .execute(c)
                .await?;
            apply!(c, changes, history, events, at)
        })
    }

    /// Applies conditional `changes` with their history rows and outbox events in one
    /// transaction; `StoreError::Stale` if any change matched no row (nothing written).
    pub async fn apply_changes(
        &self,
        changes: &[StatusChange],
        history: &[PaymentEventRow],
        events: &[OutboxEvent],
        at: NaiveDateTime,
    ) -> StoreResult<()> {
        transaction!(self, |c| apply!(c, changes, history, events, at))
    }

    pub async fn get_session(&self, id: &str) -> StoreResult<Option<SessionRow>> {
        read!(self, |c| Ok(cs::table
            .find(id)
            .select(SessionRow::as_select())
            .get_result(c)
            .await
            .optional()?))
    }

    /// A session with its payment and latest attempt: what the status route returns.
    pub async fn get_session_view(
        &self,
        id: &str,
    ) -> StoreResult<Option<(SessionRow, PaymentRow, Option<AttemptRow>)>> {
        read!(self, |c| {
            let found = cs::table
                .inner_join(p::table)
                .filter(cs::id.eq(id))
                .select((SessionRow::as_select(), PaymentRow::as_select()))
                .get_result::<(SessionRow, PaymentRow)>(c)
                .await
                .optional()?;
            let Some((session, payment)) = found else {
                return Ok(None);
            };
            // A payment has a handful of attempts: loading them all keeps the statement
            // cacheable (no bound LIMIT, see `lib.rs`).
            let attempt = pa::table
                .filter(pa::payment_id.eq(&payment.id))
                .order(pa::created_at.desc())
                .select(AttemptRow::as_select())
                .load::<AttemptRow>(c)
                .await?
                .into_iter()
                .next();
            Ok(Some((session, payment, attempt)))
        })
    }

    /// The session status route's view in ONE statement (the session joined with its
    /// payment, only the columns shown): a status poll is the hottest read.
    pub async fn get_session_status(&self, id: &str) -> StoreResult<Option<SessionStatusRow>> {
        read!(self, |c| Ok(cs::table
            .inner_join(p::table)
            .filter(cs::id.eq(id))
            .select((
                cs::id,
                cs::project_id,
                cs::mode,
                cs::amount,
                cs::currency,
                cs::customer_name,
                cs::customer_email,
                cs::customer_phone,
                cs::metadata,
                cs::items,
                cs::client_reference,
                cs::status,
                cs::expires_at,
                cs::created_at,
                p::reference,
                p::status,
                p::provider_code,
                p::resolved_at,
            ))
            .get_result::<SessionStatusRow>(c)
            .await
            .optional()?))
    }

    pub async fn get_payment(&self, id: &str) -> StoreResult<Option<PaymentRow>> {
        read!(self, |c| Ok(p::table
            .find(id)
            .select(PaymentRow::as_select())
            .get_result(c)
            .await
            .optional()?))
    }

    pub async fn get_payment_by_reference(
        &self,
        reference: &str,
    ) -> StoreResult<Option<PaymentRow>> {
        read!(self, |c| Ok(p::table
            .filter(p::reference.eq(reference))
            .select(PaymentRow::as_select())
            .get_result(c)
            .await
            .optional()?))
    }

    pub async fn find_payment_by_request_key(
        &self,
        project_id: &str,
        mode: &str,
        key: &str,
    ) -> StoreResult<Option<PaymentRow>> {
        read!(self, |c| Ok(p::table
            .filter(p::project_id.eq(project_id))
            .filter(p::mode.eq(mode))
            .filter(p::request_key.eq(key))
            .select(PaymentRow::as_select())
            .get_result(c)
            .await
            .optional()?))
    }

    pub async fn find_session_by_request_key(
        &self,
        project_id: &str,
        mode: &str,
        key: &str,
    ) -> StoreResult<Option<SessionRow>> {
        read!(self, |c| Ok(cs::table
            .filter(cs::project_id.eq(project_id))
            .filter(cs::mode.eq(mode))
            .filter(cs::request_key.eq(key))
            .select(SessionRow::as_select())
            .get_result(c)
            .await
            .optional()?))
    }

    pub async fn list_attempts(&self, payment_id: &str) -> StoreResult<Vec<AttemptRow>> {
        read!(self, |c| Ok(pa::table
            .filter(pa::payment_id.eq(payment_id))
            .order(pa::created_at.asc())
            .select(AttemptRow::as_select())
            .load(c)
            .await?))
    }

    pub async fn list_payment_history(
        &self,
        payment_id: &str,
    ) -> StoreResult<Vec<PaymentEventRow>> {
        read!(self, |c| Ok(pe::table
            .filter(pe::payment_id.eq(payment_id))
            .order(pe::created_at.asc())
            .select(PaymentEventRow::as_select())
            .load(c)
            .await?))
    }

    /// Open sessions whose deadline passed, oldest first, for the expiry sweeper.
    pub async fn list_expired_sessions(
        &self,
        at: NaiveDateTime,
        limit: i64,
    ) -> StoreResult<Vec<SessionRow>> {
        read!(self, |c| Ok(cs::table
            .filter(cs::status.eq_any(["opened", "pending"]))
            .filter(cs::expires_at.lt(at))
            .order(cs::expires_at.asc())
            .limit(limit)
            .select(SessionRow::as_select())
            .load(c)
            .await?))
    }

    /// Direct payments (no session) still pending whose open attempts all passed their
    /// provider deadline, for the expiry sweeper.
    pub async fn list_expired_direct_payments(
        &self,
        at: NaiveDateTime,
        limit: i64,
    ) -> StoreResult<Vec<PaymentRow>> {
        read!(self, |c| {
            let open_and_alive = pa::table
                .filter(pa::payment_id.eq(p::id))
                .filter(pa::status.eq_any(["created", "pending"]))
                .filter(pa::expires_at.is_null().or(pa::expires_at.ge(at)));
            let open_and_overdue = pa::table
                .filter(pa::payment_id.eq(p::id))
                .filter(pa::status.eq_any(["created", "pending"]))
                .filter(pa::expires_at.lt(at));
            Ok(p::table
                .filter(p::session_id.is_null())
                .filter(p::status.eq("PENDING"))
                .filter(diesel::dsl::exists(open_and_overdue))
                .filter(diesel::dsl::not(diesel::dsl::exists(open_and_alive)))
                .order(p::created_at.asc())
                .limit(limit)
                .select(PaymentRow::as_select())
                .load(c)
                .await?)
        })
    }

    /// Open attempts of open sessions whose provider deadline passed (an Orange Money
    /// QR code lives minutes, a session can live hours): the payer must choose again,
    /// the session stays open.
    pub async fn list_overdue_session_attempts(
        &self,
        at: NaiveDateTime,
        limit: i64,
    ) -> StoreResult<Vec<AttemptRow>> {
        read!(self, |c| {
            let open_session_payment = p::table
                .filter(p::id.eq(pa::payment_id))
                .filter(p::session_id.is_not_null())
                .filter(p::status.eq("PENDING"));
            Ok(pa::table
                .filter(pa::status.eq_any(["created", "pending"]))
                .filter(pa::expires_at.lt(at))
                .filter(diesel::dsl::exists(open_session_payment))
                .order(pa::created_at.asc())
                .limit(limit)
                .select(AttemptRow::as_select())
                .load(c)
                .await?)
        })
    }

    /// Moves the provider deadline of an open attempt (operators, and tests of expiry).
    pub async fn set_attempt_deadline(
        &self,
        id: &str,
        expires_at: NaiveDateTime,
    ) -> StoreResult<bool> {
        transaction!(self, |c| {
            let n = diesel::update(pa::table.find(id))
                .filter(pa::status.eq_any(["created", "pending"]))
                .set((
                    pa::expires_at.eq(Some(expires_at)),
                    pa::updated_at.eq(crate::now()),
                ))
                .execute(c)
                .await?;
            Ok(n == 1)
        })
    }

    /// Moves the deadline of a session that is still open (an operator extending or
    /// shortening a checkout window); the sweeper applies the consequences.
    pub async fn set_session_deadline(
        &self,
        id: &str,
        expires_at: NaiveDateTime,
    ) -> StoreResult<bool> {
        transaction!(self, |c| {
            let n = diesel::update(cs::table.find(id))
                .filter(cs::status.eq_any(["opened", "pending"]))
                .set((
                    cs::expires_at.eq(expires_at),
                    cs::updated_at.eq(crate::now()),
                ))
                .execute(c)
                .await?;
            Ok(n == 1)
        })
    }

    pub async fn count_payments(&self, project_id: &str, mode: &str) -> StoreResult<i64> {
        read!(self, |c| Ok(p::table
            .filter(p::project_id.eq(project_id))
            .filter(p::mode.eq(mode))
            .count()
            .get_result(c)
            .await?))
    }
}

/// The body shared by `insert_attempt` and `apply_changes`, expanded per backend.
macro_rules! apply {
    ($c:ident, $changes:expr, $history:expr, $events:expr, $at:expr) => {{
        for change in $changes {
            let n = match change {
                StatusChange::Payment { id, from, set } => {
                    diesel::update(p::table.find(id))
                        .filter(p::status.eq_any(from))
                        .set(set)
                        .execute($c)
                        .await?
                }
                StatusChange::Session { id, from, set } => {
                    diesel::update(cs::table.find(id))
                        .filter(cs::status.eq_any(from))
                        .set(set)
                        .execute($c)
                        .await?
                }
                StatusChange::SessionVersioned {
                    id,
                    from,
                    expect_updated_at,
                    set,
                } => {
                    diesel::update(cs::table.find(id))
                        .filter(cs::status.eq_any(from))
                        .filter(cs::updated_at.eq(expect_updated_at))
                        .set(set)
                        .execute($c)
                        .await?
                }
                StatusChange::Attempt { id, from, set } => {
                    diesel::update(pa::table.find(id))
                        .filter(pa::status.eq_any(from))
                        .set(set)
                        .execute($c)
                        .await?
                }
            };
            if n == 0 {
                return Err(StoreError::Stale(format!("{change:?}")));
            }
        }
        for h in $history {
            diesel::insert_into(pe::table).values(h).execute($c).await?;
        }
        for e in $events {
            diesel::insert_into(outbox::table)
                .values(e.clone().into_row($at))
                .execute($c)
                .await?;
        }
        Ok(())
    }};
}
use apply;
