//! `GET /api/v1/payment/session/{id}`: what merchant front ends poll every few seconds.
//!
//! The view is one database statement ([`nexpay_store::Store::get_session_status`]),
//! serialized straight into the response bytes (stored metadata and items go in as the
//! JSON text they are, without a re-parse).
//!
//! With a cache, the rendered body is kept for [`TTL`] with the project and mode it
//! belongs to; another project's (or mode's) key still gets 404. Freshness does not rest
//! on the TTL: payments, after it commits any change to a session (a provider chosen,
//! a checkout refused, expiry by the sweeper), overwrites the entry with the marker
//! [`names::SESSION_CHANGED`] for [`names::SESSION_CHANGED_TTL`]. The next poll reads
//! the database; while the marker is there nothing is cached over it, and a view is
//! only cached when its database read took less than [`FILL_WITHIN`], so a read that
//! started before a change can never be stored after the marker (its end is at most
//! `FILL_WITHIN` plus a cache call's deadline after the change, well inside the
//! marker's life). Views are stored with set-if-absent, so they never replace a marker.
//! The TTL only bounds staleness when the cache itself failed at the moment payments
//! wrote the marker (a Redis outage).

use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use chrono::{NaiveDateTime, SecondsFormat, TimeZone, Utc};
use nexpay_cache::names;
use nexpay_store::SessionStatusRow;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::GatewayState;

/// How long a rendered status is cached.
pub(crate) const TTL: Duration = Duration::from_secs(5);
/// A view whose database read took longer than this is served but not cached.
pub(crate) const FILL_WITHIN: Duration = Duration::from_millis(500);

const MESSAGE: &str = "Payment session retrieved successfully";

#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(rename = "statusCode")]
    status_code: u16,
    message: &'a str,
    data: View<'a>,
}

/// Field names and order of the existing API.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct View<'a> {
    session_id: &'a str,
    status: &'a str,
    amount: Amount,
    currency: &'a str,
    provider: Option<Provider<'a>>,
    customer: Customer<'a>,
    reference: &'a str,
    payment_status: &'a str,
    #[serde(rename = "client_reference")]
    client_reference: Option<&'a str>,
    metadata: Option<&'a RawValue>,
    items: Option<&'a RawValue>,
    checkout_url: String,
    expires_at: String,
    created_at: String,
    resolved_at: Option<String>,
    mode: &'a str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Amount {
    /// Currencies without minor units (XOF): the exact integer.
    Whole(i64),
    /// Others: minor units as a string, never a float.
    Text(String),
}

#[derive(Serialize)]
struct Provider<'a> {
    name: &'a str,
    code: &'a str,
}

#[derive(Serialize)]
struct Customer<'a> {
    name: Option<&'a str>,
    email: Option<&'a str>,
    phone: &'a str,
}

