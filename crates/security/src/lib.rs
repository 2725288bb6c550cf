//! Cryptographic building blocks of NexPay: randomness, API keys, password
//! hashing, sealing of secrets at rest, HMAC webhook signatures and admin
//! session tokens.
//!
//! Every primitive comes from `ring` or `argon2`; this crate only fixes the
//! formats and parameters so that the rest of the workspace cannot pick weak
//! ones by accident.

#![forbid(unsafe_code)]

pub mod apikey;
pub mod hmac;
pub mod password;
pub mod random;
pub mod seal;
pub mod secret;
pub mod token;

pub use apikey::{
    constant_time_eq, generate_api_key, hash_api_key, parse_api_key, register_external_key,
    GeneratedKey, KeyError, KeyKind, KeyMode, ParsedKey,
};
pub use hmac::{
    hmac_sha256, hmac_sha256_base64, hmac_sha256_hex, verify_hmac_sha256, verify_hmac_sha256_hex,
};
pub use password::{check_password_strength, hash_password, verify_password, PasswordError};
pub use random::{random_base62, random_bytes, random_hex};
pub use seal::{is_weak_encryption_key, Keyring, SealError, SealingKey};
pub use secret::Secret;
pub use token::{SessionTokenSigner, TokenClaims, TokenError};
