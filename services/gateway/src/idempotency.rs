//! `Idempotency-Key`, Stripe's semantics: the first request under a key runs and its
//! response (errors included) is stored; the same key with the same body replays it;
//! with another body it is a 409 `idempotency_error`. Transient failures (503/504)
//! release the key so the merchant's retry runs again.

use actix_web::{HttpRequest, HttpResponse};
use nexpay_store::{IdempotencyClaim, IdempotencyScope};
use sha2::{Digest, Sha256};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::GatewayState;

const MAX_KEY_LEN: usize = 255;
/// A `started` key older than this belongs to a request that died with its process.
const ABANDONED_AFTER_SECS: i64 = 60;

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
    Run,
    Replay(HttpResponse),
}

pub async fn begin(
    state: &GatewayState,
    caller: &Caller,
    key: &str,
    route: &str,
    body: &serde_json::Value,
) -> Result<Begin, ApiError> {
    let scope = IdempotencyScope {
        project_id: &caller.project_id,
        mode: &caller.mode,
        key,
    };
    let ttl = chrono::Duration::seconds(state.config.idempotency_ttl.as_secs() as i64);
    let claim = state
        .store
        .claim_idempotency_key(
            &scope,
            route,
            &request_hash(route, body),
            ttl,
            chrono::Duration::seconds(ABANDONED_AFTER_SECS),
        )
        .await
        .map_err(ApiError::internal)?;
    match claim {
        IdempotencyClaim::Claimed => Ok(Begin::Run),
        IdempotencyClaim::Completed(record) => {
            let status = actix_web::http::StatusCode::from_u16(record.status_code as u16)
                .unwrap_or(actix_web::http::StatusCode::OK);
            Ok(Begin::Replay(
                HttpResponse::build(status)
                    .insert_header(("idempotent-replayed", "true"))
                    .content_type("application/json")
                    .body(record.response_body),
            ))
        }
        IdempotencyClaim::InProgress => Err(ApiError::new(
            409,
            "idempotency_error",
            "A request with this Idempotency-Key is still being processed; retry in a moment.",
        )),
        IdempotencyClaim::Mismatch => Err(ApiError::new(
            409,
            "idempotency_error",
            "This Idempotency-Key was already used with a different request.",
        )),
    }
}

pub async fn finish(
    state: &GatewayState,
    caller: &Caller,
    key: &str,
    status: u16,
    body: &serde_json::Value,
) {
    let scope = IdempotencyScope {
        project_id: &caller.project_id,
        mode: &caller.mode,
        key,
    };
    let result = if status == 503 || status == 504 {
        state.store.release_idempotency_key(&scope).await
    } else {
        state
            .store
            .complete_idempotency_key(&scope, i32::from(status), &body.to_string())
            .await
    };
    if let Err(e) = result {
        // The response still goes out; a retry will find the key started and, after the
        // abandonment delay, run again — payments dedupes on the same key.
        tracing::error!(error = %e, "could not record idempotent response");
    }
}