fn rfc3339(t: NaiveDateTime) -> String {
    Utc.from_utc_datetime(&t)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Stored JSON as it is; text that is not JSON shows as `null`.
fn raw(text: &str) -> Option<&RawValue> {
    serde_json::from_str::<&RawValue>(text).ok()
}

async fn render(state: &GatewayState, s: &SessionStatusRow) -> Result<Vec<u8>, ApiError> {
    let provider_name = match &s.provider_code {
        Some(code) => Some(state.provider_name(code).await?),
        None => None,
    };
    let amount = match nexpay_domain::Currency::parse(&s.currency) {
        Ok(c) if c.exponent() == 0 => Amount::Whole(s.amount),
        _ => Amount::Text(s.amount.to_string()),
    };
    let envelope = Envelope {
        status_code: 200,
        message: MESSAGE,
        data: View {
            session_id: &s.id,
            status: &s.status,
            amount,
            currency: &s.currency,
            provider: s
                .provider_code
                .as_deref()
                .zip(provider_name.as_deref())
                .map(|(code, name)| Provider { name, code }),
            customer: Customer {
                name: s.customer_name.as_deref(),
                email: s.customer_email.as_deref(),
                phone: &s.customer_phone,
            },
            reference: &s.reference,
            payment_status: &s.payment_status,
            client_reference: s.client_reference.as_deref(),
            metadata: raw(&s.metadata),
            items: s.items.as_deref().and_then(raw),
            checkout_url: format!("{}/checkout/{}", state.config.public_url, s.id),
            expires_at: rfc3339(s.expires_at),
            created_at: rfc3339(s.created_at),
            resolved_at: s.resolved_at.map(rfc3339),
            mode: &s.mode,
        },
    };
    serde_json::to_vec(&envelope).map_err(ApiError::internal)
}

/// Cached form: `project_id \n mode \n body`.
fn encode(s: &SessionStatusRow, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.project_id.len() + s.mode.len() + 2 + body.len());
    out.extend_from_slice(s.project_id.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(s.mode.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(body);
    out
}

/// The body of a cached entry if `caller` may see it; `Err(())` when the entry is not
/// in the expected form (treated as a miss).
fn decode(entry: Vec<u8>, caller: &Caller) -> Result<Option<Bytes>, ()> {
    let mut parts = entry.splitn(3, |b| *b == b'\n');
    let (Some(project), Some(mode), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(());
    };
    if body.is_empty() {
        return Err(());
    }
    let mine = project == caller.project_id.as_bytes() && mode == caller.mode.as_bytes();
    let offset = project.len() + mode.len() + 2;
    Ok(mine.then(|| Bytes::from(entry).slice(offset..)))
}

/// The response body for session `id` as `caller` may see it: `None` when it does not
/// exist, or belongs to another project or mode (indistinguishable, no leak).
pub(crate) async fn status_body(
    state: &GatewayState,
    caller: &Caller,
    id: &str,
) -> Result<Option<Bytes>, ApiError> {
    let name = names::session_status(id);
    let mut fill = state.cache.is_some();
    if let Some(cache) = &state.cache {
        match cache.get(&name).await {
            Some(entry) if entry == names::SESSION_CHANGED => fill = false,
            Some(entry) => {
                if let Ok(body) = decode(entry, caller) {
                    return Ok(body);
                }
            }
            None => {}
        }
    }
    let started = Instant::now();
    let Some(row) = state
        .store
        .get_session_status(id)
        .await
        .map_err(ApiError::internal)?
    else {
        return Ok(None);
    };
    let body = render(state, &row).await?;
    if let Some(cache) = state.cache.as_ref().filter(|_| fill) {
        if started.elapsed() < FILL_WITHIN {
            cache.set_if_absent(&name, &encode(&row, &body), TTL).await;
        }
    }
    let mine = row.project_id == caller.project_id && row.mode == caller.mode;
    Ok(mine.then(|| Bytes::from(body)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn caller(project: &str, mode: &str) -> Caller {
        Caller {
            key_id: "key_1".into(),
            project_id: project.into(),
            kind: "read".into(),
            mode: mode.into(),
        }
    }

    #[test]
    fn cached_entries_keep_their_owner() {
        let entry = b"prj_1\ntest\n{\"statusCode\":200}".to_vec();
        let body = decode(entry.clone(), &caller("prj_1", "test")).unwrap();
        assert_eq!(body.unwrap(), Bytes::from_static(b"{\"statusCode\":200}"));
        assert_eq!(decode(entry.clone(), &caller("prj_2", "test")), Ok(None));
        assert_eq!(decode(entry, &caller("prj_1", "live")), Ok(None));
        assert!(decode(b"prj_1\ntest".to_vec(), &caller("prj_1", "test")).is_err());
        assert!(decode(b"prj_1\ntest\n".to_vec(), &caller("prj_1", "test")).is_err());
        assert!(decode(names::SESSION_CHANGED.to_vec(), &caller("prj_1", "test")).is_err());
    }

    #[test]
    fn stored_json_is_passed_through_or_null() {
        assert_eq!(raw("{\"a\":[1,2]}").unwrap().get(), "{\"a\":[1,2]}");
        assert!(raw("not json").is_none());
        assert!(raw("").is_none());
    }
}
