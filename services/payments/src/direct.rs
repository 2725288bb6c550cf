//! Direct payments (`POST /payment/initiate`) and the attempt flow shared with session
//! checkouts: record the attempt first, then ask the provider, then record its answer,
//! so a crash between the two leaves a trace that reconciliation can finish.

use nexpay_bus::{BusError, Envelope, HandlerError};
use nexpay_contracts::{
    kinds, queues, Caller, CheckoutCreated, CreateCheckout, Customer, InitiatePayment,
    PaymentInitiated,
};
use nexpay_domain::{AttemptId, EventType, PaymentId, PaymentReference};
use nexpay_store::{
    now, AttemptRow, AttemptUpdate, NewPaymentBundle, PaymentRow, PaymentUpdate, ProjectRow,
    ProviderRow, SessionRow, SessionUpdate, StatusChange, StoreError,
};

use crate::events::{history, merchant_event};
use crate::views::payment_view;
use crate::{rejected, store_error, Payments};

/// Currencies each provider accepts (Wave and Orange Money Senegal: XOF).
/// A new PENDING payment (of a session, or direct).
#[allow(clippy::too_many_arguments)]
pub(crate) fn pending_payment(
    caller: &Caller,
    session_id: Option<String>,
    amount_minor: i64,
    currency: &str,
    customer: &Customer,
    metadata: &serde_json::Value,
    client_reference: Option<String>,
    at: chrono::NaiveDateTime,
) -> PaymentRow {
    PaymentRow {
        id: PaymentId::generate().into_string(),
        reference: PaymentReference::generate().into_string(),
        project_id: caller.project_id.clone(),
        mode: caller.mode.clone(),
        session_id,
        amount: amount_minor,
        currency: currency.to_owned(),
        payer_name: customer.name.clone(),
        payer_email: customer.email.clone(),
        payer_phone: customer.phone.clone(),
        metadata: metadata.to_string(),
        client_reference,
        status: "PENDING".to_owned(),
        provider_code: None,
        late: false,
        request_key: None,
        created_at: at,
        updated_at: at,
        resolved_at: None,
    }
}

