//! Stateless session tokens for the admin API.
//!
//! Format: `base64url(payload_json).base64url(hmac_sha256(payload_part))`,
//! both without padding. Deliberately not JWT: a fixed algorithm leaves no
//! `alg: none` or key-confusion surface, and nothing else needs to read them.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::hmac::{self as ring_hmac, Key, HMAC_SHA256};
use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// Prepended to the MAC input so a MAC made with the same secret for another
/// purpose (or a future token format) can never pass as a session token.
const DOMAIN: &[u8] = b"nexpay-session-v1.";
/// Far above any real token; bounds the work done on garbage headers.
const MAX_TOKEN_LEN: usize = 4096;
/// HMAC-SHA256 output; any other length cannot come from [`SessionTokenSigner::sign`].
const SIGNATURE_LEN: usize = 32;

/// What a valid token asserts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenClaims {
    /// The user the session belongs to.
    pub sub: String,
    /// Issue time, Unix seconds.
    pub iat: i64,
    /// Expiry time, Unix seconds; the token is rejected from this second on.
    pub exp: i64,
    /// The user's session version when the token was issued. The server
    /// compares it with the stored counter and bumps that counter on password
    /// change or deletion, which revokes every older token at once.
    pub ver: i64,
}

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    #[error("malformed session token")]
    Malformed,
    #[error("invalid session token signature")]
    BadSignature,
    #[error("session token has expired")]
    Expired,
}

/// Signs and verifies session tokens with one HMAC-SHA256 secret.
#[derive(Clone)]
pub struct SessionTokenSigner {
    key: Key,
}

impl SessionTokenSigner {
    /// `secret` should be at least 32 random bytes.
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: Key::new(HMAC_SHA256, secret),
        }
    }

    /// Issues a token for `subject`, valid for `ttl_secs` from `issued_at_unix`.
    pub fn sign(
        &self,
        subject: &str,
        issued_at_unix: i64,
        ttl_secs: i64,
        session_version: i64,
    ) -> String {
        let claims = TokenClaims {
            sub: subject.to_owned(),
            iat: issued_at_unix,
            exp: issued_at_unix.saturating_add(ttl_secs),
            ver: session_version,
        };
        let json = match serde_json::to_vec(&claims) {
            Ok(json) => json,
            // Serializing a string and integers into memory cannot fail.
            Err(e) => unreachable!("session claims failed to serialize: {e}"),
        };
        let payload = URL_SAFE_NO_PAD.encode(json);
        let signature = URL_SAFE_NO_PAD.encode(self.mac(&payload));
        format!("{payload}.{signature}")
    }

    /// Checks the signature (constant-time) and then the expiry. The claims
    /// are only parsed once the signature is known to be ours, so nothing in
    /// an attacker-written payload is ever interpreted.
    pub fn verify(&self, token: &str, now_unix: i64) -> Result<TokenClaims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let (payload, signature) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        if signature.len() != SIGNATURE_LEN {
            return Err(TokenError::Malformed);
        }
        ring_hmac::verify(&self.key, &mac_input(payload), &signature)
            .map_err(|_| TokenError::BadSignature)?;
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed)?;
        let claims: TokenClaims =
            serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
        if now_unix >= claims.exp {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    fn mac(&self, payload: &str) -> ring_hmac::Tag {
        ring_hmac::sign(&self.key, &mac_input(payload))
    }
}

fn mac_input(payload: &str) -> Vec<u8> {
    [DOMAIN, payload.as_bytes()].concat()
}

