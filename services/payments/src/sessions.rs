//! Checkout sessions: creation, the choice of a provider and cancellation.

use chrono::SecondsFormat;
use nexpay_bus::HandlerError;
use nexpay_contracts::{
    CancelSession, CheckoutSession, CreateSession, PaymentInitiated, SessionCancelled,
    SessionCreated, SESSION_CREATED,
};
use nexpay_domain::{EventId, EventType, PaymentStatus, SessionId, SessionStatus};
use nexpay_store::{
    now, AttemptRow, AttemptUpdate, NewPaymentBundle, OutboxEvent, PaymentRow, PaymentUpdate,
    ProjectRow, SessionRow, SessionUpdate, StatusChange, StoreError,
};

use crate::direct::{open_project, pending_payment};
use crate::events::{history, merchant_event};
use crate::views::payment_view;
use crate::{rejected, store_error, Payments};

const MIN_TTL_SECS: u64 = 60;
const MAX_TTL_SECS: u64 = 24 * 3600;
/// A cancellation that lost a race (a provider choice, or a checkout opening, changed
/// the session or its attempt first) is retried on fresh rows this many times.
const CANCEL_RETRIES: usize = 3;

impl Payments {
    pub async fn create_session(
        &self,
        cmd: CreateSession,
        corr: &str,
    ) -> Result<SessionCreated, HandlerError> {
        let caller = &cmd.caller;
        // No lookup of the Idempotency-Key before the insert: a retried key hits the
        // unique index and is answered from the conflict below.
        let found = self.store.project_and_providers(&caller.project_id).await;
        let (project, providers) = match found
            .map_err(store_error)
            .and_then(|(p, all)| Ok((open_project(p)?, all)))
        {
            Ok(found) => found,
            Err(e) => return self.replay_or(caller, e).await,
        };
        if !providers
            .iter()
            .any(|p| p.enabled && p.accepts(&cmd.currency))
        {
            let refused = rejected(
                422,
                "unsupported_currency",
                format!("No enabled provider accepts {}", cmd.currency),
            );
            return self.replay_or(caller, refused).await;
        }
        let at = now();
        let ttl = cmd
            .expires_in_secs
            .unwrap_or(self.config.session_ttl.as_secs())
            .clamp(MIN_TTL_SECS, MAX_TTL_SECS);
        let session_id = SessionId::generate().into_string();
        let payment = pending_payment(
            caller,
            Some(session_id.clone()),
            cmd.amount_minor,
            &cmd.currency,
            &cmd.customer,
            &cmd.metadata,
            cmd.client_reference.clone(),
            at,
        );
        let session = SessionRow {
            id: session_id.clone(),
            project_id: project.id.clone(),
            mode: caller.mode.clone(),
            payment_id: payment.id.clone(),
            amount: cmd.amount_minor,
            currency: cmd.currency.clone(),
            customer_name: cmd.customer.name.clone(),
            customer_email: cmd.customer.email.clone(),
            customer_phone: cmd.customer.phone.clone(),
            metadata: cmd.metadata.to_string(),
            items: cmd
                .items
                .as_ref()
                .map(|i| serde_json::to_string(i).unwrap_or_default()),
            client_reference: cmd.client_reference.clone(),
            // Redirect URLs come from the merchant's server or the project, never later
            // from a browser.
            success_url: cmd
                .urls
                .success_url
                .clone()
                .or_else(|| project.success_url.clone()),
            failure_url: cmd
                .urls
                .failure_url
                .clone()
                .or_else(|| project.failure_url.clone()),
            cancel_url: cmd
                .urls
                .cancel_url
                .clone()
                .or_else(|| project.cancel_url.clone()),
            status: "opened".to_owned(),
            request_key: caller.request_key.clone(),
            expires_at: at + chrono::Duration::seconds(ttl as i64),
            created_at: at,
            updated_at: at,
        };
        let event = OutboxEvent {
            id: EventId::generate().into_string(),
            kind: SESSION_CREATED.to_owned(),
            aggregate_id: payment.id.clone(),
            correlation_id: corr.to_owned(),
            payload: serde_json::json!({"sessionId": session_id, "projectId": project.id, "mode": caller.mode, "amount": cmd.amount_minor, "currency": cmd.currency}),
        };
        let created = self.session_created(&session);
        let bundle = NewPaymentBundle {
            history: vec![history(
                &payment.id,
                None,
                "session.created",
                None,
                "PENDING",
                serde_json::json!({"sessionId": session_id}),
                at,
            )],
            payment,
            session: Some(session),
            events: vec![event],
        };
        match self.store.insert_payment_bundle(bundle).await {
            Ok(()) => {
                self.committed();
                Ok(created)
            }
            Err(StoreError::Conflict(_)) if caller.request_key.is_some() => {
                let busy = rejected(
                    409,
                    "conflict",
                    "A concurrent request is creating this session; retry.",
                );
                self.replay_or(caller, busy).await
            }
            Err(e) => Err(store_error(e)),
        }
    }

