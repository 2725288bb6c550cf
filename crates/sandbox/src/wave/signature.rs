//! `Wave-Signature: t=<unix>,v1=<hex>` — HMAC-SHA256 over the timestamp string
//! immediately followed by the raw body (no separator). Used both for webhooks
//! sent by the simulator and for signed API requests it receives.

use nexpay_security::{hmac_sha256_hex, verify_hmac_sha256_hex};

/// Lower-case hex `HMAC_SHA256(secret, t + body)`.
pub fn compute_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut msg = timestamp.to_string().into_bytes();
    msg.extend_from_slice(body);
    hmac_sha256_hex(secret.as_bytes(), &msg)
}

/// Full header value `t=<t>,v1=<sig>`.
pub fn signature_header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        compute_signature(secret, timestamp, body)
    )
}

/// A parsed `Wave-Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedSignature {
    /// The `t=` value.
    pub timestamp: i64,
    /// Every `v1=` value (several during a secret rotation).
    pub v1: Vec<String>,
}

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `t=` or no `v1=`, or a non-numeric timestamp.
    #[error("malformed Wave-Signature header")]
    Malformed,
    /// `t` is outside the tolerance window.
    #[error("Wave-Signature timestamp outside the tolerance window")]
    Stale,
    /// No `v1` matches.
    #[error("Wave-Signature does not match")]
    Mismatch,
}

/// Splits on `,` then on the first `=`; unknown schemes are ignored.
pub fn parse_signature_header(header: &str) -> Result<ParsedSignature, SignatureError> {
    let mut timestamp = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        let Some((name, value)) = part.trim().split_once('=') else {
            continue;
        };
        match name.trim() {
            "t" => {
                timestamp = Some(
                    value
                        .trim()
                        .parse::<i64>()
                        .map_err(|_| SignatureError::Malformed)?,
                )
            }
            "v1" => v1.push(value.trim().to_owned()),
            _ => {}
        }
    }
    match timestamp {
        Some(timestamp) if !v1.is_empty() => Ok(ParsedSignature { timestamp, v1 }),
        _ => Err(SignatureError::Malformed),
    }
}

/// Verifies `header` for `body`: any `v1` may match, and `|now - t|` must not
/// exceed `tolerance_secs`.
pub fn verify_signature_header(
    header: &str,
    secret: &str,
    body: &[u8],
    now_unix: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let parsed = parse_signature_header(header)?;
    if (now_unix - parsed.timestamp).abs() > tolerance_secs {
        return Err(SignatureError::Stale);
    }
    let mut msg = parsed.timestamp.to_string().into_bytes();
    msg.extend_from_slice(body);
    if parsed
        .v1
        .iter()
        .any(|sig| verify_hmac_sha256_hex(secret.as_bytes(), &msg, sig))
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const SECRET: &str =
        "wave_sn_WHS_xz4m6g8rjs9bshxy05xj4khcvjv7j3hcp4fbpvv6met0zdrjvezg";
    pub(crate) const T: i64 = 1_667_920_421;
    pub(crate) const EXPECTED: &str =
        "53c971695230e9c51b1030d673eee76e70bbcdf8a7c5b8c1d44e0b8b1329647b";

    #[test]
    fn official_vector() {
        let body = super::super::model::tests::OFFICIAL_BODY.as_bytes();
        assert_eq!(compute_signature(SECRET, T, body), EXPECTED);
        let header = signature_header(SECRET, T, body);
        assert_eq!(header, format!("t={T},v1={EXPECTED}"));
        assert_eq!(
            verify_signature_header(&header, SECRET, body, T + 10, 300),
            Ok(())
        );
    }

    #[test]
    fn rotation_stale_and_mismatch() {
        let body = br#"{"a": 1}"#;
        let good = compute_signature(SECRET, T, body);
        let header = format!("t={T}, v1={}, v1={good}", "0".repeat(64));
        assert_eq!(
            verify_signature_header(&header, SECRET, body, T, 300),
            Ok(())
        );
        assert_eq!(
            verify_signature_header(&header, SECRET, body, T + 301, 300),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_signature_header(&header, "other", body, T, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature_header("v1=abc", SECRET, body, T, 300),
            Err(SignatureError::Malformed)
        );
        // The Stripe-style "t.body" construction must not verify.
        let mut dotted = T.to_string().into_bytes();
        dotted.push(b'.');
        dotted.extend_from_slice(body);
        let wrong = nexpay_security::hmac_sha256_hex(SECRET.as_bytes(), &dotted);
        assert_eq!(
            verify_signature_header(&format!("t={T},v1={wrong}"), SECRET, body, T, 300),
            Err(SignatureError::Mismatch)
        );
    }
}
