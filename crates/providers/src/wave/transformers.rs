//! Wave Checkout wire types and their conversions to and from NexPay's types.
//!
//! Amounts are handled as decimal strings and integer minor units only, never as
//! floats. Unknown enum values from Wave map to `Unknown` and are treated as
//! "not finished yet", so a new Wave status can never be read as a success.

use chrono::{DateTime, Utc};
use nexpay_domain::Currency;
use serde::{Deserialize, Serialize};

use crate::ProviderState;

/// `POST /v1/checkout/sessions` body. Only the fields Wave accepts: its schema is
/// strict and refuses anything else (e.g. `metadata`) with `request-validation-error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreateSessionRequest {
    /// Decimal string; no decimals for XOF.
    pub amount: String,
    pub currency: String,
    pub success_url: String,
    pub error_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restrict_payer_mobile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aggregated_merchant_id: Option<String>,
}

/// `checkout_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckoutStatus {
    Open,
    Complete,
    Expired,
    #[serde(other)]
    Unknown,
}

/// `payment_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Processing,
    Cancelled,
    Succeeded,
    #[serde(other)]
    Unknown,
}

/// `last_payment_error`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PaymentError {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
}

/// A checkout session as returned by create, retrieve and search, and as carried in
/// `checkout.session.*` webhook events.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Session {
    pub id: String,
    pub amount: String,
    pub currency: String,
    pub checkout_status: CheckoutStatus,
    pub payment_status: PaymentStatus,
    #[serde(default)]
    pub client_reference: Option<String>,
    #[serde(default)]
    pub wave_launch_url: Option<String>,
    #[serde(default)]
    pub transaction_id: Option<String>,
    #[serde(default)]
    pub last_payment_error: Option<PaymentError>,
    #[serde(default)]
    pub restrict_payer_mobile: Option<String>,
    #[serde(default)]
    pub when_expires: Option<DateTime<Utc>>,
    #[serde(default)]
    pub when_completed: Option<DateTime<Utc>>,
}

/// `GET /v1/checkout/sessions/search` answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SearchResult {
    #[serde(default)]
    pub result: Vec<Session>,
}

/// Wave error body: `{"code", "message", "details"?}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub details: Vec<ErrorDetail>,
}

/// One pydantic-style validation detail.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ErrorDetail {
    #[serde(default)]
    pub loc: Vec<serde_json::Value>,
    #[serde(default)]
    pub msg: String,
}

/// Webhook envelope `{"id", "type", "data"}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EventEnvelope {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub data: serde_json::Value,
}

/// Minor units to Wave's decimal string: `"1000"` for XOF, `"12.50"` for a
/// two-decimal currency. `None` for a non-positive amount.
pub fn format_amount(minor: i64, currency: Currency) -> Option<String> {
    if minor <= 0 {
        return None;
    }
    match currency.exponent() {
        0 => Some(minor.to_string()),
        exp => {
            let scale = 10_i64.checked_pow(u32::from(exp))?;
            Some(format!(
                "{}.{:0width$}",
                minor / scale,
                minor % scale,
                width = usize::from(exp)
            ))
        }
    }
}

/// Wave's decimal string to minor units, exactly: `digits[.digits]` with at most
/// the currency's decimals (trailing zeros beyond them are accepted, e.g.
/// `"1000.00"` for XOF). `None` when malformed, fractional or too large.
pub fn parse_amount(text: &str, currency: &str) -> Option<i64> {
    let exponent = usize::from(Currency::parse(currency).ok()?.exponent());
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || (text.contains('.') && frac.is_empty()) {
        return None;
    }
    let kept = frac.trim_end_matches('0');
    if kept.len() > exponent {
        return None;
    }
    let mut scaled = String::with_capacity(int.len() + exponent);
    scaled.push_str(int);
    scaled.push_str(kept);
    scaled.extend(std::iter::repeat_n('0', exponent - kept.len()));
    let trimmed = scaled.trim_start_matches('0');
    if trimmed.is_empty() {
        return Some(0);
    }
    trimmed.parse::<i64>().ok()
}

