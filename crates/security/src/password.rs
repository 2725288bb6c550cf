//! Password hashing (argon2id) and the strength policy for operator and
//! merchant passwords.

use crate::random::random_bytes;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use thiserror::Error;

/// OWASP minimum for argon2id: 19 MiB, 2 passes, 1 lane. Stored in every PHC
/// string, so raising them later only affects new hashes.
const M_COST_KIB: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;
const SALT_LEN: usize = 16;

const MIN_LEN: usize = 12;
/// From this length on, length alone gives enough entropy (passphrases).
const PASSPHRASE_LEN: usize = 20;
const MIN_CLASSES: usize = 3;

/// Defaults from docs, sample configs and the usual top lists. Matched as
/// case-insensitive substrings, so `Password2024!` is rejected too.
const COMMON: &[&str] = &[
    "change-me-please",
    "changeme",
    "change-me",
    "password",
    "passw0rd",
    "admin123",
    "nexpay",
    "qwerty",
    "azerty",
    "123456",
    "letmein",
    "welcome",
    "default",
];

/// Spelled out in every strength error, so the user knows what to change
/// without having to guess from a single failed rule.
const REQUIREMENT: &str = "use at least 12 characters mixing at least 3 of lowercase letters, \
uppercase letters, digits and symbols, or a passphrase of at least 20 characters; \
common words such as \"password\" or \"changeme\" are only allowed in passphrases";

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PasswordError {
    #[error("password is too short ({0} characters); {REQUIREMENT}")]
    TooShort(usize),
    #[error("password uses only {0} kind(s) of characters; {REQUIREMENT}")]
    TooSimple(usize),
    #[error("password contains the common value \"{0}\"; {REQUIREMENT}")]
    Common(&'static str),
    /// Only when argon2 rejects its own inputs, which the fixed parameters
    /// above should make impossible.
    #[error("password hashing failed: {0}")]
    Hash(String),
}

fn argon2() -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None)
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes `password` with argon2id and a fresh random salt, returning a PHC
/// string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`).
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    // The salt comes from our own generator so that the `rand_core` feature
    // of password-hash is not needed.
    let salt = SaltString::encode_b64(&random_bytes(SALT_LEN))
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches the PHC string `phc`. A malformed or
/// unsupported hash yields `false`, so a corrupted row locks the account
/// instead of crashing or letting anyone in. The comparison inside argon2 is
/// constant-time, and the parameters come from the PHC string, so hashes made
/// with older costs keep verifying.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Applies the password policy: at least 12 characters; below 20 characters
/// also at least 3 of the classes lowercase/uppercase/digit/other and none of
/// the common values as a substring. Errors spell out the full requirement.
pub fn check_password_strength(password: &str) -> Result<(), PasswordError> {
    let len = password.chars().count();
    if len < MIN_LEN {
        return Err(PasswordError::TooShort(len));
    }
    if len >= PASSPHRASE_LEN {
        return Ok(());
    }
    let lower = password.to_lowercase();
    if let Some(common) = COMMON.iter().find(|c| lower.contains(*c)) {
        return Err(PasswordError::Common(common));
    }
    let classes = character_classes(password);
    if classes < MIN_CLASSES {
        return Err(PasswordError::TooSimple(classes));
    }
    Ok(())
}

/// Number of classes among lowercase, uppercase, digits and everything else.
fn character_classes(password: &str) -> usize {
    let has = |pred: fn(char) -> bool| password.chars().any(pred);
    [
        has(char::is_lowercase),
        has(char::is_uppercase),
        has(char::is_numeric),
        has(|c| !c.is_lowercase() && !c.is_uppercase() && !c.is_numeric()),
    ]
    .into_iter()
    .filter(|&present| present)
    .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_argon2id_phc_with_owasp_parameters() {
        let phc = hash_password("correct horse battery staple").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_password("correct horse battery staple", &phc));
    }

    #[test]
    fn salts_are_random() {
        let a = hash_password("same password").unwrap();
        let b = hash_password("same password").unwrap();
        assert_ne!(a, b);
        assert!(verify_password("same password", &a));
        assert!(verify_password("same password", &b));
    }

    #[test]
    fn wrong_password_is_rejected() {
        let phc = hash_password("Tr0ub4dor&3xyz").unwrap();
        assert!(!verify_password("Tr0ub4dor&3xyZ", &phc));
        assert!(!verify_password("", &phc));
    }

    #[test]
    fn empty_and_unicode_passwords_hash() {
        let phc = hash_password("").unwrap();
        assert!(verify_password("", &phc));
        let phc = hash_password("mot de passe sûr — ✓").unwrap();
        assert!(verify_password("mot de passe sûr — ✓", &phc));
    }

    #[test]
    fn malformed_hashes_verify_false_without_panicking() {
        let phc = hash_password("Another-Pass-123").unwrap();
        let truncated = &phc[..phc.len() - 5];
        let other_algo = phc.replace("argon2id", "scrypt");
        for bad in [
            "",
            "not a hash",
            "$argon2id$",
            "$argon2id$v=19$m=19456,t=2,p=1$$",
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            truncated,
            other_algo.as_str(),
        ] {
            assert!(!verify_password("Another-Pass-123", bad), "{bad:?}");
        }
    }

    #[test]
    fn strong_passwords_pass() {
        for ok in [
            "Abcdefghij1k",
            "abcdefgh12!x",
            "ABCDEFGH12!X",
            "all lowercase passphrase ok",
            "changemechangemechangeme",
            "Ünïcödé-Pässwört9",
        ] {
            assert_eq!(check_password_strength(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn short_passwords_fail_with_the_requirement() {
        let err = check_password_strength("Ab1!Ab1!Ab1").unwrap_err();
        assert_eq!(err, PasswordError::TooShort(11));
        let message = err.to_string();
        assert!(message.contains("at least 12 characters"), "{message}");
        assert!(message.contains("20 characters"), "{message}");
        assert_eq!(check_password_strength(""), Err(PasswordError::TooShort(0)));
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert_eq!(
            check_password_strength("éééééééééé1"),
            Err(PasswordError::TooShort(11))
        );
    }

    #[test]
    fn simple_passwords_fail() {
        assert_eq!(
            check_password_strength("abcdefghijkl"),
            Err(PasswordError::TooSimple(1))
        );
        assert_eq!(
            check_password_strength("abcdefgh1234"),
            Err(PasswordError::TooSimple(2))
        );
        assert_eq!(
            check_password_strength("1234567890123456789"),
            Err(PasswordError::Common("123456"))
        );
    }

    #[test]
    fn common_values_fail_case_insensitively() {
        for (bad, word) in [
            ("ChangeMe-2024!", "changeme"),
            ("MyPassword-99", "password"),
            ("ADMIN123-xyz!", "admin123"),
            ("NexPay-Admin-1", "nexpay"),
            ("Change-Me-Please1", "change-me-please"),
        ] {
            let err = check_password_strength(bad).unwrap_err();
            assert_eq!(err, PasswordError::Common(word), "{bad}");
            assert!(err.to_string().contains(word));
        }
    }

    #[test]
    fn character_classes_are_counted() {
        assert_eq!(character_classes(""), 0);
        assert_eq!(character_classes("aA"), 2);
        assert_eq!(character_classes("aA1"), 3);
        assert_eq!(character_classes("aA1 "), 4);
    }
}
