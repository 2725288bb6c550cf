//! Encryption of secrets at rest (provider credentials, webhook secrets)
//! with AES-256-GCM.
//!
//! Sealed format: `v1.<key_id>.<base64url-no-pad(nonce || ciphertext || tag)>`.
//! The version allows a future format change; the key id lets a [`Keyring`]
//! pick the right key after rotation without trial decryption.

mod keyring;

#[cfg(test)]
mod tests;

pub use keyring::Keyring;

use crate::random::random_bytes;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::digest::{digest, SHA256};
use std::fmt;
use thiserror::Error;

const KEY_LEN: usize = 32;
const VERSION: &str = "v1";
const TAG_LEN: usize = 16;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SealError {
    #[error("ENCRYPTION_KEY must be 32 random bytes in base64, e.g. `openssl rand -base64 32`")]
    BadKey,
    /// Sealed with a key that is not configured (any more); carries the id so
    /// the operator can tell which old key to add back as a previous key.
    #[error("value was sealed with unknown encryption key {0}")]
    UnknownKey(String),
    /// Malformed, tampered with, bound to other associated data, or the key
    /// id collides with a different key. Deliberately not more precise.
    #[error("sealed value is invalid or has been tampered with")]
    Invalid,
}

/// An AES-256-GCM key. `Debug` shows only the key id.
#[derive(Clone)]
pub struct SealingKey {
    key: LessSafeKey,
    key_id: String,
}

impl SealingKey {
    /// Parses the `ENCRYPTION_KEY` setting: standard base64 of exactly 32
    /// bytes. Surrounding whitespace is ignored because `openssl rand` output
    /// pasted into files often carries a trailing newline.
    pub fn from_base64(encoded: &str) -> Result<Self, SealError> {
        let bytes = STANDARD
            .decode(encoded.trim())
            .map_err(|_| SealError::BadKey)?;
        Self::from_bytes(&bytes)
    }

    /// Creates a random key and returns it with its base64 form, which is
    /// what the operator has to store.
    pub fn generate() -> (Self, String) {
        let bytes = random_bytes(KEY_LEN);
        match Self::from_bytes(&bytes) {
            Ok(key) => (key, STANDARD.encode(&bytes)),
            // `from_bytes` only rejects lengths other than 32.
            Err(_) => unreachable!("a 32-byte key is always a valid AES-256 key"),
        }
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, SealError> {
        if bytes.len() != KEY_LEN {
            return Err(SealError::BadKey);
        }
        let unbound = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| SealError::BadKey)?;
        Ok(Self {
            key: LessSafeKey::new(unbound),
            key_id: hex::encode(&digest(&SHA256, bytes).as_ref()[..4]),
        })
    }

    /// First 8 hex characters of SHA-256 of the key. Revealing 32 bits of a
    /// hash of a 256-bit random key does not help an attacker, and it lets
    /// sealed values name their key.
    pub fn key_id(&self) -> String {
        self.key_id.clone()
    }

    /// Encrypts `plaintext`, authenticating `aad` too. Pass something that
    /// identifies where the value belongs (e.g. `"provider_credentials:42"`)
    /// so a sealed value copied into another row fails to open.
    ///
    /// The nonce is random: with 96 bits, one key can seal about 2^32 values
    /// before collisions become a concern, far beyond our write volume, and
    /// rotation resets the count anyway.
    ///
    /// # Panics
    /// If `plaintext` exceeds the AES-GCM limit of about 64 GiB.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> String {
        let nonce_bytes = random_bytes(NONCE_LEN);
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&nonce_bytes);

        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
        out.extend_from_slice(&nonce);
        let mut in_out = plaintext.to_vec();
        if self
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut in_out,
            )
            .is_err()
        {
            panic!("plaintext too large for AES-GCM");
        }
        out.extend_from_slice(&in_out);
        format!("{VERSION}.{}.{}", self.key_id, URL_SAFE_NO_PAD.encode(out))
    }

    /// Decrypts a value produced by [`SealingKey::seal`] with the same `aad`.
    pub fn open(&self, sealed: &str, aad: &[u8]) -> Result<Vec<u8>, SealError> {
        let (key_id, payload) = split_sealed(sealed)?;
        if key_id != self.key_id {
            return Err(SealError::UnknownKey(key_id.to_owned()));
        }
        self.open_payload(payload, aad)
    }

    fn open_payload(&self, payload: &str, aad: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut data = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| SealError::Invalid)?;
        if data.len() < NONCE_LEN + TAG_LEN {
            return Err(SealError::Invalid);
        }
        let mut ciphertext = data.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&data).map_err(|_| SealError::Invalid)?;
        let plaintext = self
            .key
            .open_in_place(nonce, Aad::from(aad), &mut ciphertext)
            .map_err(|_| SealError::Invalid)?;
        Ok(plaintext.to_vec())
    }
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealingKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// Splits `v1.<key_id>.<payload>` into key id and payload.
fn split_sealed(sealed: &str) -> Result<(&str, &str), SealError> {
    let mut parts = sealed.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(VERSION), Some(key_id), Some(payload))
            if key_id.len() == 8 && key_id.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Ok((key_id, payload))
        }
        _ => Err(SealError::Invalid),
    }
}

/// Whether an `ENCRYPTION_KEY` value should be refused at startup: it does
/// not decode to 32 bytes, or all its bytes are equal (`AAAA…=` and similar
/// placeholders decode to valid-looking but trivially guessable keys).
pub fn is_weak_encryption_key(encoded: &str) -> bool {
    match STANDARD.decode(encoded.trim()) {
        Ok(bytes) if bytes.len() == KEY_LEN => bytes.iter().all(|&b| b == bytes[0]),
        _ => true,
    }
}
