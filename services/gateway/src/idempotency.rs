//! `Idempotency-Key`, Stripe's semantics: the first request under a key runs and its
//! response (errors included) is stored; the same key with the same body replays it;
//! with another body it is a 409 `idempotency_error`. Transient failures (503/504)
//! release the key so the merchant's retry runs again.
//!
//! The database holds every key and decides. With a cache, a completed response is
//! also kept there (for [`CACHE_TTL`] at most, and never past the database record's own
//! expiry), so a retry is answered without a write transaction. A completed record never
//! changes until it expires, which makes the copy safe; a miss takes the database path.

use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse};
use nexpay_cache::names;
use nexpay_store::{IdempotencyClaim, IdempotencyScope};
use sha2::{Digest, Sha256};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::GatewayState;

const MAX_KEY_LEN: usize = 255;
/// A `started` key older than this belongs to a request that died with its process.
const ABANDONED_AFTER_SECS: i64 = 60;
/// Merchants retry within seconds; the database answers later retries. Short, so a busy
/// instance does not fill the (bounded) cache with answers nobody asks for again.
const CACHE_TTL: Duration = Duration::from_secs(120);
/// Larger responses are replayed from the database only.
const CACHE_MAX_BODY: usize = 16 * 1024;

pub fn key_from(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(v) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let v = v.to_str().unwrap_or_default().trim();
    if v.is_empty() || v.len() > MAX_KEY_LEN || !v.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        return Err(ApiError::validation(vec![(
            "Idempotency-Key".into(),
            format!("must be 1 to {MAX_KEY_LEN} printable ASCII characters"),
        )]));
    }
    Ok(Some(v.to_owned()))
}

/// Same route and same JSON (whatever the key order or spacing) = same request.
pub fn request_hash(route: &str, body: &serde_json::Value) -> String {
    let mut h = Sha256::new();
    h.update(route.as_bytes());
    h.update(b"\n");
    h.update(canonical(body).to_string().as_bytes());
    hex::encode(h.finalize())
}

/// Objects with their keys sorted, recursively (maps keep insertion order otherwise).
fn canonical(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            serde_json::Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), canonical(&map[k])))
                    .collect(),
            )
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(canonical).collect())
        }
        other => other.clone(),
    }
}

pub enum Begin {
    /// This request owns the key: run it, then [`finish`] with the claim.
    Run(Claim),
    Replay(HttpResponse),
}

/// A key this request claimed: what [`finish`] needs.
pub struct Claim {
    route_hash: String,
    claimed_at: Instant,
}

fn replay(status_code: u16, body: impl actix_web::body::MessageBody + 'static) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status_code)
        .unwrap_or(actix_web::http::StatusCode::OK);
    HttpResponse::build(status)
        .insert_header(("idempotent-replayed", "true"))
        .content_type("application/json")
        .body(body)
}

fn mismatch() -> ApiError {
    ApiError::new(
        409,
        "idempotency_error",
        "This Idempotency-Key was already used with a different request.",
    )
}

/// Cached form: `status \n route \n request hash \n body`.
fn encode(status: u16, route: &str, hash: &str, body: &str) -> Vec<u8> {
    format!("{status}\n{route}\n{hash}\n{body}").into_bytes()
}

/// `(status, route, request hash, body offset)` of a cached response.
fn decode(entry: &[u8]) -> Option<(u16, &str, &str, usize)> {
    let mut parts = entry.splitn(4, |b| *b == b'\n');
    let status = std::str::from_utf8(parts.next()?).ok()?;
    let route = std::str::from_utf8(parts.next()?).ok()?;
    let hash = std::str::from_utf8(parts.next()?).ok()?;
    parts.next()?;
    let offset = status.len() + route.len() + hash.len() + 3;
    Some((status.parse().ok()?, route, hash, offset))
}

