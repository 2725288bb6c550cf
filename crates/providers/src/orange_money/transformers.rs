//! Wire types of the Sonatel eWallet API and their conversion to NexPay types.
//!
//! Nothing here performs I/O: requests are built from plain values and responses are
//! parsed from the raw bytes the gateway returned.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use nexpay_domain::{Currency, Money, PhoneNumber};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::ProviderState;

/// Most `metadata` entries Sonatel accepts on a QR code.
pub const MAX_METADATA_ENTRIES: usize = 10;
/// Longest QR code lifetime Sonatel accepts, in seconds.
pub const MAX_VALIDITY_SECS: u32 = 86_400;
/// The paying side (MaxIt / Orange Money app) refuses smaller amounts.
pub const MIN_PAYABLE_XOF: i64 = 10;
/// The only currency of the Sonatel merchant-payment API.
pub const UNIT_XOF: &str = "XOF";
/// `type` of a merchant payment transaction.
pub const MERCHANT_PAYMENT: &str = "MERCHANT_PAYMENT";

// ------------------------------------------------------------------------------ OAuth

/// `200` of `POST /oauth/v1/token`.
#[derive(Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default)]
    pub expires_in: Option<i64>,
}

/// RFC 6749 error body of the token endpoint.
#[derive(Deserialize)]
pub struct OAuthError {
    pub error: String,
    #[serde(default)]
    pub error_description: Option<String>,
}

// ------------------------------------------------------------------------------ errors

/// A field the gateway sends either as a string or as a number (`status`, `code`).
#[derive(Deserialize)]
#[serde(untagged)]
pub enum StringOrNumber {
    Text(String),
    Number(serde_json::Number),
}

impl StringOrNumber {
    pub fn into_string(self) -> String {
        match self {
            Self::Text(s) => s,
            Self::Number(n) => n.to_string(),
        }
    }
}

/// problem+json error body of business calls (§4.7).
#[derive(Deserialize)]
pub struct Problem {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub code: Option<StringOrNumber>,
    #[serde(default)]
    pub detail: Option<String>,
}

/// `(code, message)` for an error answer: problem+json, OAuth error, or the raw body.
pub fn describe_error(status: u16, body: &[u8]) -> (String, String) {
    if let Ok(p) = serde_json::from_slice::<Problem>(body) {
        if p.title.is_some() || p.detail.is_some() || p.code.is_some() {
            let code = p
                .code
                .map(StringOrNumber::into_string)
                .filter(|c| !c.is_empty())
                .or(p.kind)
                .unwrap_or_else(|| format!("http-{status}"));
            let message = match (p.title, p.detail) {
                (Some(t), Some(d)) if t != d => format!("{t}: {d}"),
                (Some(t), _) => t,
                (None, Some(d)) => d,
                (None, None) => format!("HTTP {status}"),
            };
            return (code, format!("{message} (HTTP {status})"));
        }
    }
    if let Ok(e) = serde_json::from_slice::<OAuthError>(body) {
        let message = e.error_description.unwrap_or_else(|| e.error.clone());
        return (e.error, format!("{message} (HTTP {status})"));
    }
    let text = String::from_utf8_lossy(body);
    let text: String = text.trim().chars().take(200).collect();
    let message = if text.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("{text} (HTTP {status})")
    };
    (format!("http-{status}"), message)
}

// ------------------------------------------------------------------------------ QR code

#[derive(Debug, Serialize)]
pub struct Amount {
    pub unit: &'static str,
    pub value: i64,
}

/// Body of `POST /api/eWallet/v4/qrcode`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QrCodeRequest {
    pub amount: Amount,
    pub code: String,
    pub name: String,
    pub validity: u32,
    pub reference: String,
    pub metadata: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_success_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_cancel_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct DeepLinks {
    #[serde(default, rename = "MAXIT")]
    pub maxit: Option<String>,
    #[serde(default, rename = "OM")]
    pub om: Option<String>,
}

/// `200` of `POST /api/eWallet/v4/qrcode`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QrCodeResponse {
    pub qr_id: String,
    #[serde(default)]
    pub qr_code: Option<String>,
    #[serde(default)]
    pub deep_link: Option<String>,
    #[serde(default)]
    pub deep_links: Option<DeepLinks>,
    #[serde(default)]
    pub short_link: Option<String>,
    #[serde(default)]
    pub validity: Option<i64>,
}

/// A deep link to show the payer: `(label, url, thumbnail)`.
pub type Link = (&'static str, String, &'static str);

