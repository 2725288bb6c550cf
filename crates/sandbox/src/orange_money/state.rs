//! In-memory state of the simulator.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

#[derive(Default)]
pub(crate) struct State {
    pub tokens: HashMap<String, Token>,
    pub qrs: HashMap<String, Qr>,
    pub transactions: Vec<Transaction>,
    pub callbacks: Vec<Callback>,
    pub faults: Faults,
    /// API calls already failed by `Faults::api_error_status` (for `api_error_count`).
    pub api_errors_served: u32,
    pub deliveries: Vec<DeliveryRecord>,
}

pub(crate) struct Token {
    pub expires_at: DateTime<Utc>,
}

pub(crate) struct Qr {
    pub qr_id: String,
    pub code: String,
    pub name: String,
    pub amount: i64,
    pub reference: Option<String>,
    pub metadata: Map<String, Value>,
    /// `X-Callback-Url` (or `notificationUrl`) given at creation.
    pub callback_url: Option<String>,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub paid: bool,
}

#[derive(Clone)]
pub(crate) struct Transaction {
    pub transaction_id: String,
    pub qr_id: String,
    pub amount: i64,
    pub reference: Option<String>,
    pub metadata: Map<String, Value>,
    pub partner_code: String,
    pub customer_msisdn: String,
    pub channel: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub idempotency_key: String,
}

impl Transaction {
    /// The transaction object exactly as Sonatel serialises it (field order of the
    /// production sample, `amount.value` as a float).
    pub fn to_json(&self) -> Value {
        json!({
            "amount": { "value": self.amount as f64, "unit": "XOF" },
            "requestDate": iso_millis(self.created_at),
            "reference": self.reference,
            "metadata": self.metadata,
            "receiveNotification": true,
            "partner": { "id": self.partner_code, "idType": "CODE", "walletType": "PRINCIPAL" },
            "customer": { "id": self.customer_msisdn, "idType": "MSISDN", "walletType": "PRINCIPAL" },
            "type": "MERCHANT_PAYMENT",
            "transactionId": self.transaction_id,
            "createdAt": iso_millis(self.created_at),
            "updatedAt": iso_millis(self.updated_at),
            "channel": self.channel,
            "status": self.status,
        })
    }
}

pub(crate) struct Callback {
    pub code: String,
    pub name: String,
    pub callback_url: String,
    pub api_key: String,
    pub created_at: DateTime<Utc>,
}

impl Callback {
    pub fn to_json(&self) -> Value {
        json!({
            "code": self.code,
            "msisdn": null,
            "name": self.name,
            "callbackUrl": self.callback_url,
            "apiKey": self.api_key,
            "createdAt": self.created_at.format("%d-%m-%Y %H:%M:%S").to_string(),
        })
    }
}

/// Fault switches, replaced as a whole by `POST /_sim/faults`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Faults {
    /// The payment happens but no notification is ever sent.
    pub lose_notification: bool,
    /// Every notification is delivered twice (same idempotency key).
    pub duplicate_notification: bool,
    /// Wait this long before the first delivery attempt.
    pub notification_delay_ms: u64,
    /// Sign notifications with a wrong secret.
    pub bad_signature: bool,
    /// Delay every API answer (`/oauth` and `/api`).
    pub api_delay_ms: u64,
    /// Answer API calls with this status instead (500 or 429).
    pub api_error_status: Option<u16>,
    /// Only fail this many API calls, then answer normally; every call when absent.
    pub api_error_count: Option<u32>,
}

/// What the customer does with a QR code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PayOutcome {
    Success,
    Failed,
    Cancelled,
}

impl PayOutcome {
    pub fn status(self) -> &'static str {
        match self {
            Self::Success => "SUCCESS",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
        }
    }
}

/// One notification delivery attempt, exposed on `GET /_sim/notifications`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeliveryRecord {
    pub transaction_id: String,
    pub idempotency_key: String,
    pub url: String,
    pub attempt: u32,
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// `2026-09-09T10:02:59.379Z`.
pub(crate) fn iso_millis(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}