pub async fn begin(
    state: &GatewayState,
    caller: &Caller,
    key: &str,
    route: &str,
    body: &serde_json::Value,
) -> Result<Begin, ApiError> {
    let hash = request_hash(route, body);
    if let Some(cache) = &state.cache {
        let name = names::idempotency(&caller.project_id, &caller.mode, key);
        if let Some(entry) = cache.get(&name).await {
            if let Some((status, old_route, old_hash, offset)) = decode(&entry) {
                if old_route != route || old_hash != hash {
                    return Err(mismatch());
                }
                let body = actix_web::web::Bytes::from(entry).slice(offset..);
                return Ok(Begin::Replay(replay(status, body)));
            }
        }
    }
    let scope = IdempotencyScope {
        project_id: &caller.project_id,
        mode: &caller.mode,
        key,
    };
    let ttl = chrono::Duration::seconds(state.config.idempotency_ttl.as_secs() as i64);
    let claimed_at = Instant::now();
    let claim = state
        .store
        .claim_idempotency_key(
            &scope,
            route,
            &hash,
            ttl,
            chrono::Duration::seconds(ABANDONED_AFTER_SECS),
        )
        .await
        .map_err(ApiError::internal)?;
    match claim {
        IdempotencyClaim::Claimed => Ok(Begin::Run(Claim {
            route_hash: hash,
            claimed_at,
        })),
        IdempotencyClaim::Completed(record) => Ok(Begin::Replay(replay(
            record.status_code as u16,
            record.response_body,
        ))),
        IdempotencyClaim::InProgress => Err(ApiError::new(
            409,
            "idempotency_error",
            "A request with this Idempotency-Key is still being processed; retry in a moment.",
        )),
        IdempotencyClaim::Mismatch => Err(mismatch()),
    }
}

/// Answers that say "try again" are not kept under the key: replaying them would refuse
/// forever a retry that would now succeed. Unavailable and timed out (503, 504), rate
/// limited (429), and a `409 conflict` with a concurrent change (a session that changed
/// while choosing a provider, a concurrent creation under the same key).
fn is_retryable(status: u16, body: &serde_json::Value) -> bool {
    match status {
        429 | 503 | 504 => true,
        409 => body.pointer("/error/code").and_then(|c| c.as_str()) == Some("conflict"),
        _ => false,
    }
}

#[allow(clippy::too_many_arguments)]
pub async fn finish(
    state: &GatewayState,
    caller: &Caller,
    key: &str,
    route: &str,
    claim: Claim,
    status: u16,
    body: &serde_json::Value,
) {
    let scope = IdempotencyScope {
        project_id: &caller.project_id,
        mode: &caller.mode,
        key,
    };
    if is_retryable(status, body) {
        if let Err(e) = state.store.release_idempotency_key(&scope).await {
            tracing::error!(error = %e, "could not release an idempotency key");
        }
        return;
    }
    let text = body.to_string();
    match state
        .store
        .complete_idempotency_key(&scope, i32::from(status), &text)
        .await
    {
        Ok(true) => {}
        // Taken over meanwhile: the database holds another request's answer.
        Ok(false) => return,
        Err(e) => {
            // The response still goes out; a retry will find the key started and, after
            // the abandonment delay, run again — payments dedupes on the same key.
            tracing::error!(error = %e, "could not record idempotent response");
            return;
        }
    }
    let Some(cache) = &state.cache else {
        return;
    };
    // The database record expires `idempotency_ttl` after the claim: the copy must be
    // gone before, or it could refuse a body the database would accept again.
    let left = state
        .config
        .idempotency_ttl
        .saturating_sub(claim.claimed_at.elapsed());
    let ttl = left.min(CACHE_TTL);
    if text.len() <= CACHE_MAX_BODY && !ttl.is_zero() {
        let name = names::idempotency(&caller.project_id, &caller.mode, key);
        let entry = encode(status, route, &claim.route_hash, &text);
        cache.set(&name, &entry, ttl).await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_final_answers_are_kept() {
        let conflict = serde_json::json!({"statusCode": 409, "error": {"code": "conflict"}});
        let mismatch =
            serde_json::json!({"statusCode": 409, "error": {"code": "idempotency_error"}});
        let invalid = serde_json::json!({"statusCode": 400, "error": {"code": "validation_error"}});
        assert!(is_retryable(409, &conflict));
        assert!(is_retryable(429, &invalid));
        assert!(is_retryable(503, &invalid));
        assert!(is_retryable(504, &invalid));
        assert!(!is_retryable(409, &mismatch));
        assert!(!is_retryable(400, &invalid));
        assert!(!is_retryable(201, &conflict));
        assert!(!is_retryable(500, &invalid));
    }

    #[test]
    fn cached_responses_round_trip() {
        let entry = encode(200, "session.initiate", "abc", "{\"a\":\"x\\ny\"}");
        let (status, route, hash, offset) = decode(&entry).unwrap();
        assert_eq!((status, route, hash), (200, "session.initiate", "abc"));
        assert_eq!(&entry[offset..], b"{\"a\":\"x\\ny\"}");
        let empty = encode(409, "r", "h", "");
        let (_, _, _, offset) = decode(&empty).unwrap();
        assert_eq!(offset, empty.len());
        assert!(decode(b"200\nroute\nhash").is_none());
        assert!(decode(b"x\nroute\nhash\n{}").is_none());
    }
}
