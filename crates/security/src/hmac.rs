//! HMAC-SHA256, used to sign and verify provider webhooks.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::hmac::{self as ring_hmac, Key, HMAC_SHA256};

const SHA256_LEN: usize = 32;

/// Raw HMAC-SHA256 of `msg` under `key`.
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let tag = ring_hmac::sign(&Key::new(HMAC_SHA256, key), msg);
    let mut out = [0u8; SHA256_LEN];
    // A SHA-256 tag is always 32 bytes.
    out.copy_from_slice(tag.as_ref());
    out
}

/// Lower-case hex HMAC-SHA256 (the form most providers put in headers).
pub fn hmac_sha256_hex(key: &[u8], msg: &[u8]) -> String {
    hex::encode(hmac_sha256(key, msg))
}

/// Standard (padded) base64 HMAC-SHA256.
pub fn hmac_sha256_base64(key: &[u8], msg: &[u8]) -> String {
    STANDARD.encode(hmac_sha256(key, msg))
}

/// Checks a raw signature in constant time.
pub fn verify_hmac_sha256(key: &[u8], msg: &[u8], signature: &[u8]) -> bool {
    ring_hmac::verify(&Key::new(HMAC_SHA256, key), msg, signature).is_ok()
}

/// Checks a hex signature (either letter case) in constant time. Anything
/// that is not 64 hex digits is rejected before touching the key, so
/// oversized headers cost nothing.
pub fn verify_hmac_sha256_hex(key: &[u8], msg: &[u8], hex_sig: &str) -> bool {
    if hex_sig.len() != 2 * SHA256_LEN {
        return false;
    }
    match hex::decode(hex_sig) {
        Ok(signature) => verify_hmac_sha256(key, msg, &signature),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC4231_CASE2: &str = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";

    const WAVE_SECRET: &str = "wave_sn_WHS_xz4m6g8rjs9bshxy05xj4khcvjv7j3hcp4fbpvv6met0zdrjvezg";
    const WAVE_TIMESTAMP: &str = "1667920421";
    const WAVE_BODY: &str = r#"{"id": "AE_ijzo7oGgrlM7", "type": "checkout.session.completed", "data": {"id": "cos-1b01sghpg100j", "amount": "100", "checkout_status": "complete", "client_reference": null, "currency": "XOF", "error_url": "https://example.com/error", "last_payment_error": null, "business_name": "Annas Apiaries", "payment_status": "succeeded", "success_url": "https://example.com/success", "wave_launch_url": "https://pay.wave.com/c/cos-1b01sghpg100j?a=100&c=XOF&m=Annas%20Apiaries", "when_completed": "2022-11-08T15:05:45Z", "when_created": "2022-11-08T15:05:32Z", "when_expires": "2022-11-09T15:05:32Z", "transaction_id": "TCN4Y4ZC3FM"}}"#;
    const WAVE_EXPECTED: &str = "53c971695230e9c51b1030d673eee76e70bbcdf8a7c5b8c1d44e0b8b1329647b";

    const OM_SECRET: &str = "om_endpoint_secret_test";
    const OM_MESSAGE: &str = r#"1700000000,{"amount":{"value":10.0,"unit":"XOF"},"reference":"ORDER-1","status":"SUCCESS","transactionId":"MP231114.2213.A00001","type":"MERCHANT_PAYMENT"}"#;
    const OM_EXPECTED: &str = "e2409657e6a38f92fae426fc4accd21d9647c489905714fe34287e047d54e451";

    fn wave_message() -> String {
        format!("{WAVE_TIMESTAMP}{WAVE_BODY}")
    }

    #[test]
    fn rfc4231_test_case_2() {
        let tag = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex::encode(tag), RFC4231_CASE2);
        assert_eq!(
            hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            RFC4231_CASE2
        );
    }

    #[test]
    fn wave_official_vector() {
        let msg = wave_message();
        assert_eq!(
            hmac_sha256_hex(WAVE_SECRET.as_bytes(), msg.as_bytes()),
            WAVE_EXPECTED
        );
        assert!(verify_hmac_sha256_hex(
            WAVE_SECRET.as_bytes(),
            msg.as_bytes(),
            WAVE_EXPECTED
        ));
    }

    #[test]
    fn orange_money_vector() {
        assert_eq!(
            hmac_sha256_hex(OM_SECRET.as_bytes(), OM_MESSAGE.as_bytes()),
            OM_EXPECTED
        );
        assert!(verify_hmac_sha256_hex(
            OM_SECRET.as_bytes(),
            OM_MESSAGE.as_bytes(),
            OM_EXPECTED
        ));
    }

    #[test]
    fn base64_form_encodes_the_same_tag() {
        let b64 = hmac_sha256_base64(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex::encode(STANDARD.decode(b64).unwrap()), RFC4231_CASE2);
    }

    #[test]
    fn verify_accepts_uppercase_hex_and_raw_bytes() {
        let msg = b"what do ya want for nothing?";
        assert!(verify_hmac_sha256_hex(
            b"Jefe",
            msg,
            &RFC4231_CASE2.to_uppercase()
        ));
        assert!(verify_hmac_sha256(b"Jefe", msg, &hmac_sha256(b"Jefe", msg)));
    }

    #[test]
    fn verify_rejects_wrong_key_message_or_signature() {
        let msg = wave_message();
        let secret = WAVE_SECRET.as_bytes();
        assert!(!verify_hmac_sha256_hex(
            b"other secret",
            msg.as_bytes(),
            WAVE_EXPECTED
        ));
        let altered = msg.replace("\"100\"", "\"1000\"");
        assert!(!verify_hmac_sha256_hex(
            secret,
            altered.as_bytes(),
            WAVE_EXPECTED
        ));
        let mut flipped = WAVE_EXPECTED.to_owned();
        flipped.replace_range(63.., "a");
        assert!(!verify_hmac_sha256_hex(secret, msg.as_bytes(), &flipped));
    }

    #[test]
    fn verify_rejects_malformed_hex() {
        let msg = wave_message();
        let secret = WAVE_SECRET.as_bytes();
        let long = format!("{WAVE_EXPECTED}00");
        let spaced = format!(" {}", &WAVE_EXPECTED[1..]);
        let non_hex = format!("{}zz", &WAVE_EXPECTED[..62]);
        for bad in ["", &WAVE_EXPECTED[..62], &long, &spaced, &non_hex] {
            assert!(
                !verify_hmac_sha256_hex(secret, msg.as_bytes(), bad),
                "{bad:?}"
            );
        }
        assert!(!verify_hmac_sha256(secret, msg.as_bytes(), &[]));
        let truncated = &hmac_sha256(secret, msg.as_bytes())[..16];
        assert!(!verify_hmac_sha256(secret, msg.as_bytes(), truncated));
    }

    #[test]
    fn empty_key_and_message_are_allowed() {
        // HMAC-SHA256("", "") from the Wikipedia HMAC article.
        assert_eq!(
            hmac_sha256_hex(b"", b""),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"
        );
    }
}
