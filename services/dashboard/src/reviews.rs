//! What needs an admin's eyes: attempts flagged by the provider checks (an amount or
//! currency that does not match, a second success in one session) and the log of
//! inbound provider webhooks, verified or not.
//!
//! Both are read-only here. A flagged attempt never moved money on our side: the
//! payment kept its state and the admin settles it with the provider.

use chrono::{DateTime, Utc};
use nexpay_store::{ProviderWebhookRow, Store};
use serde::Serialize;
use serde_json::Value;

use crate::error::{AdminError, AdminResult};
use crate::utc;

/// At most this many rows per listing.
pub const MAX_LIMIT: i64 = 500;
pub const DEFAULT_LIMIT: i64 = 100;

/// The limit an admin asked for, within bounds.
pub fn limit(asked: Option<i64>) -> AdminResult<i64> {
    match asked {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(AdminError::invalid(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        )),
    }
}

/// A flagged attempt with the payment it belongs to.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlaggedAttempt {
    pub attempt_id: String,
    /// `amount_mismatch` or `second_success`.
    pub flag: String,
    pub provider: String,
    pub provider_reference: String,
    pub provider_id: Option<String>,
    pub provider_transaction_id: Option<String>,
    pub attempt_status: String,
    pub late: bool,
    pub payment_id: String,
    pub reference: String,
    pub mode: String,
    pub project_id: String,
    /// What NexPay asked for, in minor units.
    pub amount: i64,
    pub currency: String,
    pub payment_status: String,
    pub updated_at: DateTime<Utc>,
}

pub async fn flagged_attempts(store: &Store, limit: i64) -> AdminResult<Vec<FlaggedAttempt>> {
    let attempts = store.list_flagged_attempts(limit).await?;
    let mut out = Vec::with_capacity(attempts.len());
    for a in attempts {
        let Some(p) = store.get_payment(&a.payment_id).await? else {
            continue;
        };
        out.push(FlaggedAttempt {
            attempt_id: a.id,
            flag: a.flag.unwrap_or_default(),
            provider: a.provider_code,
            provider_reference: a.provider_reference,
            provider_id: a.provider_id,
            provider_transaction_id: a.provider_transaction_id,
            attempt_status: a.status,
            late: a.late,
            payment_id: p.id,
            reference: p.reference,
            mode: p.mode,
            project_id: p.project_id,
            amount: p.amount,
            currency: p.currency,
            payment_status: p.status,
            updated_at: utc(a.updated_at),
        });
    }
    Ok(out)
}

/// One inbound provider webhook as stored: credentials in its headers were redacted
/// before it was written.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderWebhookView {
    pub id: String,
    pub provider: String,
    pub mode: Option<String>,
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    pub provider_id: Option<String>,
    pub reference: Option<String>,
    pub verified: bool,
    pub verification_error: Option<String>,
    pub received_at: DateTime<Utc>,
    pub attempts: i32,
    pub processed_at: Option<DateTime<Utc>>,
    /// What processing concluded (`applied`, `duplicate`, `unknown_reference`…).
    pub outcome: Option<String>,
    pub headers: Value,
    pub body: String,
}

impl From<ProviderWebhookRow> for ProviderWebhookView {
    fn from(r: ProviderWebhookRow) -> Self {
        ProviderWebhookView {
            id: r.id,
            provider: r.provider_code,
            mode: r.mode,
            event_id: r.event_id,
            event_type: r.event_type,
            provider_id: r.provider_id,
            reference: r.reference,
            verified: r.verified,
            verification_error: r.verification_error,
            received_at: utc(r.received_at),
            attempts: r.attempts,
            processed_at: r.processed_at.map(utc),
            outcome: r.outcome,
            headers: serde_json::from_str(&r.headers).unwrap_or(Value::Null),
            body: r.body,
        }
    }
}

pub async fn provider_webhooks(
    store: &Store,
    code: &str,
    limit: i64,
) -> AdminResult<Vec<ProviderWebhookView>> {
    if store.get_provider(code).await?.is_none() {
        return Err(AdminError::NotFound("provider"));
    }
    let rows = store.list_provider_webhooks(code, limit).await?;
    Ok(rows.into_iter().map(ProviderWebhookView::from).collect())
}
