//! Inbound provider webhooks: `POST /api/v1/webhook/{wave|om}`.
//!
//! 1. Verify on the raw bytes with every connector that may have sent it (live, then
//!    test): the first that verifies gives the mode.
//! 2. Store the raw event with its verification result before anything acts on it; a
//!    verified event already stored (same provider, mode and event id) is not stored or
//!    acted on again.
//! 3. Answer at once: Wave wants a 2xx within 5 s; Orange drops a notification for good
//!    on any 4xx, so a verified Orange call always gets a 2xx, even for a reference we
//!    do not know. Unverified calls get 401. Only storage trouble gives a 5xx, which the
//!    provider retries.
//! 4. [`WebhookProcessor`] then confirms with the provider's status API (a webhook body
//!    alone is never trusted) and hands the confirmed status to payments, each webhook on
//!    its own as soon as it is stored (a new event is stored already claimed and handed
//!    over directly while a processing slot is free). A row whose processing fails is
//!    tried again with backoff; reconciliation in payments covers what is never
//!    processed.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use nexpay_bus::{Bus, BusError, Envelope};
use nexpay_contracts::{
    kinds, queues, ProviderState, ProviderUpdate, ProviderUpdateOutcome, WebhookClaim,
};
use nexpay_providers::{ConnectorError, WebhookError, WebhookEvent};
use nexpay_store::{now, ProviderWebhookRow, Store, WebhookInsert};
use serde_json::json;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use crate::Connectors;

/// Largest webhook body accepted (Wave and Orange events are a few KB).
const MAX_BODY: usize = 256 * 1024;
/// Headers that carry credentials: stored redacted.
const CREDENTIAL_HEADERS: [&str; 2] = ["authorization", "proxy-authorization"];

/// A stored webhook handed straight to the processor, with the slot it runs in.
type Fresh = (ProviderWebhookRow, OwnedSemaphorePermit);

/// The receiving side, shared by the HTTP workers.
pub struct WebhookInbox {
    store: Store,
    connectors: Connectors,
    /// Wakes the processor when a new event is stored for it to claim.
    signal: Arc<tokio::sync::Notify>,
    /// Processing slots, shared with the processor.
    slots: Arc<Semaphore>,
    /// The processor's fast lane, once there is a processor.
    fresh: std::sync::OnceLock<mpsc::UnboundedSender<Fresh>>,
}

impl WebhookInbox {
    pub fn new(store: Store, connectors: Connectors) -> Self {
        WebhookInbox {
            store,
            connectors,
            signal: Arc::new(tokio::sync::Notify::new()),
            slots: Arc::new(Semaphore::new(CONCURRENCY)),
            fresh: std::sync::OnceLock::new(),
        }
    }

    /// The processor that acts on what this inbox stores (one per inbox).
    pub fn processor(&self, bus: Arc<dyn Bus>) -> WebhookProcessor {
        let (tx, rx) = mpsc::unbounded_channel();
        let fresh = self.fresh.set(tx).is_ok().then_some(rx);
        WebhookProcessor {
            store: self.store.clone(),
            connectors: self.connectors.clone(),
            bus,
            signal: self.signal.clone(),
            slots: self.slots.clone(),
            fresh,
        }
    }

    /// A processing slot for a new event, when one is free and a processor runs: the
    /// event is then stored already claimed and goes to the processor directly,
    /// without waiting for a claim query.
    fn fast_lane(&self) -> Option<(OwnedSemaphorePermit, &mpsc::UnboundedSender<Fresh>)> {
        let tx = self.fresh.get()?;
        let permit = self.slots.clone().try_acquire_owned().ok()?;
        Some((permit, tx))
    }

    /// Mounts `POST /api/v1/webhook/{code}`.
    pub fn configure(self: Arc<Self>) -> impl FnOnce(&mut web::ServiceConfig) {
        move |cfg| {
            cfg.app_data(web::Data::from(self))
                .app_data(web::PayloadConfig::new(MAX_BODY))
                .route("/api/v1/webhook/{code}", web::post().to(receive));
        }
    }