impl QrCodeResponse {
    /// MaxIt and Orange Money deep links (the short link when the gateway gave neither).
    pub fn links(&self) -> Vec<Link> {
        let mut links = Vec::new();
        let deep = self.deep_links.as_ref();
        let maxit = deep
            .and_then(|d| d.maxit.clone())
            .or_else(|| self.deep_link.clone())
            .filter(|u| !u.is_empty());
        if let Some(url) = maxit {
            links.push(("MaxIt", url, "/static/providers/maxit.svg"));
        }
        if let Some(url) = deep.and_then(|d| d.om.clone()).filter(|u| !u.is_empty()) {
            links.push(("Orange Money", url, "/static/providers/om.svg"));
        }
        if links.is_empty() {
            if let Some(url) = self.short_link.clone().filter(|u| !u.is_empty()) {
                links.push(("Orange Money", url, "/static/providers/om.svg"));
            }
        }
        links
    }

    /// The bare base64 PNG (a `data:` prefix, should one appear, is removed).
    pub fn qr_png(&self) -> Option<String> {
        let raw = self.qr_code.as_deref()?.trim();
        let bare = raw.split_once("base64,").map_or(raw, |(_, b)| b);
        (!bare.is_empty()).then(|| bare.to_owned())
    }
}

// ------------------------------------------------------------------------------ transactions

/// `{value, unit}` of a transaction; `value` kept as raw JSON text so a float such as
/// `10.0` is converted exactly.
#[derive(Debug, Deserialize)]
pub struct WireAmount {
    pub value: Box<RawValue>,
    #[serde(default)]
    pub unit: Option<String>,
}

impl WireAmount {
    /// Integer XOF, exactly: `10.0` → 10, `10.5` → error.
    pub fn to_minor(&self) -> Result<i64, String> {
        let unit = self.unit.as_deref().unwrap_or(UNIT_XOF);
        if unit != UNIT_XOF {
            return Err(format!("unexpected amount unit {unit:?}"));
        }
        amount_to_minor(self.value.get())
    }
}

/// Converts the JSON text of `amount.value` (a number, or a number in a string) to
/// integer XOF without going through a binary float; non-integral values are refused.
pub fn amount_to_minor(json_text: &str) -> Result<i64, String> {
    let text = json_text.trim();
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    Money::parse_major(text, Currency::XOF)
        .map(|m| m.minor())
        .map_err(|e| format!("amount.value {text}: {e}"))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Party {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub id_type: Option<String>,
}

/// A transaction object (§4.4), also the body of a payment notification (§4.6).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transaction {
    #[serde(default)]
    pub transaction_id: Option<String>,
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub amount: Option<WireAmount>,
    #[serde(default)]
    pub customer: Option<Party>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

impl Transaction {
    pub fn is_merchant_payment(&self) -> bool {
        self.kind.as_deref().is_none_or(|k| k == MERCHANT_PAYMENT)
    }

    pub fn status_str(&self) -> &str {
        self.status.as_deref().unwrap_or("")
    }

    /// The payer's number in E.164 (`772490530` → `+221772490530`).
    pub fn payer(&self) -> Option<String> {
        let customer = self.customer.as_ref()?;
        if customer
            .id_type
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case("MSISDN"))
        {
            return None;
        }
        let id = customer.id.as_deref()?;
        Some(
            PhoneNumber::parse(id)
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|_| id.to_owned()),
        )
    }

    pub fn updated_at(&self) -> Option<DateTime<Utc>> {
        self.updated_at
            .as_deref()
            .or(self.created_at.as_deref())
            .and_then(parse_time)
    }

    /// Position of this row when several share a reference: a success wins, then an
    /// attempt still in flight, then the latest failure.
    pub fn rank(&self) -> u8 {
        match map_status(self.status_str()) {
            ProviderState::Succeeded => 3,
            ProviderState::Pending => 2,
            _ => 1,
        }
    }
}

