//! Row types. Statuses and ids are stored as text and parsed into domain types by the
//! services; the store stays a thin, dumb layer.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::schema::*;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize, Deserialize)]
#[diesel(table_name = projects)]
pub struct ProjectRow {
    pub id: String,
    pub name: String,
    pub success_url: Option<String>,
    pub failure_url: Option<String>,
    pub cancel_url: Option<String>,
    pub settings: String,
    pub is_default: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub archived_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyRow {
    pub id: String,
    pub project_id: String,
    pub kind: String,
    pub mode: String,
    pub prefix: String,
    pub key_hash: String,
    pub label: Option<String>,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub expires_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub must_change_password: bool,
    pub session_version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub disabled_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = providers)]
pub struct ProviderRow {
    pub code: String,
    pub name: String,
    pub enabled: bool,
    pub logo_url: String,
    pub sealed_config: Option<String>,
    pub updated_at: NaiveDateTime,
    /// Non-secret view of the configuration (JSON).
    pub config_summary: String,
    pub secrets_ok: bool,
    pub webhook_ok: bool,
    pub test_passed_at: Option<NaiveDateTime>,
}

impl ProviderRow {
    /// The currencies each provider takes: Wave and Orange Money settle in XOF here.
    pub fn accepts(&self, currency: &str) -> bool {
        matches!(
            (self.code.as_str(), currency),
            ("wave", "XOF") | ("om", "XOF")
        )
    }

    /// Whether a payment in `mode` can use it: enabled, and in live mode with checked
    /// credentials and webhook configuration.
    pub fn usable_in(&self, mode: &str) -> bool {
        self.enabled && (mode != "live" || self.live_ready())
    }

    /// Whether its live credentials and webhook configuration have been checked.
    pub fn live_ready(&self) -> bool {
        self.secrets_ok && self.webhook_ok
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = payments)]
pub struct PaymentRow {
    pub id: String,
    pub reference: String,
    pub project_id: String,
    pub mode: String,
    pub session_id: Option<String>,
    pub amount: i64,
    pub currency: String,
    pub payer_name: Option<String>,
    pub payer_email: Option<String>,
    pub payer_phone: String,
    pub metadata: String,
    pub client_reference: Option<String>,
    pub status: String,
    pub provider_code: Option<String>,
    pub late: bool,
    pub request_key: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub resolved_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = checkout_sessions)]
pub struct SessionRow {
    pub id: String,
    pub project_id: String,
    pub mode: String,
    pub payment_id: String,
    pub amount: i64,
    pub currency: String,
    pub customer_name: Option<String>,
    pub customer_email: Option<String>,
    pub customer_phone: String,
    pub metadata: String,
    pub items: Option<String>,
    pub client_reference: Option<String>,
    pub success_url: Option<String>,
    pub failure_url: Option<String>,
    pub cancel_url: Option<String>,
    pub status: String,
    pub request_key: Option<String>,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = payment_attempts)]
pub struct AttemptRow {
    pub id: String,
    pub payment_id: String,
    pub provider_code: String,
    pub provider_reference: String,
    pub provider_id: Option<String>,
    pub provider_transaction_id: Option<String>,
    pub status: String,
    pub checkout_urls: String,
    pub qr_png_base64: Option<String>,
    pub expires_at: Option<NaiveDateTime>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub late: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub resolved_at: Option<NaiveDateTime>,
    /// When reconciliation next asks the provider (None: not scheduled).
    pub next_check_at: Option<NaiveDateTime>,
    pub checks: i32,
    /// Needs an admin: `amount_mismatch`, `second_success`.
    pub flag: Option<String>,
}

/// An inbound provider webhook as received.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = provider_webhooks)]
pub struct ProviderWebhookRow {
    pub id: String,
    pub provider_code: String,
    pub mode: Option<String>,
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    pub provider_id: Option<String>,
    pub reference: Option<String>,
    /// JSON of the claimed state, amount and currency.
    pub claim: Option<String>,
    pub verified: bool,
    pub verification_error: Option<String>,
    /// JSON object of the headers, credentials redacted.
    pub headers: String,
    pub body: String,
    pub received_at: NaiveDateTime,
    pub attempts: i32,
    pub locked_until: Option<NaiveDateTime>,
    pub processed_at: Option<NaiveDateTime>,
    pub outcome: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = payment_events)]
pub struct PaymentEventRow {
    pub id: String,
    pub payment_id: String,
    pub attempt_id: Option<String>,
    pub kind: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub detail: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = outbox)]
pub struct OutboxRow {
    pub id: String,
    pub kind: String,
    pub aggregate_id: String,
    pub correlation_id: String,
    pub payload: String,
    pub created_at: NaiveDateTime,
    pub published_at: Option<NaiveDateTime>,
    pub attempts: i32,
    pub locked_until: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: String,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub detail: String,
    pub created_at: NaiveDateTime,
}