    async fn verify(
        &self,
        code: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<(&'static str, WebhookEvent), WebhookError> {
        let at = chrono::Utc::now();
        let mut first_error = None;
        for (mode, connector) in self.connectors.for_webhook(code).await {
            match connector.verify_webhook(headers, body, at) {
                Ok(event) => return Ok((mode, event)),
                // Verified by this connector but unreadable: no other will do better.
                Err(e @ WebhookError::Malformed(_)) => return Err(e),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or_else(|| {
            WebhookError::Unverified(format!("no {code} webhook is configured"))
        }))
    }
}

fn json_error(status: actix_web::http::StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "success": false,
        "error": {"code": code, "message": message, "details": []},
    }))
}

async fn receive(
    inbox: web::Data<WebhookInbox>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    use actix_web::http::StatusCode;
    let code = path.into_inner();
    if code != "wave" && code != "om" {
        return json_error(StatusCode::NOT_FOUND, "not_found", "No such provider");
    }
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_ascii_lowercase(), v.to_owned()))
        })
        .collect();
    let verdict = inbox.verify(&code, &headers, &body).await;
    let mut row = raw_row(&code, &headers, &body, &verdict);
    let lane = match &verdict {
        Ok(_) => inbox.fast_lane(),
        Err(_) => None,
    };
    if lane.is_some() {
        // Stored claimed, as a claim would leave it: no other replica takes it.
        row.locked_until = Some(now() + chrono::Duration::seconds(LEASE_SECS));
        row.attempts = 1;
    }
    let stored = inbox.store.insert_provider_webhook(&row).await;
    let stored = match stored {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(provider = %code, error = %e, "cannot store a provider webhook");
            // Transient: the provider retries.
            return json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Cannot record the notification now; retry later",
            );
        }
    };
    match (&verdict, stored) {
        (Err(WebhookError::Unverified(reason)), _) => {
            tracing::warn!(provider = %code, webhook = %row.id, %reason, "unverified provider webhook refused");
            json_error(
                StatusCode::UNAUTHORIZED,
                "unverified",
                "The notification could not be verified",
            )
        }
        (Err(WebhookError::Malformed(reason)), _) => {
            // Verified, so never a 4xx (Orange would drop it for good); kept for an admin.
            tracing::warn!(provider = %code, webhook = %row.id, %reason, "unreadable provider webhook recorded");
            HttpResponse::Ok().json(json!({"received": true}))
        }
        (Ok(_), WebhookInsert::Duplicate { first_id }) => {
            tracing::info!(provider = %code, first = %first_id, "duplicate provider webhook ignored");
            HttpResponse::Ok().json(json!({"received": true, "duplicate": true}))
        }
        (Ok(_), WebhookInsert::Stored) => {
            match lane {
                Some((permit, tx)) => {
                    if let Err(mpsc::error::SendError((row, _))) = tx.send((row, permit)) {
                        // The processor is gone (shutting down): the lease runs out and
                        // another replica, or this one restarted, claims the row.
                        tracing::info!(webhook = %row.id, "provider webhook left for a later claim");
                    }
                }
                None => inbox.signal.notify_one(),
            }
            HttpResponse::Ok().json(json!({"received": true}))
        }
    }
}