impl fmt::Debug for SessionTokenSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionTokenSigner([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_700_000_000;

    fn signer() -> SessionTokenSigner {
        SessionTokenSigner::new(b"0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn round_trip() {
        let token = signer().sign("user-42", NOW, 3600, 7);
        let claims = signer().verify(&token, NOW + 10).unwrap();
        assert_eq!(
            claims,
            TokenClaims {
                sub: "user-42".into(),
                iat: NOW,
                exp: NOW + 3600,
                ver: 7
            }
        );
    }

    #[test]
    fn format_is_two_unpadded_base64url_parts_with_json_claims() {
        let token = signer().sign("admin", NOW, 60, 1);
        let (payload, signature) = token.split_once('.').unwrap();
        assert!(!token.contains('=') && !token.contains('+') && !token.contains('/'));
        assert_eq!(URL_SAFE_NO_PAD.decode(signature).unwrap().len(), 32);
        let json: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(json["sub"], "admin");
        assert_eq!(json["iat"], NOW);
        assert_eq!(json["exp"], NOW + 60);
        assert_eq!(json["ver"], 1);
    }

    #[test]
    fn subjects_with_special_characters_survive() {
        let sub = "a.b\"c\\d é 🙂";
        let token = signer().sign(sub, NOW, 60, 0);
        assert_eq!(signer().verify(&token, NOW).unwrap().sub, sub);
    }

    #[test]
    fn expiry_is_exclusive() {
        let token = signer().sign("u", NOW, 60, 0);
        assert!(signer().verify(&token, NOW + 59).is_ok());
        assert_eq!(signer().verify(&token, NOW + 60), Err(TokenError::Expired));
        assert_eq!(signer().verify(&token, i64::MAX), Err(TokenError::Expired));
        let instantly_expired = signer().sign("u", NOW, 0, 0);
        assert_eq!(
            signer().verify(&instantly_expired, NOW),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn huge_ttl_saturates() {
        let token = signer().sign("u", NOW, i64::MAX, 0);
        assert_eq!(signer().verify(&token, NOW).unwrap().exp, i64::MAX);
    }

    #[test]
    fn other_secret_is_rejected() {
        let token = signer().sign("u", NOW, 60, 0);
        let other = SessionTokenSigner::new(b"another secret of thirty-two b!!");
        assert_eq!(other.verify(&token, NOW), Err(TokenError::BadSignature));
    }

    #[test]
    fn tampered_payload_is_rejected() {
        let token = signer().sign("user", NOW, 60, 1);
        let (_, signature) = token.split_once('.').unwrap();
        let forged = TokenClaims {
            sub: "admin".into(),
            iat: NOW,
            exp: NOW + 999_999,
            ver: 1,
        };
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let forged_token = format!("{forged_payload}.{signature}");
        assert_eq!(
            signer().verify(&forged_token, NOW),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn tampered_signature_is_rejected() {
        let token = signer().sign("user", NOW, 60, 1);
        let (payload, signature) = token.split_once('.').unwrap();
        let mut raw = URL_SAFE_NO_PAD.decode(signature).unwrap();
        raw[0] ^= 1;
        let bad = format!("{payload}.{}", URL_SAFE_NO_PAD.encode(&raw));
        assert_eq!(signer().verify(&bad, NOW), Err(TokenError::BadSignature));
        let short = format!("{payload}.{}", URL_SAFE_NO_PAD.encode(&raw[..31]));
        assert_eq!(signer().verify(&short, NOW), Err(TokenError::Malformed));
        let empty = format!("{payload}.");
        assert_eq!(signer().verify(&empty, NOW), Err(TokenError::Malformed));
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        let token = signer().sign("user", NOW, 60, 1);
        let overlong = format!("{token}{}", "A".repeat(MAX_TOKEN_LEN));
        let extra_part = format!("{token}.x");
        for bad in ["", "no-dot", ".", "a.b!c", &overlong, &extra_part] {
            assert_eq!(
                signer().verify(bad, NOW),
                Err(TokenError::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn validly_signed_garbage_payload_is_malformed() {
        // Only reachable with the secret, but must still not panic.
        let s = signer();
        for payload in ["!!!", &URL_SAFE_NO_PAD.encode(b"{\"sub\":1}")] {
            let token = format!("{payload}.{}", URL_SAFE_NO_PAD.encode(s.mac(payload)));
            assert_eq!(s.verify(&token, NOW), Err(TokenError::Malformed));
        }
    }

    #[test]
    fn mac_is_domain_separated() {
        let token = signer().sign("u", NOW, 60, 0);
        let (payload, _) = token.split_once('.').unwrap();
        let plain = ring_hmac::sign(&signer().key, payload.as_bytes());
        let undomained = format!("{payload}.{}", URL_SAFE_NO_PAD.encode(plain));
        assert_eq!(
            signer().verify(&undomained, NOW),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn debug_hides_the_secret() {
        assert_eq!(format!("{:?}", signer()), "SessionTokenSigner([REDACTED])");
    }

    proptest! {
        #[test]
        fn verify_never_panics(s in "\\PC{0,300}") {
            let _ = signer().verify(&s, NOW);
        }

        #[test]
        fn round_trip_any_claims(sub in "\\PC{0,40}", iat in -1_000_000i64..2_000_000_000, ttl in 1i64..1_000_000, ver: i64) {
            let claims = signer().verify(&signer().sign(&sub, iat, ttl, ver), iat).unwrap();
            prop_assert_eq!(claims, TokenClaims { sub, iat, exp: iat + ttl, ver });
        }
    }
}
