use serde::{Deserialize, Serialize};

/// Internal event published when a session is created (live dashboard views); not a
/// merchant webhook.
pub const SESSION_CREATED: &str = "session.created";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedRef {
    pub name: String,
    pub code: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PayerRef {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: String,
}

/// `data` of a merchant webhook. Field ORDER matters: the body is compact JSON in the
/// order the existing API documents, followed by the fields we add, so receivers that
/// re-serialise with `JSON.stringify` reproduce the exact bytes we signed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentEventData {
    pub amount: String,
    pub client_reference: Option<String>,
    pub status: String,
    #[serde(rename = "resolvedAt")]
    pub resolved_at: Option<String>,
    pub payer: PayerRef,
    pub provider: Option<NamedRef>,
    pub project: ProjectRef,
    pub metadata: serde_json::Value,
    pub reference: String,
    #[serde(rename = "sessionId")]
    pub session_id: Option<String>,
    pub currency: String,
    pub mode: String,
    pub late: bool,
}

/// A merchant-facing event (`payment.pending|succeeded|failed|cancelled|expired`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentEvent {
    #[serde(rename = "type")]
    pub kind: String,
    pub data: PaymentEventData,
    pub id: String,
    pub created_at: String,
}
