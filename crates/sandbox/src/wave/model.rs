//! The checkout session object (§1.6 of the provider notes) and its states.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// `checkout_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckoutStatus {
    /// Waiting for the payer.
    Open,
    /// Paid.
    Complete,
    /// Expired (lazily at `when_expires`, or through the expire endpoint).
    Expired,
}

/// `payment_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// No successful attempt yet.
    Processing,
    /// Last attempt failed, or the session expired.
    Cancelled,
    /// Paid.
    Succeeded,
}

impl CheckoutStatus {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Complete => "complete",
            Self::Expired => "expired",
        }
    }
}

impl PaymentStatus {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Processing => "processing",
            Self::Cancelled => "cancelled",
            Self::Succeeded => "succeeded",
        }
    }
}

/// Codes Wave puts in `last_payment_error.code`.
pub const PAYMENT_ERROR_CODES: &[&str] = &[
    "blocked-account",
    "cross-border-payment-not-allowed",
    "customer-age-restricted",
    "insufficient-funds",
    "kyb-limits-exceeded",
    "payer-mobile-mismatch",
    "payment-failure",
];

/// Default message of a payment-attempt error code.
pub(crate) fn default_error_message(code: &str) -> &'static str {
    match code {
        "blocked-account" => "The payer's account is blocked.",
        "cross-border-payment-not-allowed" => "Cross-border payments are not allowed.",
        "customer-age-restricted" => "The payer is not allowed to make this payment.",
        "insufficient-funds" => "The payer does not have enough funds.",
        "kyb-limits-exceeded" => "The merchant's limits have been exceeded.",
        "payer-mobile-mismatch" => "The payer's mobile number does not match.",
        _ => "The payment failed.",
    }
}

/// `last_payment_error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentError {
    /// One of [`PAYMENT_ERROR_CODES`].
    pub code: String,
    /// Human-readable message.
    pub message: String,
}

/// A checkout session as Wave returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// `cos-…`.
    pub id: String,
    /// Decimal string, as requested.
    pub amount: String,
    /// ISO-4217 code.
    pub currency: String,
    /// Checkout status.
    pub checkout_status: CheckoutStatus,
    /// Payment status.
    pub payment_status: PaymentStatus,
    /// Caller's correlation id.
    pub client_reference: Option<String>,
    /// Merchant display name.
    pub business_name: String,
    /// Redirect after success.
    pub success_url: String,
    /// Redirect after error.
    pub error_url: String,
    /// Link the payer opens (payer page of the simulator).
    pub wave_launch_url: String,
    /// Set once paid.
    pub transaction_id: Option<String>,
    /// Last failed attempt.
    pub last_payment_error: Option<PaymentError>,
    /// Aggregated merchant (`am-…`), when given.
    pub aggregated_merchant_id: Option<String>,
    /// Only this payer may pay, when given.
    pub restrict_payer_mobile: Option<String>,
    /// Creation instant.
    pub when_created: DateTime<Utc>,
    /// Expiry instant.
    pub when_expires: DateTime<Utc>,
    /// Set when complete or expired.
    pub when_completed: Option<DateTime<Utc>>,
}

/// RFC 3339, UTC, whole seconds, `Z` suffix (`2022-11-08T15:05:32Z`).
pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Session {
    /// The JSON object, fields in the order of Wave's official example.
    pub fn to_value(&self) -> Value {
        let mut map = Map::new();
        map.insert("id".into(), json!(self.id));
        map.insert("amount".into(), json!(self.amount));
        map.insert(
            "checkout_status".into(),
            json!(self.checkout_status.as_str()),
        );
        map.insert("client_reference".into(), json!(self.client_reference));
        map.insert("currency".into(), json!(self.currency));
        map.insert("error_url".into(), json!(self.error_url));
        map.insert(
            "last_payment_error".into(),
            json!(self
                .last_payment_error
                .as_ref()
                .map(|e| json!({"code": e.code, "message": e.message}))),
        );
        map.insert("business_name".into(), json!(self.business_name));
        map.insert("payment_status".into(), json!(self.payment_status.as_str()));
        map.insert("success_url".into(), json!(self.success_url));
        map.insert("wave_launch_url".into(), json!(self.wave_launch_url));
        map.insert(
            "when_completed".into(),
            json!(self.when_completed.map(rfc3339)),
        );
        map.insert("when_created".into(), json!(rfc3339(self.when_created)));
        map.insert("when_expires".into(), json!(rfc3339(self.when_expires)));
        map.insert("transaction_id".into(), json!(self.transaction_id));
        if let Some(am) = &self.aggregated_merchant_id {
            map.insert("aggregated_merchant_id".into(), json!(am));
        }
        if let Some(mobile) = &self.restrict_payer_mobile {
            map.insert("restrict_payer_mobile".into(), json!(mobile));
        }
        Value::Object(map)
    }

    /// Applies lazy expiry; returns `true` when the session just expired.
    pub(crate) fn refresh(&mut self, now: DateTime<Utc>) -> bool {
        if self.checkout_status == CheckoutStatus::Open && now >= self.when_expires {
            self.expire_at(self.when_expires);
            true
        } else {
            false
        }
    }

    /// Moves an open session to `expired`.
    pub(crate) fn expire_at(&mut self, at: DateTime<Utc>) {
        self.checkout_status = CheckoutStatus::Expired;
        self.payment_status = PaymentStatus::Cancelled;
        self.when_completed = Some(at);
    }
}