/// `checkout_status` × `payment_status` to NexPay's state.
///
/// - `succeeded` means money moved, whatever the checkout status (a refund keeps the
///   session `complete`/`succeeded`).
/// - `expired` without success is final.
/// - `open` is pending, also after a failed attempt (`cancelled` with a
///   `last_payment_error`): the payer may retry until expiry.
/// - Inconsistent or unknown combinations stay pending, so nothing final is concluded
///   from data Wave does not document.
pub fn map_state(checkout: CheckoutStatus, payment: PaymentStatus) -> ProviderState {
    use CheckoutStatus as C;
    use PaymentStatus as P;
    match (checkout, payment) {
        (_, P::Succeeded) => ProviderState::Succeeded,
        (C::Expired, P::Processing | P::Cancelled | P::Unknown) => ProviderState::Expired,
        (C::Open, P::Processing | P::Cancelled | P::Unknown) => ProviderState::Pending,
        (C::Complete, P::Processing | P::Cancelled | P::Unknown) => ProviderState::Pending,
        (C::Unknown, P::Processing | P::Cancelled | P::Unknown) => ProviderState::Pending,
    }
}

/// A human-readable message for a Wave error answer, by code.
pub fn error_message(status: u16, body: &ErrorBody) -> String {
    let code = body.code.as_deref().unwrap_or_default();
    let wave_message = body.message.as_deref().unwrap_or_default();
    let with_wave = |ours: &str| {
        if wave_message.is_empty() {
            ours.to_owned()
        } else {
            format!("{ours} ({wave_message})")
        }
    };
    match code {
        "missing-auth-header" | "invalid-auth" | "api-key-not-provided" => {
            with_wave("Wave rejected the API key: it is missing or malformed")
        }
        "no-matching-api-key" => with_wave("Wave rejected the API key: it is unknown to Wave"),
        "api-key-revoked" => with_wave("Wave rejected the API key: it has been revoked"),
        "missing-signature" | "invalid-signature" => with_wave(
            "Wave rejected the request signature: this API key requires request signing; \
             check the signing secret (wave_…_AKS_…), not the webhook secret, and the clock",
        ),
        "ip-not-allowed" => with_wave("Wave refused this server's IP address for the API key"),
        "invalid-wallet" | "unauthorized-wallet" => {
            with_wave("Wave refused the wallet: this API key cannot use the Checkout API")
        }
        "disabled-wallet" => with_wave("Wave refused the wallet: it is temporarily disabled"),
        "request-validation-error" => {
            let details: Vec<String> = body
                .details
                .iter()
                .map(|d| {
                    let loc: Vec<String> = d
                        .loc
                        .iter()
                        .map(|l| match l {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect();
                    format!("{}: {}", loc.join("."), d.msg)
                })
                .collect();
            if details.is_empty() {
                with_wave("Wave found the request invalid")
            } else {
                format!("Wave found the request invalid: {}", details.join("; "))
            }
        }
        "checkout-session-not-found" => with_wave("Wave has no such checkout session"),
        "checkout-refund-failed" => {
            with_wave("Wave refused the refund: the payment has not succeeded")
        }
        _ if wave_message.is_empty() => format!("Wave answered HTTP {status}"),
        _ => format!("Wave answered HTTP {status}: {wave_message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_formatted_without_decimals_for_xof() {
        assert_eq!(format_amount(1000, Currency::XOF).as_deref(), Some("1000"));
        assert_eq!(format_amount(1, Currency::XOF).as_deref(), Some("1"));
        assert_eq!(format_amount(1250, Currency::GMD).as_deref(), Some("12.50"));
        assert_eq!(format_amount(5, Currency::GMD).as_deref(), Some("0.05"));
        assert_eq!(format_amount(0, Currency::XOF), None);
        assert_eq!(format_amount(-5, Currency::XOF), None);
    }

    #[test]
    fn amounts_are_parsed_exactly() {
        assert_eq!(parse_amount("100", "XOF"), Some(100));
        assert_eq!(parse_amount("1000.00", "XOF"), Some(1000));
        assert_eq!(parse_amount("1000.5", "XOF"), None);
        assert_eq!(parse_amount("12.5", "GMD"), Some(1250));
        assert_eq!(parse_amount("0.07", "GMD"), Some(7));
        assert_eq!(parse_amount("0.1", "GMD"), Some(10));
        assert_eq!(parse_amount("1.234", "GMD"), None);
        assert_eq!(parse_amount("999999999999999999999", "XOF"), None);
        for bad in ["", ".", "1.", ".5", "-1", "1e3", " 1", "1,0", "abc"] {
            assert_eq!(parse_amount(bad, "XOF"), None, "{bad:?}");
        }
        assert_eq!(parse_amount("100", "ZZZ"), None);
    }

    #[test]
    fn state_mapping_is_exhaustive_and_conservative() {
        use CheckoutStatus as C;
        use PaymentStatus as P;
        let cases = [
            (C::Open, P::Processing, ProviderState::Pending),
            (C::Open, P::Cancelled, ProviderState::Pending),
            (C::Open, P::Unknown, ProviderState::Pending),
            (C::Open, P::Succeeded, ProviderState::Succeeded),
            (C::Complete, P::Succeeded, ProviderState::Succeeded),
            (C::Complete, P::Processing, ProviderState::Pending),
            (C::Complete, P::Cancelled, ProviderState::Pending),
            (C::Expired, P::Cancelled, ProviderState::Expired),
            (C::Expired, P::Processing, ProviderState::Expired),
            (C::Expired, P::Succeeded, ProviderState::Succeeded),
            (C::Unknown, P::Processing, ProviderState::Pending),
            (C::Unknown, P::Succeeded, ProviderState::Succeeded),
        ];
        for (c, p, want) in cases {
            assert_eq!(map_state(c, p), want, "{c:?} × {p:?}");
        }
    }

    #[test]
    fn unknown_statuses_deserialize() {
        let s: Session = serde_json::from_str(
            r#"{"id":"cos-1","amount":"10","currency":"XOF",
                "checkout_status":"frozen","payment_status":"reversed"}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.checkout_status, CheckoutStatus::Unknown);
        assert_eq!(s.payment_status, PaymentStatus::Unknown);
    }

    #[test]
    fn create_request_has_only_wave_fields() {
        let req = CreateSessionRequest {
            amount: "1000".into(),
            currency: "XOF".into(),
            success_url: "https://a.example/ok".into(),
            error_url: "https://a.example/ko".into(),
            client_reference: Some("ref".into()),
            restrict_payer_mobile: None,
            aggregated_merchant_id: None,
        };
        let v = serde_json::to_value(&req).unwrap_or_default();
        let mut keys: Vec<_> = v
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        keys.sort();
        assert_eq!(
            keys,
            [
                "amount",
                "client_reference",
                "currency",
                "error_url",
                "success_url"
            ]
        );
    }

    #[test]
    fn validation_errors_list_their_details() {
        let body: ErrorBody = serde_json::from_str(
            r#"{"code":"request-validation-error","message":"Request invalid",
                "details":[{"loc":["metadata"],"msg":"extra fields not permitted","type":"value_error.extra"},
                           {"loc":["body",0],"msg":"bad","type":"x"}]}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            error_message(400, &body),
            "Wave found the request invalid: metadata: extra fields not permitted; body.0: bad"
        );
        let auth: ErrorBody =
            serde_json::from_str(r#"{"code":"invalid-auth","message":"Invalid Authorization"}"#)
                .unwrap_or_else(|e| panic!("{e}"));
        assert!(error_message(401, &auth).starts_with("Wave rejected the API key"));
        let other: ErrorBody = serde_json::from_str(r#"{"code":"odd","message":"Odd"}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(error_message(418, &other), "Wave answered HTTP 418: Odd");
    }
}
