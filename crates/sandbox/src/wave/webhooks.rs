//! Webhook endpoints registered in the simulator and delivery of events: body in
//! Python `json.dumps` style, `Wave-Signature` or `Authorization: Bearer`, retries
//! with exponential backoff, and injectable faults.

use std::time::Duration as StdDuration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::pyjson::to_python_json;
use super::signature::signature_header;
use super::sim::WaveSim;

/// `checkout.session.completed`.
pub const EVENT_COMPLETED: &str = "checkout.session.completed";
/// `checkout.session.payment_failed`.
pub const EVENT_PAYMENT_FAILED: &str = "checkout.session.payment_failed";

/// Security strategy of a webhook endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookStrategy {
    /// `Authorization: Bearer <secret>`.
    Shared,
    /// `Wave-Signature: t=<unix>,v1=<hmac>`.
    Signing,
}

/// A registered webhook endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    /// Simulator id (`we-…`).
    pub id: String,
    /// Target URL.
    pub url: String,
    /// Security strategy.
    pub strategy: WebhookStrategy,
    /// `wave_sn_WHS_…` secret.
    pub secret: String,
    /// Subscribed event types.
    pub events: Vec<String>,
}

/// One delivery attempt, kept for inspection through `/_sim/webhooks/deliveries`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// Event id (`AE_…`).
    pub event_id: String,
    /// Event type.
    pub event_type: String,
    /// Endpoint id.
    pub endpoint_id: String,
    /// 1-based attempt number.
    pub attempt: u32,
    /// HTTP status answered by the receiver, if any.
    pub status: Option<u16>,
    /// Transport error or timeout, if any.
    pub error: Option<String>,
    /// Whether this attempt succeeded (2xx).
    pub delivered: bool,
}

/// Faults applied to the deliveries of one event.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DeliveryFaults {
    pub duplicate: bool,
    pub bad_signature: bool,
    pub stale_timestamp: bool,
    pub delay_ms: u64,
}

/// The event envelope `{"id", "type", "data"}`.
pub(crate) fn envelope(event_id: &str, event_type: &str, data: Value) -> Value {
    json!({"id": event_id, "type": event_type, "data": data})
}

/// Offset applied to `t` by the stale-timestamp fault (well beyond 300 s).
const STALE_OFFSET_SECS: i64 = 3600;

/// Delivers one event to one endpoint, retrying on non-2xx and timeouts.
pub(crate) async fn deliver(
    sim: WaveSim,
    endpoint: WebhookEndpoint,
    event_id: String,
    event_type: String,
    body: String,
    faults: DeliveryFaults,
) {
    if faults.delay_ms > 0 {
        tokio::time::sleep(StdDuration::from_millis(faults.delay_ms)).await;
    }
    let policy = sim.retry_policy();
    let mut backoff = policy.initial_backoff;
    for attempt in 1..=policy.max_attempts.max(1) {
        let mut t = sim.now().timestamp();
        if faults.stale_timestamp {
            t -= STALE_OFFSET_SECS;
        }
        let secret = if faults.bad_signature {
            format!("{}-wrong", endpoint.secret)
        } else {
            endpoint.secret.clone()
        };
        let mut request = sim
            .http()
            .post(&endpoint.url)
            .timeout(policy.timeout)
            .header("Content-Type", "application/json")
            .header("User-Agent", "Wave-Webhooks/1.0 (nexpay-sandbox)");
        request = match endpoint.strategy {
            WebhookStrategy::Signing => request.header(
                "Wave-Signature",
                signature_header(&secret, t, body.as_bytes()),
            ),
            WebhookStrategy::Shared => request.header("Authorization", format!("Bearer {secret}")),
        };
        let outcome = request.body(body.clone()).send().await;
        let (status, error) = match outcome {
            Ok(resp) => (Some(resp.status().as_u16()), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let delivered = status.is_some_and(|s| (200..300).contains(&s));
        sim.record_delivery(DeliveryRecord {
            event_id: event_id.clone(),
            event_type: event_type.clone(),
            endpoint_id: endpoint.id.clone(),
            attempt,
            status,
            error,
            delivered,
        });
        if delivered {
            return;
        }
        if attempt < policy.max_attempts {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(policy.max_backoff);
        }
    }
    tracing::warn!(event_id, endpoint = %endpoint.url, "wave sandbox: webhook given up");
}

/// Retry policy snapshot.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    pub max_attempts: u32,
    pub initial_backoff: StdDuration,
    pub max_backoff: StdDuration,
    pub timeout: StdDuration,
}

/// Serializes the event and spawns one delivery task per subscribed endpoint
/// (two when the duplicate fault is on).
pub(crate) fn spawn_deliveries(
    sim: &WaveSim,
    endpoints: Vec<WebhookEndpoint>,
    event_type: &str,
    data: Value,
    faults: DeliveryFaults,
) -> String {
    let event_id = super::ids::event_id();
    let body = to_python_json(&envelope(&event_id, event_type, data));
    if endpoints.is_empty() {
        return event_id;
    }
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        tracing::warn!("wave sandbox: no async runtime, webhook {event_id} not sent");
        return event_id;
    };
    let copies = if faults.duplicate { 2 } else { 1 };
    for endpoint in endpoints {
        for _ in 0..copies {
            handle.spawn(deliver(
                sim.clone(),
                endpoint.clone(),
                event_id.clone(),
                event_type.to_owned(),
                body.clone(),
                faults,
            ));
        }
    }
    event_id
}
