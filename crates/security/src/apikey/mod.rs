//! API keys: generation, strict parsing and lookup hashes.
//!
//! A full key looks like `nxp_sk_live_<43 base62 chars>`. The tag says what
//! the key can do (`pk` = read/publishable, may be embedded in browser code;
//! `sk` = write/secret, server side only) and whether it touches real money,
//! so a leaked key is recognisable by secret scanners and by humans.

mod external;
mod kind;

#[cfg(test)]
mod tests;

pub use external::register_external_key;
pub use kind::{KeyKind, KeyMode};

use crate::random::random_base62;
use crate::secret::Secret;
use ring::digest::{digest, SHA256};
use ring::hmac;
use thiserror::Error;

/// Every generated key starts with this, which lets secret scanners find them.
const KEY_PREFIX: &str = "nxp_";
/// 43 base62 characters carry ≈ 256 bits, well above the required 192.
const RANDOM_LEN: usize = 43;
/// Random characters repeated in the visible prefix so operators can tell
/// their keys apart in listings; 6 chars (≈ 36 bits) leave ≈ 220 bits secret.
const VISIBLE_RANDOM_LEN: usize = 6;
/// Anything longer cannot be a key; rejecting it first bounds the work done
/// on attacker-supplied headers before any hashing happens.
const MAX_PRESENTED_LEN: usize = 100;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum KeyError {
    #[error("API key is too long (at most {MAX_PRESENTED_LEN} characters)")]
    TooLong,
    /// The reason is a fixed description; the key itself is never echoed.
    #[error("malformed API key: {0}")]
    Malformed(&'static str),
    #[error("unknown API key kind, expected \"read\" or \"write\"")]
    UnknownKind,
    #[error("unknown API key mode, expected \"test\" or \"live\"")]
    UnknownMode,
    /// An operator-supplied key is too weak; the message says how to fix it.
    #[error("{0}")]
    WeakExternalKey(String),
}

/// A freshly created (or registered) key. `full` is shown to the user once
/// and then forgotten; only `prefix` and `hash` are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedKey {
    pub full: Secret,
    pub prefix: String,
    pub hash: String,
    pub kind: KeyKind,
    pub mode: KeyMode,
}

/// What a well-formed presented key claims to be. The caller still has to
/// look `hash` up in the database: parsing proves the format, not validity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedKey {
    pub kind: KeyKind,
    pub mode: KeyMode,
    pub prefix: String,
    pub hash: String,
}

/// Creates a new random key of the given kind and mode.
pub fn generate_api_key(kind: KeyKind, mode: KeyMode) -> GeneratedKey {
    let header = header(kind, mode);
    let body = random_base62(RANDOM_LEN);
    let prefix = format!("{header}{}", &body[..VISIBLE_RANDOM_LEN]);
    let full = format!("{header}{body}");
    GeneratedKey {
        hash: hash_api_key(&full),
        full: Secret::new(full),
        prefix,
        kind,
        mode,
    }
}

/// Checks that `presented` has exactly the generated format and returns what
/// it claims to be, plus the hash to look it up with.
pub fn parse_api_key(presented: &str) -> Result<ParsedKey, KeyError> {
    if presented.len() > MAX_PRESENTED_LEN {
        return Err(KeyError::TooLong);
    }
    let rest = presented
        .strip_prefix(KEY_PREFIX)
        .ok_or(KeyError::Malformed("expected the nxp_ prefix"))?;
    let (kind, rest) = if let Some(r) = rest.strip_prefix("pk_") {
        (KeyKind::Read, r)
    } else if let Some(r) = rest.strip_prefix("sk_") {
        (KeyKind::Write, r)
    } else {
        return Err(KeyError::Malformed("expected pk_ or sk_ after nxp_"));
    };
    let (mode, body) = if let Some(r) = rest.strip_prefix("test_") {
        (KeyMode::Test, r)
    } else if let Some(r) = rest.strip_prefix("live_") {
        (KeyMode::Live, r)
    } else {
        return Err(KeyError::Malformed(
            "expected test_ or live_ after the kind",
        ));
    };
    if body.len() != RANDOM_LEN {
        return Err(KeyError::Malformed("wrong length of the random part"));
    }
    if !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(KeyError::Malformed("the random part must be base62"));
    }
    Ok(ParsedKey {
        kind,
        mode,
        prefix: format!("{}{}", header(kind, mode), &body[..VISIBLE_RANDOM_LEN]),
        hash: hash_api_key(presented),
    })
}

/// Lower-case hex SHA-256 of a full key, as stored in the database.
///
/// A fast unsalted hash is safe here, unlike for passwords: keys carry at
/// least 192 bits of randomness, so no amount of hashing speed makes guessing
/// feasible and there is no dictionary to precompute. Being deterministic, it
/// lets the database find a key by an indexed equality on the hash instead of
/// running a slow KDF against every stored key; a database leak still does
/// not reveal usable keys.
pub fn hash_api_key(full: &str) -> String {
    hex::encode(digest(&SHA256, full.as_bytes()))
}

/// Compares two byte strings without revealing, through timing, where they
/// first differ. Only the lengths may leak, which are public for our values.
///
/// `ring::constant_time::verify_slices_are_equal` is deprecated in ring 0.17
/// ("to be removed, no promises regarding side channels"); `hmac::verify` is
/// ring's supported constant-time comparison. Both inputs are MACed under a
/// fixed key and the tags compared: equal tags for different inputs would
/// need a SHA-256 collision, so the result is exact.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let key = hmac::Key::new(hmac::HMAC_SHA256, b"nexpay-constant-time-eq");
    let tag_a = hmac::sign(&key, a);
    hmac::verify(&key, b, tag_a.as_ref()).is_ok()
}

/// `nxp_sk_test_` and friends.
fn header(kind: KeyKind, mode: KeyMode) -> String {
    format!("{KEY_PREFIX}{}_{}_", kind.tag(), mode.as_str())
}
