#![forbid(unsafe_code)]
//! Merchant webhook bodies and signatures.
//!
//! Every delivery to a merchant endpoint carries two independent signatures over the same
//! raw body (see `docs/webhooks.md` for the merchant-facing guide):
//!
//! - the **legacy header** (e.g. `x-webhook-secret`): lower-case hex HMAC-SHA256 of the raw
//!   body, keyed with the UTF-8 bytes of the whole secret string (`whsec_` prefix included).
//!   Existing integrations, written from the old README, recompute it over
//!   `JSON.stringify(req.body)` after Express parsed the body; that only matches when the body
//!   we send is exactly what `JSON.stringify(JSON.parse(body))` prints, which is why bodies
//!   are serialized with [`js_compact`].
//! - the **Standard Webhooks headers** (<https://www.standardwebhooks.com/>): `webhook-id`,
//!   `webhook-timestamp` and `webhook-signature` (`v1,<base64 HMAC-SHA256>` of
//!   `"{id}.{timestamp}.{body}"`, keyed with the base64-decoded part of the secret after
//!   `whsec_`), one signature per secret valid now, so a secret can be rotated without a gap.
//!
//! [`signed_headers`] builds all of them for one delivery; [`verify_standard`] and
//! [`verify_legacy`] are the reference verifiers.

pub mod policy;

use std::fmt;
use std::fmt::Write as _;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use ring::hmac;
use ring::rand::{SecureRandom as _, SystemRandom};
use serde_json::Value;

/// The associated data an endpoint's secret is sealed with (`WEBHOOK_SECRETS_KEY`): a
/// sealed secret moved to another endpoint's row does not open.
pub fn secret_aad(endpoint_id: &str) -> Vec<u8> {
    format!("webhook_endpoint:{endpoint_id}").into_bytes()
}

/// The prefix of every endpoint secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// The Standard Webhooks header carrying the message id (the same for every retry).
pub const WEBHOOK_ID_HEADER: &str = "webhook-id";
/// The Standard Webhooks header carrying the signing time, in seconds since the epoch.
pub const WEBHOOK_TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// The Standard Webhooks header carrying the space-separated `v1,<base64>` signatures.
pub const WEBHOOK_SIGNATURE_HEADER: &str = "webhook-signature";

/// The timestamp tolerance recommended to receivers, in seconds (5 minutes).
pub const DEFAULT_TOLERANCE_SECS: i64 = 5 * 60;

/// Number of random bytes in a generated secret.
const SECRET_BYTES: usize = 32;