/// The row to store for one call, whatever its verdict.
fn raw_row(
    code: &str,
    headers: &[(String, String)],
    body: &[u8],
    verdict: &Result<(&'static str, WebhookEvent), WebhookError>,
) -> ProviderWebhookRow {
    let stored_headers: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(k, v)| {
            let v = if CREDENTIAL_HEADERS.contains(&k.as_str()) {
                let scheme = v.split_whitespace().next().unwrap_or_default();
                format!("{scheme} [redacted]")
            } else {
                v.clone()
            };
            (k.clone(), serde_json::Value::String(v))
        })
        .collect();
    let (mode, event, error) = match verdict {
        Ok((mode, event)) => (Some((*mode).to_owned()), Some(event), None),
        Err(WebhookError::Malformed(e)) => (None, None, Some(format!("malformed: {e}"))),
        Err(WebhookError::Unverified(e)) => (None, None, Some(format!("unverified: {e}"))),
    };
    let claim = event.map(|e| {
        serde_json::to_string(&WebhookClaim {
            state: e.claimed.clone(),
            amount_minor: e.amount_minor,
            currency: e.currency.clone(),
        })
        .unwrap_or_default()
    });
    ProviderWebhookRow {
        id: format!("pwh_{}", nexpay_security::random_base62(20)),
        provider_code: code.to_owned(),
        mode,
        event_id: event.map(|e| e.event_id.clone()),
        event_type: event.map(|e| e.kind.clone()),
        provider_id: event.and_then(|e| e.provider_id.clone()),
        reference: event.and_then(|e| e.reference.clone()),
        claim,
        // A malformed body passed authentication: it counts as verified, but there is
        // nothing to process (processed at once).
        verified: event.is_some() || matches!(verdict, Err(WebhookError::Malformed(_))),
        verification_error: error,
        headers: serde_json::Value::Object(stored_headers).to_string(),
        body: String::from_utf8_lossy(body).into_owned(),
        received_at: now(),
        attempts: 0,
        locked_until: None,
        processed_at: matches!(verdict, Err(WebhookError::Malformed(_))).then(now),
        outcome: matches!(verdict, Err(WebhookError::Malformed(_))).then(|| "malformed".to_owned()),
    }
}

/// Acts on stored webhooks: status check with the provider, then the confirmed status
/// to payments. Several replicas may run one each: rows are claimed with a lease.
///
/// Each webhook is processed on its own as soon as it has a slot (up to
/// [`CONCURRENCY`] at once): new events come straight from the inbox, and the claim
/// loop takes what is due (retries, rows of a replica that died, events stored while
/// every slot was busy) whenever a slot is free, so no event waits for another.
pub struct WebhookProcessor {
    store: Store,
    connectors: Connectors,
    bus: Arc<dyn Bus>,
    signal: Arc<tokio::sync::Notify>,
    slots: Arc<Semaphore>,
    fresh: Option<mpsc::UnboundedReceiver<Fresh>>,
}

/// Processing gives up after this many tries (reconciliation takes over).
const MAX_TRIES: i32 = 8;
const LEASE_SECS: i64 = 60;
/// Webhooks processed at once by one replica (each mostly waits on the provider's
/// status API and on payments).
const CONCURRENCY: usize = 64;
/// Most rows claimed by one query.
const BATCH: usize = 16;
const PAYMENTS_TIMEOUT: Duration = Duration::from_secs(10);