/// Live payments need the provider's credentials; refusing here writes no payment that
/// could never be paid. Test mode always has the simulators.
fn require_live_config(provider: &ProviderRow, mode: &str) -> Result<(), HandlerError> {
    if mode == "live" && !provider.live_ready() {
        return Err(rejected(
            422,
            "provider_not_configured",
            format!(
                "{} has no live credentials configured on this instance",
                provider.name
            ),
        ));
    }
    Ok(())
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

impl Payments {
    pub async fn initiate_payment(
        &self,
        cmd: InitiatePayment,
        corr: &str,
    ) -> Result<PaymentInitiated, HandlerError> {
        let caller = &cmd.caller;
        if let Some(key) = &caller.request_key {
            if let Some(existing) = self
                .store
                .find_payment_by_request_key(&caller.project_id, &caller.mode, key)
                .await
                .map_err(store_error)?
            {
                return self.resume(existing, corr).await;
            }
        }
        let project = self.project(&caller.project_id).await?;
        let provider = self
            .available_provider(&cmd.provider_code, &cmd.currency, &caller.mode)
            .await?;
        let at = now();
        let mut payment = pending_payment(
            &cmd.caller,
            None,
            cmd.amount_minor,
            &cmd.currency,
            &cmd.customer,
            &cmd.metadata,
            cmd.client_reference.clone(),
            at,
        );
        payment.provider_code = Some(provider.code.clone());
        payment.request_key = caller.request_key.clone();
        let bundle = NewPaymentBundle {
            history: vec![history(
                &payment.id,
                None,
                "payment.created",
                None,
                "PENDING",
                serde_json::json!({}),
                at,
            )],
            payment: payment.clone(),
            session: None,
            events: vec![],
        };
        match self.store.insert_payment_bundle(bundle).await {
            Ok(()) => {}
            // A concurrent request with the same Idempotency-Key won the insert.
            Err(StoreError::Conflict(_)) if caller.request_key.is_some() => {
                let key = caller.request_key.as_deref().unwrap_or_default();
                let existing = self
                    .store
                    .find_payment_by_request_key(&caller.project_id, &caller.mode, key)
                    .await
                    .map_err(store_error)?;
                return match existing {
                    Some(p) => self.resume(p, corr).await,
                    None => Err(rejected(
                        409,
                        "conflict",
                        "A concurrent request is creating this payment; retry.",
                    )),
                };
            }
            Err(e) => return Err(store_error(e)),
        }
        self.run_attempt(&payment, None, &project, &provider, Vec::new(), corr)
            .await
    }

    /// A retried request found the payment its key created: answer with it, finishing the
    /// provider call if the first request died (or timed out) before recording it.
    async fn resume(
        &self,
        payment: PaymentRow,
        corr: &str,
    ) -> Result<PaymentInitiated, HandlerError> {
        let attempts = self
            .store
            .list_attempts(&payment.id)
            .await
            .map_err(store_error)?;
        let Some(attempt) = attempts.last() else {
            // The first request stored the payment, then died (or lost its database
            // connection) before recording the attempt: record it now. A concurrent
            // retry doing the same loses on the attempt's unique provider reference.
            if payment.status == "PENDING" && payment.session_id.is_none() {
                if let Some(code) = payment.provider_code.clone() {
                    let provider = self.provider_row(&code).await?;
                    let project = self.project(&payment.project_id).await?;
                    return self
                        .run_attempt(&payment, None, &project, &provider, Vec::new(), corr)
                        .await;
                }
            }
            return Err(rejected(
                409,
                "conflict",
                "The payment is being created; retry.",
            ));
        };
        let provider = self.provider_row(&attempt.provider_code).await?;
        if attempt.status == "created" {
            let project = self.project(&payment.project_id).await?;
            return self
                .complete_attempt(&payment, attempt, &project, &provider, corr)
                .await;
        }
        Ok(payment_view(&payment, attempt, &provider))
    }

    /// Records a new attempt (with `changes`, e.g. cancelling the previous one), then
    /// opens the checkout at the provider.
    pub(crate) async fn run_attempt(
        &self,
        payment: &PaymentRow,
        session: Option<&SessionRow>,
        project: &ProjectRow,
        provider: &ProviderRow,
        mut changes: Vec<StatusChange>,
        corr: &str,
    ) -> Result<PaymentInitiated, HandlerError> {
        let at = now();
        // A direct payment has exactly one attempt, so it is always the first: two
        // requests racing to record it (a retry resuming a payment whose first request
        // is still running) both use the payment's reference, and the unique provider
        // reference lets only one insert win. Sessions count their attempts, serialised
        // by the session's version check.
        let previous = match session {
            None => 0,
            Some(_) => self
                .store
                .list_attempts(&payment.id)
                .await
                .map_err(store_error)?
                .len(),
        };
        let attempt = AttemptRow {
            id: AttemptId::generate().into_string(),
            payment_id: payment.id.clone(),
            provider_code: provider.code.clone(),
            provider_reference: if previous == 0 {
                payment.reference.clone()
            } else {
                format!("{}-{}", payment.reference, previous + 1)
            },
            provider_id: None,
            provider_transaction_id: None,
            status: "created".to_owned(),
            checkout_urls: "[]".to_owned(),
            qr_png_base64: None,
            expires_at: None,
            failure_code: None,
            failure_message: None,
            late: false,
            created_at: at,
            updated_at: at,
            resolved_at: None,
            // Reconciliation looks at it even if nothing else ever does.
            next_check_at: Some(
                at + chrono::Duration::from_std(self.config.reconcile.first_check)
                    .unwrap_or(chrono::Duration::seconds(60)),
            ),
            checks: 0,
            flag: None,
        };
        changes.push(StatusChange::Payment {
            id: payment.id.clone(),
            from: strings(&["PENDING"]),
            set: PaymentUpdate {
                provider_code: Some(Some(provider.code.clone())),
                updated_at: Some(at),
                ..Default::default()
            },
        });
        if let Some(s) = session {
            changes.push(StatusChange::SessionVersioned {
                id: s.id.clone(),
                from: strings(&["opened", "pending"]),
                expect_updated_at: s.updated_at,
                set: SessionUpdate {
                    status: Some("pending".to_owned()),
                    updated_at: Some(at),
                },
            });
        }
        let mut current = payment.clone();
        current.provider_code = Some(provider.code.clone());
        let hist = [history(
            &payment.id,
            Some(&attempt.id),
            "attempt.started",
            Some("PENDING"),
            "PENDING",
            serde_json::json!({"provider": provider.code}),
            at,
        )];
        let events = [merchant_event(
            EventType::PaymentPending,
            &current,
            project,
            Some(provider),
            None,
            false,
            corr,
            at,
        )];
        match self
            .store
            .insert_attempt(&attempt, &changes, &hist, &events)
            .await
        {
            Ok(()) => {
                self.committed();
                self.session_changed(payment.session_id.as_deref()).await;
            }
            // Stale: a concurrent choice changed the session first. Conflict: a concurrent
            // attempt took the same provider reference (same attempt number) first.
            Err(StoreError::Stale(_) | StoreError::Conflict(_)) => {
                return Err(rejected(
                    409,
                    "conflict",
                    "The session changed while choosing a provider; reload it and try again.",
                ))
            }
            Err(e) => return Err(store_error(e)),
        }
        self.complete_attempt(&current, &attempt, project, provider, corr)
            .await
    }

    async fn complete_attempt(
        &self,
        payment: &PaymentRow,
        attempt: &AttemptRow,
        project: &ProjectRow,
        provider: &ProviderRow,
        corr: &str,
    ) -> Result<PaymentInitiated, HandlerError> {
        let session = match &payment.session_id {
            Some(id) => self.store.get_session(id).await.map_err(store_error)?,
            None => None,
        };
        // A session's payer comes back from the provider to the hosted checkout page,
        // which shows the outcome as NexPay knows it (a receipt, or the choice again)
        // and only then sends them on to the shop's URL. A direct payment goes back to
        // the shop's URLs.
        let (success_url, error_url) = match &session {
            Some(s) => {
                let page = format!("{}/checkout/{}", self.config.public_url, s.id);
                (Some(page.clone()), Some(page))
            }
            None => (project.success_url.clone(), project.failure_url.clone()),
        };
        let fallback = format!("{}/checkout/done", self.config.public_url);
        let cmd = CreateCheckout {
            provider_code: provider.code.clone(),
            mode: payment.mode.clone(),
            attempt_id: attempt.id.clone(),
            provider_reference: attempt.provider_reference.clone(),
            amount_minor: payment.amount,
            currency: payment.currency.clone(),
            payer_phone: payment.payer_phone.clone(),
            merchant_name: project.name.clone(),
            success_url: success_url.unwrap_or_else(|| fallback.clone()),
            error_url: error_url.unwrap_or(fallback),
        };
        let request = Envelope::new(
            kinds::CREATE_CHECKOUT,
            corr,
            serde_json::to_value(&cmd).unwrap_or_default(),
        );
        match self
            .bus
            .request(queues::PROVIDERS, request, self.config.provider_timeout)
            .await
        {
            Ok(value) => {
                let created: CheckoutCreated = serde_json::from_value(value)
                    .map_err(|e| HandlerError::Permanent(format!("bad provider reply: {e}")))?;
                self.record_checkout(payment, attempt, provider, created)
                    .await
            }
            Err(BusError::Handler(HandlerError::Rejected {
                status,
                code,
                message,
                ..
            })) => {
                self.record_creation_failure(
                    payment, attempt, project, provider, &code, &message, corr,
                )
                .await?;
                Err(match status {
                    422 => rejected(422, &code, message),
                    503 => rejected(
                        503,
                        "provider_unavailable",
                        format!("{} is unavailable: {message}", provider.name),
                    ),
                    _ => rejected(
                        502,
                        "provider_error",
                        format!("{} refused the payment: {message}", provider.name),
                    ),
                })
            }
            Err(BusError::Timeout) => Err(rejected(
                504,
                "provider_timeout",
                format!(
                    "{} did not answer in time; retry with the same Idempotency-Key.",
                    provider.name
                ),
            )),
            Err(e) => Err(rejected(
                503,
                "provider_unavailable",
                format!(
                    "{} cannot be reached right now ({e}); retry with the same Idempotency-Key.",
                    provider.name
                ),
            )),
        }
    }

    async fn record_checkout(
        &self,
        payment: &PaymentRow,
        attempt: &AttemptRow,
        provider: &ProviderRow,
        created: CheckoutCreated,
    ) -> Result<PaymentInitiated, HandlerError> {
        let at = now();
        let set = AttemptUpdate {
            status: Some("pending".to_owned()),
            provider_id: Some(Some(created.provider_id.clone())),
            checkout_urls: Some(
                serde_json::to_string(&created.checkout_urls).unwrap_or_else(|_| "[]".to_owned()),
            ),
            qr_png_base64: Some(created.qr_png_base64.clone()),
            expires_at: Some(Some(created.expires_at.naive_utc())),
            updated_at: Some(at),
            ..Default::default()
        };
        let changes = [StatusChange::Attempt {
            id: attempt.id.clone(),
            from: strings(&["created"]),
            set,
        }];
        let hist = [history(
            &payment.id,
            Some(&attempt.id),
            "attempt.opened",
            Some("created"),
            "pending",
            serde_json::json!({"provider_id": created.provider_id}),
            at,
        )];
        match self.store.apply_changes(&changes, &hist, &[], at).await {
            Ok(()) => self.session_changed(payment.session_id.as_deref()).await,
            Err(StoreError::Stale(_)) => {}
            Err(e) => return Err(store_error(e)),
        }
        let fresh = self
            .store
            .list_attempts(&payment.id)
            .await
            .map_err(store_error)?;
        let current = fresh.iter().find(|a| a.id == attempt.id).unwrap_or(attempt);
        let payment = self
            .store
            .get_payment(&payment.id)
            .await
            .map_err(store_error)?
            .unwrap_or_else(|| payment.clone());
        Ok(payment_view(&payment, current, provider))
    }

    /// The provider refused to open the checkout. A session stays payable (the customer
    /// may pick another provider); a direct payment has no other attempt, so it fails.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn record_creation_failure(
        &self,
        payment: &PaymentRow,
        attempt: &AttemptRow,
        project: &ProjectRow,
        provider: &ProviderRow,
        code: &str,
        message: &str,
        corr: &str,
    ) -> Result<(), HandlerError> {
        let at = now();
        let mut changes = vec![StatusChange::Attempt {
            id: attempt.id.clone(),
            from: strings(&["created"]),
            set: AttemptUpdate {
                status: Some("failed".to_owned()),
                failure_code: Some(Some(code.to_owned())),
                failure_message: Some(Some(message.to_owned())),
                resolved_at: Some(Some(at)),
                updated_at: Some(at),
                ..Default::default()
            },
        }];
        let mut hist = vec![history(
            &payment.id,
            Some(&attempt.id),
            "attempt.failed",
            Some("created"),
            "failed",
            serde_json::json!({"code": code}),
            at,
        )];
        let mut events = Vec::new();
        if let Some(session_id) = &payment.session_id {
            changes.push(StatusChange::Session {
                id: session_id.clone(),
                from: strings(&["pending"]),
                set: SessionUpdate {
                    status: Some("opened".to_owned()),
                    updated_at: Some(at),
                },
            });
        } else {
            changes.push(StatusChange::Payment {
                id: payment.id.clone(),
                from: strings(&["PENDING"]),
                set: PaymentUpdate {
                    status: Some("FAILED".to_owned()),
                    resolved_at: Some(Some(at)),
                    updated_at: Some(at),
                    ..Default::default()
                },
            });
            hist.push(history(
                &payment.id,
                Some(&attempt.id),
                "payment.failed",
                Some("PENDING"),
                "FAILED",
                serde_json::json!({"code": code}),
                at,
            ));
            events.push(merchant_event(
                EventType::PaymentFailed,
                payment,
                project,
                Some(provider),
                Some(at),
                false,
                corr,
                at,
            ));
        }
        match self.store.apply_changes(&changes, &hist, &events, at).await {
            Ok(()) => {
                self.committed();
                self.session_changed(payment.session_id.as_deref()).await;
                Ok(())
            }
            Err(StoreError::Stale(_)) => Ok(()),
            Err(e) => Err(store_error(e)),
        }
    }

    pub(crate) async fn project(&self, id: &str) -> Result<ProjectRow, HandlerError> {
        open_project(self.store.get_project(id).await.map_err(store_error)?)
    }

    pub(crate) async fn provider_row(&self, code: &str) -> Result<ProviderRow, HandlerError> {
        let providers = self.store.list_providers().await.map_err(store_error)?;
        providers.into_iter().find(|p| p.code == code).ok_or_else(|| {
            HandlerError::Rejected {
                status: 400,
                code: "validation_error".to_owned(),
                message: format!("Unknown provider_code {code:?}"),
                details: serde_json::json!([{"field": "provider_code", "message": "unknown provider (expected one of: wave, om)"}]),
            }
        })
    }

    pub(crate) async fn available_provider(
        &self,
        code: &str,
        currency: &str,
        mode: &str,
    ) -> Result<ProviderRow, HandlerError> {
        let provider = self.provider_row(code).await?;
        require_live_config(&provider, mode)?;
        if !provider.enabled {
            return Err(rejected(
                422,
                "provider_unavailable",
                format!("{} is not enabled on this instance", provider.name),
            ));
        }
        if !provider.accepts(currency) {
            return Err(rejected(
                422,
                "unsupported_currency",
                format!("{} does not accept {currency}", provider.name),
            ));
        }
        Ok(provider)
    }
}

/// A project payments can be made to: it exists and is not archived.
pub(crate) fn open_project(row: Option<ProjectRow>) -> Result<ProjectRow, HandlerError> {
    match row {
        Some(p) if p.archived_at.is_none() => Ok(p),
        _ => Err(rejected(404, "not_found", "Project not found")),
    }
}
