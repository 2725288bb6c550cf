//! Sends due deliveries: claims them with a lease, posts each on its own task, records
//! the attempt and when the next one is due.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use nexpay_config::{Config, WebhookSettings};
use nexpay_security::{Keyring, SealingKey};
use nexpay_store::{
    AdminNotificationRow, AttemptOutcome, AttemptRecord, EndpointShutdown, Store,
    WebhookAttemptRow, WebhookDeliveryRow, WebhookEndpointRow,
};
use nexpay_webhook_signing::{policy, secret_aad, signed_headers};
use ring::rand::SecureRandom as _;
use tokio::sync::{mpsc, oneshot, Notify, OwnedSemaphorePermit, Semaphore};

use crate::attempt::{classify, next_attempt, parse_retry_after, Classified};

/// Deliveries claimed per query.
const BATCH: usize = 128;
/// How often the dispatcher looks for due deliveries when nothing wakes it.
const POLL: Duration = Duration::from_millis(50);
/// An endpoint's row and secrets are read again after this long.
const ENDPOINT_TTL: Duration = Duration::from_secs(1);
/// The first bytes of a receiver's answer kept with the attempt.
const SNIPPET_BYTES: usize = 1024;
/// Attempts recorded per transaction at most.
const RECORD_BATCH: usize = 128;

/// Opens the endpoints' sealed secrets (`WEBHOOK_SECRETS_KEY`).
#[derive(Clone)]
pub struct EndpointSecrets {
    keyring: Keyring,
}

impl EndpointSecrets {
    pub fn new(keyring: Keyring) -> Self {
        EndpointSecrets { keyring }
    }

    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let encoded = config.webhook_secrets_key.as_ref().ok_or_else(|| {
            anyhow::anyhow!("WEBHOOK_SECRETS_KEY is not set: webhook-dispatcher needs it to sign merchant webhooks")
        })?;
        let key = SealingKey::from_base64(encoded.expose())?;
        Ok(EndpointSecrets::new(Keyring::new(key, Vec::new())))
    }

    fn open(&self, endpoint_id: &str, sealed: &str) -> Option<String> {
        let bytes = self.keyring.open(sealed, &secret_aad(endpoint_id)).ok()?;
        String::from_utf8(bytes).ok()
    }
}

/// An endpoint ready to sign for: its row and the secrets valid now.
struct Endpoint {
    row: WebhookEndpointRow,
    current: String,
    /// The secret before the last rotation, while its grace period lasts.
    previous: Option<String>,
}

/// An endpoint as read at some instant (None: deleted or its secret does not open).
type Cached = (Instant, Option<Arc<Endpoint>>);

/// Sends merchant webhooks. Cheap to clone.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    http: reqwest::Client,
    secrets: EndpointSecrets,
    settings: WebhookSettings,
    wake: Arc<Notify>,
    /// Sending slots of the deliveries claimed from the store (due retries, resends,
    /// anything written while no dispatcher was there).
    permits: Arc<Semaphore>,
    /// Sending slots of the fast lane: deliveries the fan-out of this process has just
    /// written, sent at once rather than queued behind the due ones.
    fresh: Arc<Semaphore>,
    endpoints: Mutex<HashMap<String, Cached>>,
    metrics: Option<nexpay_runtime::Metrics>,
    /// To the task that writes attempts (see [`record_attempts`]).
    records: mpsc::UnboundedSender<Pending>,
}

/// An attempt waiting to be written, and who waits for the answer.
struct Pending {
    endpoint_id: String,
    record: AttemptRecord,
    done: oneshot::Sender<Result<bool, String>>,
}

