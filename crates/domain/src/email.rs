//! E-mail addresses for receipts and dashboard accounts.

use crate::error::DomainError;

const MAX_LEN: usize = 254;
const MAX_LOCAL_LEN: usize = 64;
const MAX_LABEL_LEN: usize = 63;

/// A syntactically plausible e-mail address.
///
/// The check is deliberately simpler than RFC 5322 (no quoted local parts,
/// no IP literals): it refuses what mail providers refuse in practice and
/// anything that could smuggle headers (whitespace, control characters).
/// The domain is lower-cased because it is case-insensitive; the local part
/// is kept as typed because, strictly, it is not.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Email, DomainError> {
        let s = input.trim();
        if s.len() > MAX_LEN || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(DomainError::InvalidEmail);
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err(DomainError::InvalidEmail);
        };
        if local.is_empty() || local.len() > MAX_LOCAL_LEN || !is_domain(domain) {
            return Err(DomainError::InvalidEmail);
        }
        Ok(Email(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// At least two labels of `[A-Za-z0-9-]`, none empty, none starting or
/// ending with '-'. Also rejects a second '@', which cannot be in a label.
fn is_domain(domain: &str) -> bool {
    let mut labels = 0;
    for label in domain.split('.') {
        let ok = !label.is_empty()
            && label.len() <= MAX_LABEL_LEN
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return false;
        }
        labels += 1;
    }
    labels >= 2
}

serde_via_str!(Email, as_str);