/// `200` of `GET /api/eWallet/v1/transactions/{id}/status`.
#[derive(Debug, Deserialize)]
pub struct StatusResponse {
    pub status: String,
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Sonatel transaction status → NexPay state. Statuses from the v1.1.0 enum plus
/// `EXPIRED`; anything unknown is treated as still pending (never as paid, never as
/// failed), so the reconciler keeps asking until Sonatel reports a final status.
pub fn map_status(status: &str) -> ProviderState {
    match status.trim().to_ascii_uppercase().as_str() {
        "SUCCESS" | "SUCCESSFUL" => ProviderState::Succeeded,
        "PENDING" | "INITIATED" | "PRE_INITIATED" | "ACCEPTED" => ProviderState::Pending,
        "FAILED" => ProviderState::Failed {
            code: "FAILED".into(),
            message: "the payment failed at Orange Money".into(),
        },
        "REJECTED" => ProviderState::Failed {
            code: "REJECTED".into(),
            message: "Orange Money rejected the payment".into(),
        },
        "CANCELLED" | "CANCELED" => ProviderState::Cancelled,
        "EXPIRED" => ProviderState::Expired,
        _ => ProviderState::Pending,
    }
}

/// Whether `status` is one of the statuses this connector knows.
pub fn is_known_status(status: &str) -> bool {
    matches!(
        status.trim().to_ascii_uppercase().as_str(),
        "SUCCESS"
            | "SUCCESSFUL"
            | "PENDING"
            | "INITIATED"
            | "PRE_INITIATED"
            | "ACCEPTED"
            | "FAILED"
            | "REJECTED"
            | "CANCELLED"
            | "CANCELED"
            | "EXPIRED"
    )
}

// ------------------------------------------------------------------------------ callbacks

/// Body of `POST /api/notification/v1/merchantcallback`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MerchantCallbackRequest<'a> {
    pub api_key: &'a str,
    pub code: &'a str,
    pub name: &'a str,
    pub callback_url: &'a str,
}

/// Parses `X-Sonatel-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]` (each part split on its
/// first `=`). Returns the timestamp as sent (it is part of the signed message) and the
/// `v1` values.
pub fn parse_signature_header(header: &str) -> Option<(&str, Vec<&str>)> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            continue;
        };
        match k.trim() {
            "t" => timestamp = Some(v.trim()),
            "v1" => signatures.push(v.trim()),
            _ => {}
        }
    }
    Some((timestamp?, signatures))
}

/// The message signed by `X-Sonatel-Signature`: `t + "," + raw_body` (comma separator).
pub fn signed_message(timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(timestamp.len() + 1 + body.len());
    msg.extend_from_slice(timestamp.as_bytes());
    msg.push(b',');
    msg.extend_from_slice(body);
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_exact() {
        assert_eq!(amount_to_minor("10.0"), Ok(10));
        assert_eq!(amount_to_minor("5000"), Ok(5000));
        assert_eq!(amount_to_minor("\"2500.00\""), Ok(2500));
        assert_eq!(amount_to_minor("1e3"), Ok(1000));
        assert!(amount_to_minor("10.5").is_err());
        assert!(amount_to_minor("10.0000000000000001").is_err());
        assert!(amount_to_minor("-10").is_err());
        assert!(amount_to_minor("null").is_err());
    }

    #[test]
    fn statuses_map_exhaustively() {
        assert_eq!(map_status("SUCCESS"), ProviderState::Succeeded);
        for s in [
            "PENDING",
            "INITIATED",
            "PRE_INITIATED",
            "ACCEPTED",
            "WHATEVER",
        ] {
            assert_eq!(map_status(s), ProviderState::Pending, "{s}");
        }
        assert!(matches!(map_status("FAILED"), ProviderState::Failed { .. }));
        assert!(matches!(
            map_status("REJECTED"),
            ProviderState::Failed { .. }
        ));
        assert_eq!(map_status("CANCELLED"), ProviderState::Cancelled);
        assert_eq!(map_status("EXPIRED"), ProviderState::Expired);
        assert!(!is_known_status("WHATEVER"));
    }

    #[test]
    fn problem_bodies_become_clear_messages() {
        let body = br#"{"type":"/qr-code-expired","title":"QR code expired","instance":"/x","status":"400","code":"4004","detail":"The QR code has expired"}"#;
        let (code, message) = describe_error(400, body);
        assert_eq!(code, "4004");
        assert_eq!(
            message,
            "QR code expired: The QR code has expired (HTTP 400)"
        );
        let (code, message) = describe_error(
            401,
            br#"{"error":"unauthorized_client","error_description":"INVALID_CREDENTIALS: Invalid client credentials"}"#,
        );
        assert_eq!(code, "unauthorized_client");
        assert!(message.starts_with("INVALID_CREDENTIALS"));
        assert_eq!(describe_error(502, b"").0, "http-502");
    }

    #[test]
    fn signature_header_parsing() {
        let (t, v) = parse_signature_header("t=1700000000,v1=ab,v1=cd=ef").unwrap_or_default();
        assert_eq!(t, "1700000000");
        assert_eq!(v, vec!["ab", "cd=ef"]);
        assert!(parse_signature_header("v1=ab").is_none());
        assert_eq!(signed_message("1", b"{}"), b"1,{}".to_vec());
    }
}