/// Writes attempts as they come, each transaction taking every attempt that finished
/// meanwhile (up to [`RECORD_BATCH`]): one at a time when deliveries are few, one commit
/// for many under load, instead of a transaction per attempt competing for the
/// database (SQLite's single writer above all). Ends when the dispatcher is dropped.
async fn record_attempts(store: Store, mut queue: mpsc::UnboundedReceiver<Pending>) {
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    while queue.recv_many(&mut batch, RECORD_BATCH).await > 0 {
        // Endpoint rows are updated in one order by every dispatcher: two replicas'
        // transactions cannot deadlock on them.
        batch.sort_by(|a: &Pending, b: &Pending| a.endpoint_id.cmp(&b.endpoint_id));
        let records: Vec<AttemptRecord> = batch.iter().map(|p| p.record.clone()).collect();
        let mut result = store.record_webhook_attempts(&records).await;
        if result.as_ref().is_err_and(|e| e.is_transient()) {
            tokio::time::sleep(Duration::from_millis(20)).await;
            result = store.record_webhook_attempts(&records).await;
        }
        match result {
            Ok(written) => {
                for (pending, ok) in batch.drain(..).zip(written) {
                    let _ = pending.done.send(Ok(ok));
                }
            }
            Err(e) => {
                // Nothing of the batch is written: the leases run out and the
                // deliveries are claimed and sent again.
                let error = e.to_string();
                for pending in batch.drain(..) {
                    let _ = pending.done.send(Err(error.clone()));
                }
            }
        }
    }
}

/// The running dispatcher loop.
pub struct DispatcherHandle {
    task: tokio::task::JoinHandle<()>,
}

impl DispatcherHandle {
    /// Stops claiming; deliveries in flight are abandoned to their lease and tried
    /// again by whichever dispatcher claims them next (at most a duplicate, with the
    /// same `webhook-id`).
    pub fn abort(&self) {
        self.task.abort();
    }
}

impl Dispatcher {
    /// Starts the task that records attempts (see [`record_attempts`]): call it from
    /// within a Tokio runtime. The claim loop starts with [`Self::spawn`].
    pub fn new(
        store: Store,
        secrets: EndpointSecrets,
        settings: WebhookSettings,
    ) -> anyhow::Result<Self> {
        let mut http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(64)
            .user_agent(concat!("NexPay-Webhooks/", env!("CARGO_PKG_VERSION")));
        if !settings.allow_private_urls {
            http = http.dns_resolver(Arc::new(crate::resolver::PublicOnly));
        }
        let (records, queue) = mpsc::unbounded_channel();
        tokio::spawn(record_attempts(store.clone(), queue));
        Ok(Dispatcher {
            inner: Arc::new(Inner {
                records,
                store,
                http: http.build()?,
                secrets,
                permits: Arc::new(Semaphore::new(settings.concurrency)),
                fresh: Arc::new(Semaphore::new(settings.concurrency)),
                settings,
                wake: Arc::new(Notify::new()),
                endpoints: Mutex::new(HashMap::new()),
                metrics: None,
            }),
        })
    }

