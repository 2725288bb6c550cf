//! Strict validation of `POST /v1/checkout/sessions` bodies, with pydantic-style
//! error details as the real API returns them.

use serde_json::{Map, Value};

use super::error::{detail, ApiError};

/// A validated create request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CreateRequest {
    pub amount: String,
    pub currency: String,
    pub success_url: String,
    pub error_url: String,
    pub client_reference: Option<String>,
    pub restrict_payer_mobile: Option<String>,
    pub aggregated_merchant_id: Option<String>,
}

const FIELDS: &[&str] = &[
    "amount",
    "currency",
    "success_url",
    "error_url",
    "client_reference",
    "restrict_payer_mobile",
    "aggregated_merchant_id",
];

const XOF_AMOUNT_REGEX: &str = "^[1-9][0-9]*$";
const DECIMAL_AMOUNT_REGEX: &str = "^(0|[1-9][0-9]*)(\\.[0-9]{1,2})?$";
const E164_REGEX: &str = "^\\+[1-9][0-9]{6,14}$";

/// XOF: `^[1-9][0-9]*$`.
fn is_xof_amount(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && (b'1'..=b'9').contains(&b[0]) && b.iter().all(u8::is_ascii_digit)
}

/// Other currencies: `^(0|[1-9][0-9]*)(\.[0-9]{1,2})?$`.
fn is_decimal_amount(s: &str) -> bool {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let int_ok = int == "0" || is_xof_amount(int);
    let frac_ok =
        frac.is_none_or(|f| (1..=2).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()));
    int_ok && frac_ok
}

fn is_zero(s: &str) -> bool {
    s.bytes().all(|b| b == b'0' || b == b'.')
}

/// `^\+[1-9][0-9]{6,14}$`.
fn is_e164(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('+') else {
        return false;
    };
    (7..=15).contains(&rest.len())
        && rest.bytes().all(|b| b.is_ascii_digit())
        && !rest.starts_with('0')
}

fn check_https_url(field: &str, value: &str, allow_http: bool, details: &mut Vec<Value>) {
    match url::Url::parse(value) {
        Ok(u)
            if (u.scheme() == "https" || (allow_http && u.scheme() == "http"))
                && u.host_str().is_some_and(|h| !h.is_empty()) => {}
        Ok(u) if u.scheme() != "https" => details.push(detail(
            &[field],
            "URL scheme not permitted",
            "value_error.url.scheme",
        )),
        _ => details.push(detail(
            &[field],
            "invalid or missing URL scheme",
            "value_error.url.scheme",
        )),
    }
}

/// Reads an optional or required string field; records type errors.
fn string_field(
    obj: &Map<String, Value>,
    field: &str,
    required: bool,
    details: &mut Vec<Value>,
) -> Option<String> {
    match obj.get(field) {
        None | Some(Value::Null) => {
            if required {
                details.push(detail(&[field], "field required", "value_error.missing"));
            }
            None
        }
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            details.push(detail(&[field], "str type expected", "type_error.str"));
            None
        }
    }
}

/// Validates a raw create body against the strict schema.
pub(crate) fn parse_create(
    body: &[u8],
    currencies: &[String],
    allow_http: bool,
) -> Result<CreateRequest, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::validation(vec![detail(
            &["body"],
            &format!("Expecting value: {e}"),
            "value_error.jsondecode",
        )])
    })?;
    let Value::Object(obj) = value else {
        return Err(ApiError::validation(vec![detail(
            &["body"],
            "value is not a valid dict",
            "type_error.dict",
        )]));
    };
    let mut details = Vec::new();
    let amount = string_field(&obj, "amount", true, &mut details);
    let currency = string_field(&obj, "currency", true, &mut details);
    let success_url = string_field(&obj, "success_url", true, &mut details);
    let error_url = string_field(&obj, "error_url", true, &mut details);
    let client_reference = string_field(&obj, "client_reference", false, &mut details);
    let restrict_payer_mobile = string_field(&obj, "restrict_payer_mobile", false, &mut details);
    let aggregated_merchant_id = string_field(&obj, "aggregated_merchant_id", false, &mut details);

    if let Some(c) = &currency {
        if !currencies.iter().any(|known| known == c) {
            details.push(detail(
                &["currency"],
                &format!("unsupported currency, permitted: {}", currencies.join(", ")),
                "value_error.const",
            ));
        }
    }
    if let Some(a) = &amount {
        let (ok, pattern) = if currency.as_deref() == Some("XOF") {
            (is_xof_amount(a), XOF_AMOUNT_REGEX)
        } else {
            (is_decimal_amount(a), DECIMAL_AMOUNT_REGEX)
        };
        if !ok {
            details.push(detail(
                &["amount"],
                &format!("string does not match regex \"{pattern}\""),
                "value_error.str.regex",
            ));
        } else if is_zero(a) {
            details.push(detail(
                &["amount"],
                "ensure this value is greater than 0",
                "value_error.number.not_gt",
            ));
        }
    }
    if let Some(u) = &success_url {
        check_https_url("success_url", u, allow_http, &mut details);
    }
    if let Some(u) = &error_url {
        check_https_url("error_url", u, allow_http, &mut details);
    }
    if let Some(r) = &client_reference {
        if r.chars().count() > 255 {
            details.push(detail(
                &["client_reference"],
                "ensure this value has at most 255 characters",
                "value_error.any_str.max_length",
            ));
        }
    }
    if let Some(m) = &restrict_payer_mobile {
        if !is_e164(m) {
            details.push(detail(
                &["restrict_payer_mobile"],
                &format!("string does not match regex \"{E164_REGEX}\""),
                "value_error.str.regex",
            ));
        }
    }
    if let Some(am) = &aggregated_merchant_id {
        if !am.starts_with("am-") || am.len() < 4 {
            details.push(detail(
                &["aggregated_merchant_id"],
                "invalid aggregated merchant id",
                "value_error",
            ));
        }
    }
    for key in obj.keys() {
        if !FIELDS.contains(&key.as_str()) {
            details.push(detail(
                &[key],
                "extra fields not permitted",
                "value_error.extra",
            ));
        }
    }
    if !details.is_empty() {
        return Err(ApiError::validation(details));
    }
    match (amount, currency, success_url, error_url) {
        (Some(amount), Some(currency), Some(success_url), Some(error_url)) => Ok(CreateRequest {
            amount,
            currency,
            success_url,
            error_url,
            client_reference,
            restrict_payer_mobile,
            aggregated_merchant_id,
        }),
        // Unreachable: missing required fields were reported above.
        _ => Err(ApiError::validation(Vec::new())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts() {
        for ok in ["1", "10", "1000", "999999"] {
            assert!(is_xof_amount(ok), "{ok}");
        }
        for bad in ["", "0", "01000", "10.5", "1000.00", "-1", "1e3", " 1"] {
            assert!(!is_xof_amount(bad), "{bad}");
        }
        for ok in ["0", "0.5", "10.25", "100"] {
            assert!(is_decimal_amount(ok), "{ok}");
        }
        for bad in ["", "01", "1.", "1.234", ".5", "1,5"] {
            assert!(!is_decimal_amount(bad), "{bad}");
        }
    }

    #[test]
    fn mobiles() {
        assert!(is_e164("+221761110001"));
        assert!(!is_e164("221761110001"));
        assert!(!is_e164("+0221761110001"));
        assert!(!is_e164("+22176111000a"));
    }
}
