use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Customer details, already validated and normalised by the gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub label: String,
    #[serde(rename = "unitPrice")]
    pub unit_price: i64,
    pub quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RedirectUrls {
    pub success_url: Option<String>,
    pub failure_url: Option<String>,
    pub cancel_url: Option<String>,
}

/// Who asks: the project and mode of the API key, and the merchant's Idempotency-Key,
/// which payments uses to find the object a retried request already created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Caller {
    pub project_id: String,
    pub mode: String,
    pub request_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateSession {
    pub caller: Caller,
    pub amount_minor: i64,
    pub currency: String,
    pub customer: Customer,
    pub metadata: serde_json::Value,
    pub items: Option<Vec<Item>>,
    pub client_reference: Option<String>,
    pub urls: RedirectUrls,
    pub expires_in_secs: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionCreated {
    #[serde(rename = "sessionId")]
    pub session_id: String,
    #[serde(rename = "checkoutUrl")]
    pub checkout_url: String,
    pub status: String,
    #[serde(rename = "expiresAt")]
    pub expires_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitiatePayment {
    pub caller: Caller,
    pub amount_minor: i64,
    pub currency: String,
    pub provider_code: String,
    pub customer: Customer,
    pub metadata: serde_json::Value,
    pub client_reference: Option<String>,
    pub urls: RedirectUrls,
}

/// Choose a provider for a session (merchant API or hosted checkout page). The caller's
/// project is `None` when the hosted page asks: the session id is then the credential.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckoutSession {
    pub project_id: Option<String>,
    pub mode: Option<String>,
    pub session_id: String,
    pub provider_code: String,
}

/// Cancel a session that is not paid yet (the hosted page's "Cancel and return to the
/// shop" link). As for [`CheckoutSession`], the project is `None` when the hosted page
/// asks: the session id is then the credential. Idempotent: cancelling a cancelled
/// session answers the same and changes nothing. A succeeded, failed or expired session
/// is refused with 409 `session_closed`; an unknown one (or another project's) with
/// 404 `not_found`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CancelSession {
    pub project_id: Option<String>,
    pub mode: Option<String>,
    pub session_id: String,
}

/// The answer to [`CancelSession`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionCancelled {
    #[serde(rename = "sessionId")]
    pub session_id: String,
    /// The session's status after the call (`cancelled`).
    pub status: String,
    /// Where to send the customer back: the session's cancel URL, else its failure URL
    /// (both already fall back to the project's at creation). `None`: the shop gave none.
    #[serde(rename = "cancelUrl")]
    pub cancel_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderRef {
    pub id: String,
    pub name: String,
    pub code: String,
    #[serde(rename = "logoUrl")]
    pub logo_url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payer {
    #[serde(rename = "userId")]
    pub user_id: String,
    pub email: Option<String>,
    pub phone: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckoutLink {
    pub name: String,
    pub url: String,
    pub thumb: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QrCode {
    /// Base64 PNG without a `data:` prefix, as the existing API returns it.
    pub data: String,
}

/// The `data` of `POST /payment/initiate` (and of a session checkout), field names as the
/// existing API has them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentInitiated {
    pub amount: serde_json::Value,
    pub currency: String,
    pub provider: ProviderRef,
    pub reference: String,
    pub payer: Payer,
    pub checkout_urls: Vec<CheckoutLink>,
    pub qr_code: Option<QrCode>,
    pub expiration: Option<String>,
    pub status: String,
    #[serde(rename = "sessionId", skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    pub client_reference: Option<String>,
}

/// payments → provider-adapter: open a checkout at the provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateCheckout {
    pub provider_code: String,
    pub mode: String,
    pub attempt_id: String,
    /// Sent to the provider as its client reference; unique per attempt.
    pub provider_reference: String,
    pub amount_minor: i64,
    pub currency: String,
    pub payer_phone: String,
    pub merchant_name: String,
    pub success_url: String,
    pub error_url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckoutCreated {
    pub provider_id: String,
    pub checkout_urls: Vec<CheckoutLink>,
    pub qr_png_base64: Option<String>,
    pub expires_at: DateTime<Utc>,
}
