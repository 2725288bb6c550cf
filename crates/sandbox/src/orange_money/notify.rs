//! Payment notifications to the merchant (§4.6): `Authorization: Basic <apiKey>`,
//! optional `X-Sonatel-Signature`, `X-Sonatel-Idempotency-Key`, at-least-once delivery
//! with retries on 5xx/timeouts and none on 4xx.

use std::time::Duration;

use serde_json::Value;

use super::state::DeliveryRecord;
use super::OmSim;

/// `X-Sonatel-Signature` value: `t=<unix>,v1=<hex(HMAC_SHA256(secret, t + "," + body))>`.
pub fn sign_notification(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", signature_v1(secret, timestamp, body))
}

fn signature_v1(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut msg = format!("{timestamp},").into_bytes();
    msg.extend_from_slice(body);
    nexpay_security::hmac_sha256_hex(secret, &msg)
}

/// Splits `t=<unix>,v1=<hex>[,v1=<hex>…]` (each part on its first `=`).
pub fn parse_signature_header(header: &str) -> Option<(i64, Vec<String>)> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k {
            "t" => timestamp = Some(v.parse().ok()?),
            "v1" => signatures.push(v.to_owned()),
            _ => {}
        }
    }
    Some((timestamp?, signatures))
}

/// Verifies a notification the way a merchant must: on the raw body, any `v1` matching,
/// `t` within `tolerance_secs` of `now_unix`.
pub fn verify_signature_header(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now_unix: i64,
    tolerance_secs: i64,
) -> bool {
    let Some((t, sigs)) = parse_signature_header(header) else {
        return false;
    };
    if (now_unix - t).abs() > tolerance_secs {
        return false;
    }
    let mut msg = format!("{t},").into_bytes();
    msg.extend_from_slice(body);
    sigs.iter()
        .any(|s| nexpay_security::verify_hmac_sha256_hex(secret, &msg, s))
}

enum Attempt {
    Delivered,
    Rejected,
    Retry,
}

/// Sends the notification of `transaction_id` in the background.
pub(crate) fn spawn_dispatch(sim: OmSim, transaction_id: String) {
    tokio::spawn(async move { dispatch(&sim, &transaction_id).await });
}

async fn dispatch(sim: &OmSim, transaction_id: &str) {
    let faults = sim.faults();
    let Some((body, partner, qr_callback, idempotency_key)) = ({
        let st = sim.state();
        st.transactions
            .iter()
            .find(|t| t.transaction_id == transaction_id)
            .map(|t| {
                let callback = st.qrs.get(&t.qr_id).and_then(|q| q.callback_url.clone());
                (
                    t.to_json(),
                    t.partner_code.clone(),
                    callback,
                    t.idempotency_key.clone(),
                )
            })
    }) else {
        return;
    };
    let registered = {
        let st = sim.state();
        st.callbacks
            .iter()
            .find(|c| c.code == partner)
            .map(|c| (c.callback_url.clone(), c.api_key.clone()))
    };
    let api_key = registered.as_ref().map(|(_, k)| k.clone());
    let url = qr_callback.or(registered.map(|(u, _)| u));
    let record = |url: &str, attempt: u32, status: Option<u16>, error: Option<String>| {
        sim.state().deliveries.push(DeliveryRecord {
            transaction_id: transaction_id.to_owned(),
            idempotency_key: idempotency_key.clone(),
            url: url.to_owned(),
            attempt,
            status,
            error,
        });
    };
    let Some(url) = url else {
        record("", 0, None, Some("no callback URL".into()));
        return;
    };
    if faults.lose_notification {
        record(&url, 0, None, Some("lost by fault injection".into()));
        return;
    }
    if faults.notification_delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.notification_delay_ms)).await;
    }
    let body = serde_json::to_vec(&body).unwrap_or_default();
    let copies = if faults.duplicate_notification { 2 } else { 1 };
    let mut delivered = false;
    for _ in 0..copies {
        delivered |= deliver(
            sim,
            &url,
            api_key.as_deref(),
            &idempotency_key,
            &body,
            faults.bad_signature,
            &record,
        )
        .await;
    }
    if delivered {
        let mut st = sim.state();
        if let Some(t) = st
            .transactions
            .iter_mut()
            .find(|t| t.transaction_id == transaction_id)
        {
            t.metadata
                .insert("notification.dispatched".into(), Value::from("true"));
        }
    }
}

/// One delivery with retries; `true` once the merchant answered 2xx.
async fn deliver(
    sim: &OmSim,
    url: &str,
    api_key: Option<&str>,
    idempotency_key: &str,
    body: &[u8],
    bad_signature: bool,
    record: &impl Fn(&str, u32, Option<u16>, Option<String>),
) -> bool {
    let cfg = sim.config();
    let mut backoff = cfg.notification_retry_backoff;
    for attempt in 1..=cfg.notification_max_attempts.max(1) {
        if attempt > 1 {
            tokio::time::sleep(backoff).await;
            backoff = backoff.saturating_mul(2);
        }
        let mut req = sim
            .inner
            .http
            .post(url)
            .timeout(cfg.notification_timeout)
            .header("Content-Type", "application/json")
            .header("X-Sonatel-Idempotency-Key", idempotency_key)
            .body(body.to_vec());
        if let Some(key) = api_key {
            // The raw registered apiKey, not base64(user:pass) (observed in production).
            req = req.header("Authorization", format!("Basic {key}"));
        }
        if let Some(secret) = &cfg.endpoint_secret {
            let secret = if bad_signature {
                format!("{secret}-wrong")
            } else {
                secret.clone()
            };
            req = req.header(
                "X-Sonatel-Signature",
                sign_notification(secret.as_bytes(), sim.now().timestamp(), body),
            );
        }
        let outcome = match req.send().await {
            Ok(resp) => {
                let status = resp.status();
                record(url, attempt, Some(status.as_u16()), None);
                if status.is_success() {
                    Attempt::Delivered
                } else if status.is_client_error() {
                    Attempt::Rejected
                } else {
                    Attempt::Retry
                }
            }
            Err(e) => {
                record(url, attempt, None, Some(e.to_string()));
                Attempt::Retry
            }
        };
        match outcome {
            Attempt::Delivered => return true,
            Attempt::Rejected => return false,
            Attempt::Retry => {}
        }
    }
    false
}