/// What the session status route shows: the session with its payment's status, in one
/// query. The provider is the payment's `provider_code`, which the transaction that
/// inserts an attempt sets to that attempt's provider, so it is always the provider of
/// the latest attempt.
#[derive(Debug, Clone, PartialEq, Queryable)]
pub struct SessionStatusRow {
    pub id: String,
    pub project_id: String,
    pub mode: String,
    pub amount: i64,
    pub currency: String,
    pub customer_name: Option<String>,
    pub customer_email: Option<String>,
    pub customer_phone: String,
    pub metadata: String,
    pub items: Option<String>,
    pub client_reference: Option<String>,
    pub status: String,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub reference: String,
    pub payment_status: String,
    pub provider_code: Option<String>,
    pub resolved_at: Option<NaiveDateTime>,
}

/// An API key joined with its (non-archived) project, as the gateway needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyLookup {
    pub key: ApiKeyRow,
    pub project: ProjectRow,
}

/// A merchant's webhook receiver.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_endpoints)]
pub struct WebhookEndpointRow {
    pub id: String,
    pub project_id: String,
    pub mode: String,
    pub url: String,
    pub header_name: String,
    pub sealed_secret: String,
    pub secret_last4: String,
    pub previous_sealed_secret: Option<String>,
    pub previous_secret_expires_at: Option<NaiveDateTime>,
    /// JSON array; empty: every event type.
    pub event_types: String,
    pub enabled: bool,
    pub description: Option<String>,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub deleted_at: Option<NaiveDateTime>,
}

impl WebhookEndpointRow {
    /// An enabled endpoint receiving every event type with the legacy header
    /// `x-webhook-secret`, no description, never failed.
    pub fn new(
        id: String,
        project_id: &str,
        mode: &str,
        url: &str,
        sealed_secret: String,
        secret_last4: String,
        at: NaiveDateTime,
    ) -> Self {
        WebhookEndpointRow {
            id,
            project_id: project_id.to_owned(),
            mode: mode.to_owned(),
            url: url.to_owned(),
            header_name: "x-webhook-secret".to_owned(),
            sealed_secret,
            secret_last4,
            previous_sealed_secret: None,
            previous_secret_expires_at: None,
            event_types: "[]".to_owned(),
            enabled: true,
            description: None,
            disabled_reason: None,
            failing_since: None,
            created_at: at,
            updated_at: at,
            deleted_at: None,
        }
    }
}

/// One event for one endpoint.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_deliveries)]
pub struct WebhookDeliveryRow {
    pub id: String,
    pub endpoint_id: String,
    pub project_id: String,
    pub event_id: String,
    pub event_type: String,
    pub aggregate_id: String,
    /// The exact bytes that are signed and sent.
    pub body: String,
    /// `pending`, `succeeded`, `failed`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub locked_until: Option<NaiveDateTime>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub delivered_at: Option<NaiveDateTime>,
}

impl WebhookDeliveryRow {
    /// A delivery of one event to `endpoint`, never tried, due at `at`, unclaimed.
    pub fn due(
        id: String,
        endpoint: &WebhookEndpointRow,
        event_id: String,
        event_type: &str,
        aggregate_id: String,
        body: String,
        at: NaiveDateTime,
    ) -> Self {
        WebhookDeliveryRow {
            id,
            endpoint_id: endpoint.id.clone(),
            project_id: endpoint.project_id.clone(),
            event_id,
            event_type: event_type.to_owned(),
            aggregate_id,
            body,
            status: crate::DELIVERY_PENDING.to_owned(),
            attempts: 0,
            next_attempt_at: Some(at),
            locked_until: None,
            last_status_code: None,
            last_error: None,
            created_at: at,
            updated_at: at,
            delivered_at: None,
        }
    }
}

/// One try of a delivery.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_attempts)]
pub struct WebhookAttemptRow {
    pub id: String,
    pub delivery_id: String,
    pub number: i32,
    pub attempted_at: NaiveDateTime,
    pub duration_ms: i32,
    pub status_code: Option<i32>,
    /// The first bytes of the receiver's answer.
    pub response_snippet: Option<String>,
    pub error: Option<String>,
    pub next_attempt_at: Option<NaiveDateTime>,
}

/// Something NexPay tells the admins (the dashboard's feed).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = admin_notifications)]
pub struct AdminNotificationRow {
    pub id: String,
    pub kind: String,
    pub subject_id: Option<String>,
    pub message: String,
    pub detail: String,
    pub created_at: NaiveDateTime,
    pub read_at: Option<NaiveDateTime>,
}