/// Standard base64 that accepts the secret's part after `whsec_` with or without padding,
/// as the Standard Webhooks libraries do.
const LENIENT_STANDARD: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Compact JSON exactly as JavaScript's `JSON.stringify(JSON.parse(text))` prints it.
///
/// - No whitespace.
/// - Within every object, the keys that are canonical array indices (`"0"`, `"1"`, ...,
///   `"4294967294"`: decimal, no leading zero, below 2^32 - 1) come first in ascending
///   numeric order, then the other keys in their existing order (serde_json keeps insertion
///   order: the workspace builds it with `preserve_order`). This is the ECMAScript
///   `OrdinaryOwnPropertyKeys` order that `JSON.stringify` walks.
/// - Strings are escaped like `JSON.stringify`: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`,
///   other control characters below U+0020 as `\u00xx` (lower-case hex); everything else,
///   `/`, non-ASCII, U+2028 and U+2029 included, is written as is (UTF-8).
/// - Numbers are printed like JavaScript's `Number.prototype.toString`: safe integers
///   (|n| <= 2^53) plainly; larger integers and floats as the double JavaScript would parse
///   them into, in the shortest form that round-trips (`1e+21`, `1.5e-7`, `0.000001`,
///   `12345678901234567000`), `-0` as `0`. JavaScript loses precision on integers beyond
///   2^53, and so does this output, on purpose: it must be what a JavaScript receiver
///   re-serializes. (Metadata only allows safe integers anyway.)
///
/// Limitation: numbers are printed from the `f64`/`i64`/`u64` the [`Value`] holds. A value
/// built in Rust prints exactly as JavaScript prints that double; but a `Value` *parsed* by
/// serde_json from text (without its `float_roundtrip` feature) may hold a double one unit in
/// the last place away from what JavaScript would parse for rare long literals. The output is
/// still consistent (JavaScript re-serializes it unchanged, so signatures hold); it just may
/// not be the digits of the original text.
///
/// The output is a fixed point: `JSON.stringify(JSON.parse(js_compact(v)))` prints the same
/// bytes again, which the receiver tests check with Node.
pub fn js_compact(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut indices: Vec<(u32, &String, &Value)> = Vec::new();
            let mut others: Vec<(&String, &Value)> = Vec::new();
            for (key, item) in map {
                match array_index(key) {
                    Some(index) => indices.push((index, key, item)),
                    None => others.push((key, item)),
                }
            }
            indices.sort_by_key(|(index, _, _)| *index);
            out.push('{');
            let ordered = indices
                .into_iter()
                .map(|(_, key, item)| (key, item))
                .chain(others);
            for (i, (key, item)) in ordered.enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

/// The numeric value of a key that is a canonical ECMAScript array index: the decimal form
/// of an integer in `0..=2^32 - 2`, without sign or leading zero.
fn array_index(key: &str) -> Option<u32> {
    let bytes = key.as_bytes();
    if bytes.is_empty() || bytes.len() > 10 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if bytes.len() > 1 && bytes[0] == b'0' {
        return None;
    }
    let value: u64 = key.parse().ok()?;
    if value < u64::from(u32::MAX) {
        u32::try_from(value).ok()
    } else {
        None
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// 2^53: the integers up to this magnitude are exact in a JavaScript number.
const MAX_SAFE_MAGNITUDE: u64 = 1 << 53;

fn write_number(out: &mut String, n: &serde_json::Number) {
    if let Some(u) = n.as_u64() {
        if u <= MAX_SAFE_MAGNITUDE {
            let _ = write!(out, "{u}");
            return;
        }
    } else if let Some(i) = n.as_i64() {
        if i.unsigned_abs() <= MAX_SAFE_MAGNITUDE {
            let _ = write!(out, "{i}");
            return;
        }
    }
    // A float, or an integer JavaScript cannot hold exactly: print the double it becomes.
    // `as_f64` rounds to the nearest double, as JavaScript's parser does.
    match n.as_f64() {
        Some(f) => out.push_str(&js_number_to_string(f)),
        None => out.push_str("null"),
    }
}

/// `Number.prototype.toString()` of a double (ECMAScript `Number::toString`, radix 10).
fn js_number_to_string(f: f64) -> String {
    if f.is_nan() || f.is_infinite() {
        // JSON.stringify prints non-finite numbers as null (serde_json cannot hold them).
        return "null".to_owned();
    }
    if f == 0.0 {
        return "0".to_owned();
    }
    let mut out = String::new();
    if f < 0.0 {
        out.push('-');
    }
    // Rust's `{:e}` without a precision prints the shortest digits that round-trip, like
    // ECMAScript requires: "d.ddde<exp>", without trailing zeros in the mantissa.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exponent: i64 = exponent.parse().unwrap_or(0);
    // ECMAScript's names: value = 0.digits * 10^n, k digits.
    let k = i64::try_from(digits.len()).unwrap_or(i64::MAX);
    let n = exponent + 1;
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n(
            '0',
            usize::try_from(n - k).unwrap_or(0),
        ));
    } else if 0 < n && n <= 21 {
        let split = usize::try_from(n).unwrap_or(0);
        out.push_str(&digits[..split]);
        out.push('.');
        out.push_str(&digits[split..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', usize::try_from(-n).unwrap_or(0)));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = n - 1;
        let _ = write!(out, "e{}{}", if e >= 0 { '+' } else { '-' }, e.abs());
    }
    out
}

/// A new endpoint secret: `"whsec_"` + standard base64 of 32 random bytes from the
/// operating system's generator.
///
/// # Panics
///
/// When the operating system's random number generator fails, which leaves nothing safe to
/// do.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the operating system's random number generator failed");
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// The legacy header value: lower-case hex HMAC-SHA256 over the raw body, keyed with the
/// secret's UTF-8 bytes (the whole string, `whsec_` prefix included, as existing receivers
/// do with `crypto.createHmac('sha256', secret)`).
pub fn legacy_signature(secret: &str, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    hex::encode(hmac::sign(&key, body).as_ref())
}

/// The Standard Webhooks key of a secret: the base64 decoding of what follows `whsec_` when
/// the secret has that prefix and it decodes (padded or not) to a non-empty key; otherwise
/// the secret's UTF-8 bytes.
pub fn standard_key(secret: &str) -> Vec<u8> {
    if let Some(encoded) = secret.strip_prefix(SECRET_PREFIX) {
        if let Ok(key) = LENIENT_STANDARD.decode(encoded) {
            if !key.is_empty() {
                return key;
            }
        }
    }
    secret.as_bytes().to_vec()
}

fn standard_tag(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> hmac::Tag {
    let key = hmac::Key::new(hmac::HMAC_SHA256, &standard_key(secret));
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(msg_id.as_bytes());
    ctx.update(b".");
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    ctx.sign()
}

/// `"v1,"` + standard base64 of HMAC-SHA256(`standard_key(secret)`,
/// `"{msg_id}.{timestamp}.{body}"`).
pub fn standard_signature(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = standard_tag(secret, msg_id, timestamp, body);
    format!("v1,{}", STANDARD.encode(tag.as_ref()))
}

/// Every signature header of one delivery, in this order:
///
/// 1. (`header_name` lower-cased, [`legacy_signature`]`(legacy_secret, body)`),
/// 2. (`webhook-id`, `msg_id`),
/// 3. (`webhook-timestamp`, `timestamp`),
/// 4. (`webhook-signature`, the space-separated [`standard_signature`]s, one per secret in
///    `secrets`, in that order).
///
/// `legacy_secret` signs the legacy header; `secrets` are all the secrets valid now (during a
/// rotation the new one and the old one).
pub fn signed_headers(
    header_name: &str,
    legacy_secret: &str,
    secrets: &[&str],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Vec<(String, String)> {
    let signatures = secrets
        .iter()
        .map(|secret| standard_signature(secret, msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ");
    vec![
        (
            header_name.to_ascii_lowercase(),
            legacy_signature(legacy_secret, body),
        ),
        (WEBHOOK_ID_HEADER.to_owned(), msg_id.to_owned()),
        (WEBHOOK_TIMESTAMP_HEADER.to_owned(), timestamp.to_string()),
        (WEBHOOK_SIGNATURE_HEADER.to_owned(), signatures),
    ]
}

/// Why [`verify_standard`] rejected a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyError {
    /// `webhook-timestamp` is not an integer number of seconds.
    BadTimestamp,
    /// `webhook-timestamp` is older than the tolerance allows (a replay or a stale retry).
    TooOld,
    /// `webhook-timestamp` is further in the future than the tolerance allows.
    TooNew,
    /// The signatures are well formed but none matches any of the secrets.
    NoMatch,
    /// `webhook-signature` holds no `v1` signature, an entry that is not `version,signature`,
    /// or a `v1` signature that is not standard base64.
    Malformed,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BadTimestamp => "the webhook-timestamp header is not an integer",
            Self::TooOld => "the webhook timestamp is too old",
            Self::TooNew => "the webhook timestamp is too far in the future",
            Self::NoMatch => "no webhook signature matches",
            Self::Malformed => "the webhook-signature header is malformed",
        })
    }
}

impl std::error::Error for VerifyError {}

/// Verifies the Standard Webhooks headers of a delivery; the reference for receivers.
///
/// Accepts when `timestamp_header` is an integer within `tolerance_secs` of `now` (both in
/// seconds since the epoch) and any `v1` signature of `signature_header` (space-separated
/// `version,base64` pairs; other versions are skipped) matches the signature of
/// `"{msg_id}.{timestamp}.{body}"` under any of `secrets`. Signatures are compared in
/// constant time (`ring::hmac::verify`). The timestamp is checked first, like the Standard
/// Webhooks libraries do.
pub fn verify_standard(
    secrets: &[&str],
    msg_id: &str,
    timestamp_header: &str,
    signature_header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), VerifyError> {
    let timestamp_text = timestamp_header.trim();
    let digits = timestamp_text.strip_prefix('-').unwrap_or(timestamp_text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::BadTimestamp);
    }
    let timestamp: i64 = timestamp_text
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    let age = i128::from(now) - i128::from(timestamp);
    let tolerance = i128::from(tolerance_secs.max(0));
    if age > tolerance {
        return Err(VerifyError::TooOld);
    }
    if -age > tolerance {
        return Err(VerifyError::TooNew);
    }

    let mut candidates: Vec<Vec<u8>> = Vec::new();
    for token in signature_header.split_ascii_whitespace() {
        let Some((version, encoded)) = token.split_once(',') else {
            return Err(VerifyError::Malformed);
        };
        if version != "v1" {
            continue;
        }
        match STANDARD.decode(encoded) {
            Ok(signature) => candidates.push(signature),
            Err(_) => return Err(VerifyError::Malformed),
        }
    }
    if candidates.is_empty() {
        return Err(VerifyError::Malformed);
    }

    // The signed content uses the timestamp's canonical decimal form, as the sender (and
    // the Standard Webhooks libraries, which parse the header first) do.
    let mut message = Vec::with_capacity(msg_id.len() + body.len() + 24);
    message.extend_from_slice(msg_id.as_bytes());
    message.push(b'.');
    message.extend_from_slice(timestamp.to_string().as_bytes());
    message.push(b'.');
    message.extend_from_slice(body);
    for secret in secrets {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &standard_key(secret));
        for candidate in &candidates {
            if hmac::verify(&key, &message, candidate).is_ok() {
                return Ok(());
            }
        }
    }
    Err(VerifyError::NoMatch)
}

/// Verifies a legacy header value (hex HMAC-SHA256 of the raw body keyed with the secret's
/// UTF-8 bytes), in constant time. Hex digits of either case are accepted; anything that is
/// not 64 hex digits is rejected.
pub fn verify_legacy(secret: &str, header_value: &str, body: &[u8]) -> bool {
    let Ok(signature) = hex::decode(header_value.trim()) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    hmac::verify(&key, body, &signature).is_ok()
}

#[cfg(test)]
mod tests;