    /// The session already created under the caller's Idempotency-Key, if any, else
    /// `refused`: a retry is answered as the first request was, even when the project or
    /// the providers changed since.
    async fn replay_or(
        &self,
        caller: &nexpay_contracts::Caller,
        refused: HandlerError,
    ) -> Result<SessionCreated, HandlerError> {
        let Some(key) = &caller.request_key else {
            return Err(refused);
        };
        match self
            .store
            .find_session_by_request_key(&caller.project_id, &caller.mode, key)
            .await
            .map_err(store_error)?
        {
            Some(s) => Ok(self.session_created(&s)),
            None => Err(refused),
        }
    }

    fn session_created(&self, s: &SessionRow) -> SessionCreated {
        SessionCreated {
            session_id: s.id.clone(),
            checkout_url: format!("{}/checkout/{}", self.config.public_url, s.id),
            status: s.status.clone(),
            expires_at: chrono::TimeZone::from_utc_datetime(&chrono::Utc, &s.expires_at)
                .to_rfc3339_opts(SecondsFormat::Secs, true),
        }
    }

    /// Chooses (or switches) the provider of a session. Redirect URLs cannot be changed
    /// here: they are not part of the command.
    pub async fn checkout_session(
        &self,
        cmd: CheckoutSession,
        corr: &str,
    ) -> Result<PaymentInitiated, HandlerError> {
        let (session, payment, latest) = self
            .caller_session(
                &cmd.session_id,
                cmd.project_id.as_deref(),
                cmd.mode.as_deref(),
            )
            .await?;
        if matches!(
            session.status.as_str(),
            "succeeded" | "failed" | "cancelled" | "expired"
        ) {
            return Err(rejected(
                409,
                "session_closed",
                format!("This payment session is {}", session.status),
            ));
        }
        if session.expires_at <= now() {
            return Err(rejected(
                409,
                "session_closed",
                "This payment session has expired",
            ));
        }
        let provider = self
            .available_provider(&cmd.provider_code, &session.currency, &session.mode)
            .await?;
        let mut changes = Vec::new();
        if let Some(att) = latest.filter(|a| a.status == "created" || a.status == "pending") {
            // A double click on the same provider gets the open checkout back.
            if att.provider_code == provider.code && att.status == "pending" {
                return Ok(payment_view(&payment, &att, &provider));
            }
            let at = now();
            // Its exact status: if the checkout opened meanwhile (created → pending),
            // the retry sees its provider id, which closing it at the provider needs.
            changes.push(StatusChange::Attempt {
                id: att.id.clone(),
                from: vec![att.status.clone()],
                set: AttemptUpdate {
                    status: Some("cancelled".to_owned()),
                    resolved_at: Some(Some(at)),
                    updated_at: Some(at),
                    // Reconciliation closes it at the provider (where it can) right away.
                    next_check_at: Some(Some(at)),
                    ..Default::default()
                },
            });
        }
        let project = self.project(&session.project_id).await?;
        self.run_attempt(&payment, Some(&session), &project, &provider, changes, corr)
            .await
    }

    /// A session with its payment and latest attempt, as its caller may see it: a
    /// malformed id, an unknown one, or another project's or mode's session are all the
    /// same 404. A malformed id never reaches the database (PostgreSQL refuses e.g. a
    /// NUL byte in text, which would surface as a 503).
    async fn caller_session(
        &self,
        id: &str,
        project_id: Option<&str>,
        mode: Option<&str>,
    ) -> Result<(SessionRow, PaymentRow, Option<AttemptRow>), HandlerError> {
        let not_found = || rejected(404, "not_found", "Payment session not found");
        if SessionId::parse(id).is_err() {
            return Err(not_found());
        }
        let (session, payment, latest) = self
            .store
            .get_session_view(id)
            .await
            .map_err(store_error)?
            .ok_or_else(not_found)?;
        if project_id.is_some_and(|p| p != session.project_id)
            || mode.is_some_and(|m| m != session.mode)
        {
            return Err(not_found());
        }
        Ok((session, payment, latest))
    }