impl WebhookProcessor {
    /// Runs until the task is dropped: new events as they come, and every `poll` the
    /// rows left by a replica that died or deferred for a retry.
    pub async fn run(mut self, poll: Duration) {
        let fresh = self.fresh.take();
        let this = Arc::new(self);
        // New events go to work at once, never behind a claim query waiting for the
        // database.
        let lane = fresh.map(|mut rx| {
            let this = this.clone();
            tokio::spawn(async move {
                while let Some(item) = rx.recv().await {
                    this.spawn(item);
                }
            })
        });
        let _stop_lane = LaneGuard(lane);
        loop {
            // A free slot first, then as many as are free (up to a batch).
            let Ok(first) = this.slots.clone().acquire_owned().await else {
                return;
            };
            let mut permits = vec![first];
            while permits.len() < BATCH {
                match this.slots.clone().try_acquire_owned() {
                    Ok(p) => permits.push(p),
                    Err(_) => break,
                }
            }
            let wanted = permits.len();
            let claimed = match this
                .store
                .claim_provider_webhooks(wanted as i64, chrono::Duration::seconds(LEASE_SECS))
                .await
            {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim provider webhooks");
                    Vec::new()
                }
            };
            let full = claimed.len() == wanted;
            for (row, permit) in claimed.into_iter().zip(permits) {
                this.spawn((row, permit));
            }
            if full {
                // More may be due.
                continue;
            }
            tokio::select! {
                _ = this.signal.notified() => {}
                _ = tokio::time::sleep(poll) => {}
            }
        }
    }

    fn spawn(self: &Arc<Self>, (row, permit): Fresh) {
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(e) = this.process_and_record(&row).await {
                tracing::warn!(webhook = %row.id, error = %e, "provider webhook processing failed");
            }
            drop(permit);
        });
    }

    async fn process_and_record(&self, row: &ProviderWebhookRow) -> nexpay_store::StoreResult<()> {
        match self.process(row).await {
            Ok(outcome) => {
                self.store
                    .mark_provider_webhook_processed(&row.id, &outcome)
                    .await
            }
            Err(reason) if row.attempts >= MAX_TRIES => {
                tracing::warn!(webhook = %row.id, %reason, "giving up on a provider webhook; reconciliation will check the payment");
                self.store
                    .mark_provider_webhook_processed(&row.id, &format!("gave up: {reason}"))
                    .await
            }
            Err(reason) => {
                let backoff = 2i64.pow(row.attempts.clamp(0, 8) as u32).min(300);
                let retry_at = now() + chrono::Duration::seconds(backoff);
                tracing::info!(webhook = %row.id, %reason, backoff, "provider webhook deferred");
                self.store
                    .defer_provider_webhook(&row.id, retry_at, &reason)
                    .await
            }
        }
    }

    /// `Ok(outcome)` when the row is done with; `Err` to try again later.
    async fn process(&self, row: &ProviderWebhookRow) -> Result<String, String> {
        let (Some(mode), Some(reference)) = (&row.mode, &row.reference) else {
            return Ok("ignored: not about a checkout".to_owned());
        };
        let Some(connector) = self.connectors.get(mode, &row.provider_code).await else {
            return Err(format!("no {mode} connector for {}", row.provider_code));
        };
        let status = match connector
            .fetch_status(row.provider_id.as_deref().unwrap_or_default(), reference)
            .await
        {
            Ok(s) => s,
            Err(ConnectorError::Rejected { code, message, .. }) => {
                // The provider does not know it: a forged or foreign event.
                return Ok(format!("not confirmed by the provider: {code}: {message}"));
            }
            Err(e) => return Err(e.to_string()),
        };
        let claim: Option<WebhookClaim> = row
            .claim
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok());
        let disagrees = claim.as_ref().is_some_and(|c| {
            let state_differs = matches!(c.state, ProviderState::Succeeded)
                != matches!(status.state, ProviderState::Succeeded);
            let amount_differs = c.amount_minor.is_some()
                && status.amount_minor.is_some()
                && c.amount_minor != status.amount_minor;
            state_differs || amount_differs
        });
        let update = ProviderUpdate {
            provider_code: row.provider_code.clone(),
            mode: mode.clone(),
            provider_reference: reference.clone(),
            status,
            source: "webhook".to_owned(),
            webhook_id: Some(row.id.clone()),
            webhook_claim: if disagrees { claim } else { None },
        };
        let msg = Envelope::new(
            kinds::PROVIDER_UPDATE,
            row.id.clone(),
            serde_json::to_value(&update).map_err(|e| e.to_string())?,
        );
        match self
            .bus
            .request(queues::PAYMENTS, msg, PAYMENTS_TIMEOUT)
            .await
        {
            Ok(v) => {
                let outcome: ProviderUpdateOutcome =
                    serde_json::from_value(v).map_err(|e| e.to_string())?;
                Ok(match outcome.payment_status {
                    Some(s) => format!("{} ({s})", outcome.outcome),
                    None => outcome.outcome,
                })
            }
            Err(BusError::Handler(nexpay_bus::HandlerError::Rejected {
                code, message, ..
            })) => Ok(format!("refused by payments: {code}: {message}")),
            Err(e) => Err(format!("payments: {e}")),
        }
    }
}

/// Aborts the fast lane's task when the processor stops.
struct LaneGuard(Option<tokio::task::JoinHandle<()>>);

impl Drop for LaneGuard {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}