/// Percent-encodes a query value (`%20` for spaces, as in `m=Annas%20Apiaries`).
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `<base>/c/<id>?a=<amount>&c=<currency>&m=<business name>`.
pub(crate) fn launch_url(base: &str, id: &str, amount: &str, currency: &str, name: &str) -> String {
    format!(
        "{}/c/{id}?a={}&c={}&m={}",
        base.trim_end_matches('/'),
        percent_encode(amount),
        percent_encode(currency),
        percent_encode(name)
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::wave::pyjson::to_python_json;
    use chrono::TimeZone;

    /// The body of the official Wave webhook test vector.
    pub(crate) const OFFICIAL_BODY: &str = r#"{"id": "AE_ijzo7oGgrlM7", "type": "checkout.session.completed", "data": {"id": "cos-1b01sghpg100j", "amount": "100", "checkout_status": "complete", "client_reference": null, "currency": "XOF", "error_url": "https://example.com/error", "last_payment_error": null, "business_name": "Annas Apiaries", "payment_status": "succeeded", "success_url": "https://example.com/success", "wave_launch_url": "https://pay.wave.com/c/cos-1b01sghpg100j?a=100&c=XOF&m=Annas%20Apiaries", "when_completed": "2022-11-08T15:05:45Z", "when_created": "2022-11-08T15:05:32Z", "when_expires": "2022-11-09T15:05:32Z", "transaction_id": "TCN4Y4ZC3FM"}}"#;

    fn at(h: u32, m: u32, s: u32, day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2022, 11, day, h, m, s)
            .single()
            .unwrap_or_default()
    }

    /// Rebuilding the official session and envelope gives the official bytes.
    #[test]
    fn official_example_round_trip() {
        let session = Session {
            id: "cos-1b01sghpg100j".into(),
            amount: "100".into(),
            currency: "XOF".into(),
            checkout_status: CheckoutStatus::Complete,
            payment_status: PaymentStatus::Succeeded,
            client_reference: None,
            business_name: "Annas Apiaries".into(),
            success_url: "https://example.com/success".into(),
            error_url: "https://example.com/error".into(),
            wave_launch_url: launch_url(
                "https://pay.wave.com",
                "cos-1b01sghpg100j",
                "100",
                "XOF",
                "Annas Apiaries",
            ),
            transaction_id: Some("TCN4Y4ZC3FM".into()),
            last_payment_error: None,
            aggregated_merchant_id: None,
            restrict_payer_mobile: None,
            when_created: at(15, 5, 32, 8),
            when_expires: at(15, 5, 32, 9),
            when_completed: Some(at(15, 5, 45, 8)),
        };
        let envelope = crate::wave::webhooks::envelope(
            "AE_ijzo7oGgrlM7",
            "checkout.session.completed",
            session.to_value(),
        );
        let body = to_python_json(&envelope);
        assert_eq!(body, OFFICIAL_BODY);
        assert_eq!(
            crate::wave::signature::compute_signature(
                "wave_sn_WHS_xz4m6g8rjs9bshxy05xj4khcvjv7j3hcp4fbpvv6met0zdrjvezg",
                1_667_920_421,
                body.as_bytes()
            ),
            "53c971695230e9c51b1030d673eee76e70bbcdf8a7c5b8c1d44e0b8b1329647b"
        );
    }
}