    /// Counts attempts and their durations on `/metrics`. Call before [`Self::spawn`].
    pub fn with_metrics(mut self, metrics: nexpay_runtime::Metrics) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.metrics = Some(metrics);
        }
        self
    }

    /// Notified when new deliveries are written (give it to [`crate::Fanout::new`]).
    pub fn wake(&self) -> Arc<Notify> {
        self.inner.wake.clone()
    }

    pub fn spawn(&self) -> DispatcherHandle {
        let me = self.clone();
        DispatcherHandle {
            task: tokio::spawn(async move { me.run().await }),
        }
    }

    /// How long a claim holds a delivery: the HTTP timeout and a margin. A dispatcher
    /// that dies with deliveries in flight leaves them to be claimed again after it.
    pub(crate) fn lease(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.inner.settings.timeout + Duration::from_secs(10))
            .unwrap_or_else(|_| chrono::Duration::seconds(60))
    }

    /// One fast-lane slot per delivery, or `None` when the lane has fewer free slots
    /// (the deliveries then wait for the claim loop like any other).
    pub(crate) fn reserve_fresh(&self, n: usize) -> Option<Vec<OwnedSemaphorePermit>> {
        let mut permits = Vec::with_capacity(n);
        for _ in 0..n {
            permits.push(self.inner.fresh.clone().try_acquire_owned().ok()?);
        }
        Some(permits)
    }

    /// Sends deliveries the caller wrote already claimed (`locked_until` set to now plus
    /// [`Self::lease`]), each on its own task holding one of `permits`.
    pub(crate) fn send_now(
        &self,
        deliveries: Vec<WebhookDeliveryRow>,
        permits: Vec<OwnedSemaphorePermit>,
    ) {
        for (delivery, permit) in deliveries.into_iter().zip(permits) {
            self.spawn_delivery(delivery, permit);
        }
    }

    /// One delivery on its own task, holding its sending slot until its attempt is
    /// recorded.
    fn spawn_delivery(&self, delivery: WebhookDeliveryRow, permit: OwnedSemaphorePermit) {
        let me = self.clone();
        tokio::spawn(async move {
            me.deliver(delivery).await;
            drop(permit);
        });
    }

    async fn run(self) {
        let lease = self.lease();
        loop {
            let free = self.inner.permits.available_permits().min(BATCH);
            if free == 0 {
                // Every task is busy: wait for one to finish.
                if let Ok(p) = self.inner.permits.clone().acquire_owned().await {
                    drop(p);
                }
                continue;
            }
            match self
                .inner
                .store
                .claim_webhook_deliveries(free as i64, lease)
                .await
            {
                Ok(batch) => {
                    let full = batch.len() == free;
                    for delivery in batch {
                        let Ok(permit) = self.inner.permits.clone().acquire_owned().await else {
                            return;
                        };
                        self.spawn_delivery(delivery, permit);
                    }
                    if full {
                        continue;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "claiming webhook deliveries failed");
                }
            }
            tokio::select! {
                _ = self.inner.wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// The endpoint with its secrets, from a short cache.
    async fn endpoint(&self, id: &str) -> Result<Option<Arc<Endpoint>>, nexpay_store::StoreError> {
        if let Some((at, cached)) = self
            .inner
            .endpoints
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(id)
        {
            if at.elapsed() < ENDPOINT_TTL {
                return Ok(cached.clone());
            }
        }
        let row = self.inner.store.get_webhook_endpoint(id).await?;
        let endpoint = row.and_then(|row| {
            let Some(current) = self.inner.secrets.open(&row.id, &row.sealed_secret) else {
                tracing::error!(endpoint = %row.id, "the endpoint's secret does not open with WEBHOOK_SECRETS_KEY");
                return None;
            };
            let now = nexpay_store::now();
            let previous = match (&row.previous_sealed_secret, row.previous_secret_expires_at) {
                (Some(sealed), Some(until)) if until > now => self.inner.secrets.open(&row.id, sealed),
                _ => None,
            };
            Some(Arc::new(Endpoint {
                row,
                current,
                previous,
            }))
        });
        self.inner
            .endpoints
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id.to_owned(), (Instant::now(), endpoint.clone()));
        Ok(endpoint)
    }

    /// One attempt of one claimed delivery, recorded with its outcome.
    async fn deliver(&self, delivery: WebhookDeliveryRow) {
        let endpoint = match self.endpoint(&delivery.endpoint_id).await {
            Ok(e) => e,
            Err(e) => {
                // The lease runs out and the delivery is claimed again.
                tracing::warn!(error = %e, delivery = %delivery.id, "reading the endpoint failed");
                return;
            }
        };
        let Some(endpoint) = endpoint.filter(|e| e.row.enabled) else {
            if let Err(e) = self
                .inner
                .store
                .abandon_webhook_delivery(&delivery.id, "endpoint disabled or deleted")
                .await
            {
                tracing::warn!(error = %e, delivery = %delivery.id, "abandoning a delivery failed");
            }
            return;
        };
        let sent = self.send(&endpoint, &delivery).await;
        let now = nexpay_store::now();
        let settings = &self.inner.settings;
        let number = u32::try_from(delivery.attempts).unwrap_or(0) + 1;
        let (outcome, shutdown_reason) =
            match classify(sent.status, sent.timed_out, sent.retry_after, settings) {
                Classified::Delivered => (AttemptOutcome::Delivered, None),
                Classified::Gone => (
                    AttemptOutcome::GaveUp,
                    Some("the receiver answered 410 Gone".to_owned()),
                ),
                Classified::Failed { floor } => {
                    let outcome = match next_attempt(
                        settings,
                        number,
                        delivery.created_at,
                        now,
                        floor,
                        jitter(),
                    ) {
                        Some(at) => AttemptOutcome::Retry(at),
                        None => AttemptOutcome::GaveUp,
                    };
                    let failing_too_long = endpoint.row.failing_since.is_some_and(|since| {
                        (now - since)
                            .to_std()
                            .is_ok_and(|d| d >= settings.disable_after)
                    });
                    let reason = failing_too_long.then(|| {
                        format!(
                            "no successful delivery since {} (more than {})",
                            since_text(endpoint.row.failing_since),
                            human(settings.disable_after)
                        )
                    });
                    (outcome, reason)
                }
            };
        let next_attempt_at = match outcome {
            AttemptOutcome::Retry(at) => Some(at),
            _ => None,
        };
        if let Some(metrics) = &self.inner.metrics {
            let label = match outcome {
                AttemptOutcome::Delivered => "delivered",
                AttemptOutcome::Retry(_) => "retry",
                AttemptOutcome::GaveUp => "gave_up",
            };
            metrics.webhook_attempt(label, sent.duration.as_secs_f64());
        }
        let attempt = WebhookAttemptRow {
            id: format!("wha_{}", nexpay_security::random_base62(24)),
            delivery_id: delivery.id.clone(),
            number: i32::try_from(number).unwrap_or(i32::MAX),
            attempted_at: sent.started_at,
            duration_ms: i32::try_from(sent.duration.as_millis()).unwrap_or(i32::MAX),
            status_code: sent.status.map(i32::from),
            response_snippet: sent.snippet,
            error: sent.error,
            next_attempt_at,
        };
        let shutdown = shutdown_reason.map(|reason| EndpointShutdown {
            notification: notification(&endpoint.row, &reason),
            reason,
        });
        let disabling = shutdown.is_some();
        let (done, written) = oneshot::channel();
        let record = AttemptRecord {
            attempt,
            claimed_until: delivery.locked_until,
            outcome,
            shutdown,
        };
        // If the recorder is gone, `done` is dropped with the message and the wait
        // below ends at once.
        let _ = self.inner.records.send(Pending {
            endpoint_id: endpoint.row.id.clone(),
            record,
            done,
        });
        let written = written
            .await
            .unwrap_or_else(|_| Err("the dispatcher is stopping".to_owned()));
        match written {
            Ok(true) => {
                if disabling {
                    self.forget(&endpoint.row.id);
                    tracing::warn!(endpoint = %endpoint.row.id, "webhook endpoint disabled");
                }
            }
            Ok(false) => tracing::info!(
                delivery = %delivery.id,
                "the delivery changed while it was being sent; this attempt is not recorded"
            ),
            Err(e) => {
                tracing::warn!(error = %e, delivery = %delivery.id, "recording a webhook attempt failed")
            }
        }
    }

    fn forget(&self, endpoint_id: &str) {
        self.inner
            .endpoints
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(endpoint_id);
    }

    /// The HTTP exchange, bounded by the timeout as a whole.
    async fn send(&self, endpoint: &Endpoint, delivery: &WebhookDeliveryRow) -> Sent {
        let started_at = nexpay_store::now();
        let t0 = Instant::now();
        let mut sent = Sent {
            started_at,
            duration: Duration::ZERO,
            status: None,
            timed_out: false,
            retry_after: None,
            snippet: None,
            error: None,
        };
        if let Err(refused) =
            policy::check_endpoint_url(&endpoint.row.url, self.inner.settings.allow_private_urls)
        {
            sent.error = Some(format!("not sent: the URL {refused}"));
            return sent;
        }
        // During a rotation the legacy header keeps the old secret (receivers that only
        // know one secret keep working until the grace period ends); the Standard
        // Webhooks header carries a signature per valid secret.
        let legacy = endpoint.previous.as_deref().unwrap_or(&endpoint.current);
        let mut secrets = vec![endpoint.current.as_str()];
        secrets.extend(endpoint.previous.as_deref());
        let headers = signed_headers(
            &endpoint.row.header_name,
            legacy,
            &secrets,
            &delivery.event_id,
            chrono::Utc::now().timestamp(),
            delivery.body.as_bytes(),
        );
        let mut request = self
            .inner
            .http
            .post(&endpoint.row.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(delivery.body.clone());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let exchange = async {
            let mut response = request.send().await?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let mut body = Vec::new();
            while body.len() < SNIPPET_BYTES {
                match response.chunk().await {
                    Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                    Ok(None) | Err(_) => break,
                }
            }
            Ok::<_, reqwest::Error>((status, retry_after, location, body))
        };
        match tokio::time::timeout(self.inner.settings.timeout, exchange).await {
            Ok(Err(e)) if !e.is_timeout() => sent.error = Some(describe(e)),
            // The client's deadline and this one are the same: whichever fires first.
            Err(_) | Ok(Err(_)) => {
                sent.timed_out = true;
                sent.error = Some(format!(
                    "no answer within {} ms",
                    self.inner.settings.timeout.as_millis()
                ));
            }
            Ok(Ok((status, retry_after, location, body))) => {
                sent.status = Some(status);
                sent.retry_after = retry_after;
                sent.snippet = (!body.is_empty()).then(|| snippet(&body));
                if !(200..300).contains(&status) {
                    sent.error = Some(match (status, location) {
                        (300..=399, Some(to)) => {
                            format!("HTTP {status}: redirect to {to} not followed")
                        }
                        (300..=399, None) => format!("HTTP {status}: redirects are not followed"),
                        _ => format!("HTTP {status}"),
                    });
                }
            }
        }
        sent.duration = t0.elapsed();
        sent
    }
}

/// What one HTTP exchange gave.
struct Sent {
    started_at: NaiveDateTime,
    duration: Duration,
    status: Option<u16>,
    timed_out: bool,
    retry_after: Option<Duration>,
    snippet: Option<String>,
    error: Option<String>,
}

/// A reqwest error, with its cause (connection refused, DNS...), without the URL's
/// query string.
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The first bytes as text, cut on a character boundary.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(SNIPPET_BYTES)]).into_owned();
    let mut end = text.len().min(SNIPPET_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

fn jitter() -> f64 {
    let mut b = [0u8; 4];
    if ring::rand::SystemRandom::new().fill(&mut b).is_err() {
        return 0.5;
    }
    f64::from(u32::from_le_bytes(b)) / (f64::from(u32::MAX) + 1.0)
}

/// `3 days`, `36 h`, `90 s`, `1500 ms`.
fn human(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0 => format!("{} ms", d.as_millis()),
        s if s >= 2 * 86_400 && s % 86_400 == 0 => format!("{} days", s / 86_400),
        s if s >= 3_600 && s % 3_600 == 0 => format!("{} h", s / 3_600),
        s if s >= 60 && s % 60 == 0 => format!("{} min", s / 60),
        s if d.subsec_millis() == 0 => format!("{s} s"),
        _ => format!("{} ms", d.as_millis()),
    }
}

fn since_text(t: Option<NaiveDateTime>) -> String {
    t.map(|t| {
        t.and_utc()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    })
    .unwrap_or_default()
}

fn notification(endpoint: &WebhookEndpointRow, reason: &str) -> AdminNotificationRow {
    AdminNotificationRow {
        id: format!("ntf_{}", nexpay_security::random_base62(24)),
        kind: "webhook_endpoint.disabled".to_owned(),
        subject_id: Some(endpoint.id.clone()),
        message: format!(
            "The {} webhook endpoint {} of project {} was disabled: {reason}. Fix the receiver, enable the endpoint again and resend its failed deliveries.",
            endpoint.mode, endpoint.url, endpoint.project_id
        ),
        detail: serde_json::json!({
            "endpointId": endpoint.id,
            "projectId": endpoint.project_id,
            "mode": endpoint.mode,
            "url": endpoint.url,
            "reason": reason,
        })
        .to_string(),
        created_at: nexpay_store::now(),
        read_at: None,
    }
}