    /// Cancels a session that is not paid yet (the hosted page's "Cancel and return to
    /// the shop" link): session, payment and open attempts move to cancelled in one
    /// transaction with the `payment.cancelled` event. Cancelling a cancelled session
    /// answers the same and changes nothing; a succeeded, failed or expired one is
    /// refused (`session_closed`), and so is one paid while we were cancelling it.
    pub async fn cancel_session(
        &self,
        cmd: CancelSession,
        corr: &str,
    ) -> Result<SessionCancelled, HandlerError> {
        for _ in 0..CANCEL_RETRIES {
            let (session, payment, _) = self
                .caller_session(
                    &cmd.session_id,
                    cmd.project_id.as_deref(),
                    cmd.mode.as_deref(),
                )
                .await?;
            match session.status.as_str() {
                // A second click, or a retried message: nothing more to do.
                "cancelled" => return Ok(session_cancelled(&session)),
                "opened" | "pending" => {}
                other => {
                    return Err(rejected(
                        409,
                        "session_closed",
                        format!("This payment session is {other}"),
                    ))
                }
            }
            if payment.status != "PENDING" {
                // Not expected while the session is open; never cancel a paid payment.
                let shown = PaymentStatus::parse(&payment.status)
                    .map(|p| SessionStatus::from_payment(p, false).as_str().to_owned())
                    .unwrap_or_else(|_| payment.status.to_lowercase());
                return Err(rejected(
                    409,
                    "session_closed",
                    format!("This payment session is {shown}"),
                ));
            }
            // Archived or not: a customer may always give up on a session.
            let project = self.project_any(&session.project_id).await?;
            match self
                .cancel_open_session(&session, &payment, &project, corr)
                .await
            {
                Ok(()) => {
                    self.committed();
                    self.session_changed(Some(&session.id)).await;
                    let mut after = session;
                    after.status = "cancelled".to_owned();
                    return Ok(session_cancelled(&after));
                }
                // Paid, expired, cancelled or changed by someone else meanwhile: look
                // again at where it stands now.
                Err(StoreError::Stale(_)) => continue,
                Err(e) => return Err(store_error(e)),
            }
        }
        Err(rejected(
            409,
            "conflict",
            "The session kept changing while cancelling it; reload it and try again.",
        ))
    }

    /// The one transaction of a cancellation; `StoreError::Stale` (nothing written) if
    /// the session, its payment or an open attempt moved since they were read.
    async fn cancel_open_session(
        &self,
        session: &SessionRow,
        payment: &PaymentRow,
        project: &ProjectRow,
        corr: &str,
    ) -> Result<(), StoreError> {
        let attempts = self.store.list_attempts(&payment.id).await?;
        let provider = match &payment.provider_code {
            Some(code) => self
                .store
                .list_providers()
                .await?
                .into_iter()
                .find(|p| &p.code == code),
            None => None,
        };
        let at = now();
        // Rows are locked in the order the other writers use (attempt, payment,
        // session: provider updates, provider choices), so a cancel racing a confirmed
        // payment waits for it and then loses as stale on PostgreSQL instead of
        // deadlocking with it.
        let mut changes = Vec::new();
        let mut hist = Vec::new();
        for att in attempts
            .iter()
            .filter(|a| a.status == "created" || a.status == "pending")
        {
            // Its exact status: if the checkout opened meanwhile (created → pending),
            // the retry sees its provider id, which closing it at the provider needs.
            changes.push(StatusChange::Attempt {
                id: att.id.clone(),
                from: vec![att.status.clone()],
                set: AttemptUpdate {
                    status: Some("cancelled".to_owned()),
                    resolved_at: Some(Some(at)),
                    updated_at: Some(at),
                    // Reconciliation makes a last status check (a payment at the last
                    // second is recorded, late) and closes the checkout at the provider
                    // (Wave expire) right away.
                    next_check_at: Some(Some(at)),
                    ..Default::default()
                },
            });
            hist.push(history(
                &payment.id,
                Some(&att.id),
                "attempt.cancelled",
                Some(&att.status),
                "cancelled",
                serde_json::json!({"reason": "session cancelled"}),
                at,
            ));
        }
        changes.push(StatusChange::Payment {
            id: payment.id.clone(),
            from: vec!["PENDING".to_owned()],
            set: PaymentUpdate {
                status: Some("CANCELLED".to_owned()),
                resolved_at: Some(Some(at)),
                updated_at: Some(at),
                ..Default::default()
            },
        });
        hist.push(history(
            &payment.id,
            None,
            "payment.cancelled",
            Some("PENDING"),
            "CANCELLED",
            serde_json::json!({"sessionId": session.id, "source": "checkout_cancel"}),
            at,
        ));
        changes.push(StatusChange::SessionVersioned {
            id: session.id.clone(),
            from: vec![session.status.clone()],
            expect_updated_at: session.updated_at,
            set: SessionUpdate {
                status: Some("cancelled".to_owned()),
                updated_at: Some(at),
            },
        });
        let mut after = payment.clone();
        after.status = "CANCELLED".to_owned();
        after.resolved_at = Some(at);
        after.updated_at = at;
        let events = [merchant_event(
            EventType::PaymentCancelled,
            &after,
            project,
            provider.as_ref(),
            Some(at),
            false,
            corr,
            at,
        )];
        self.store.apply_changes(&changes, &hist, &events, at).await
    }
}

/// The answer to a cancellation: where the hosted page sends the customer back.
fn session_cancelled(s: &SessionRow) -> SessionCancelled {
    SessionCancelled {
        session_id: s.id.clone(),
        status: s.status.clone(),
        cancel_url: s.cancel_url.clone().or_else(|| s.failure_url.clone()),
    }
}
