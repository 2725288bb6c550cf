//! Phone numbers in E.164 form, the identifier of a mobile money wallet.

use crate::error::DomainError;

const SENEGAL_CODE: &str = "221";
const SENEGAL_NATIONAL_LEN: usize = 9;

/// A phone number normalised to E.164 ("+221771234567").
///
/// Only the digit structure is checked, not numbering plans, except for
/// Senegal (+221) whose national numbers must be exactly 9 digits: Wave and
/// Orange Money refuse anything else and we would rather say so up front.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Accepts "+221 77 123 45 67", "00221771234567", "(+221) 77-123-45-67"
    /// or the Senegalese local form "77 123 45 67" / "33 123 45 67".
    pub fn parse(input: &str) -> Result<PhoneNumber, DomainError> {
        // Whitespace includes U+00A0 and U+202F, which numbers copied from
        // formatted documents frequently contain.
        let compact: String = input
            .chars()
            .filter(|c| !(c.is_whitespace() || matches!(c, '-' | '.' | '(' | ')')))
            .collect();

        let international = if let Some(rest) = compact.strip_prefix('+') {
            rest
        } else if let Some(rest) = compact.strip_prefix("00") {
            rest
        } else if is_senegal_local(&compact) {
            return Ok(PhoneNumber(format!("+{SENEGAL_CODE}{compact}")));
        } else {
            return Err(DomainError::InvalidPhone);
        };

        let valid = (8..=15).contains(&international.len())
            && international.bytes().all(|b| b.is_ascii_digit())
            && !international.starts_with('0')
            && match international.strip_prefix(SENEGAL_CODE) {
                Some(national) => national.len() == SENEGAL_NATIONAL_LEN,
                None => true,
            };
        if valid {
            Ok(PhoneNumber(format!("+{international}")))
        } else {
            Err(DomainError::InvalidPhone)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 9-digit national number for Senegalese numbers, the form local
    /// provider APIs and customers expect; `None` for other countries.
    pub fn national_sn(&self) -> Option<String> {
        self.0
            .strip_prefix('+')
            .and_then(|n| n.strip_prefix(SENEGAL_CODE))
            .map(str::to_owned)
    }
}

/// Senegalese numbers are 9 digits, mobile ones starting with 7 and fixed
/// lines with 3.
fn is_senegal_local(s: &str) -> bool {
    s.len() == SENEGAL_NATIONAL_LEN
        && s.bytes().all(|b| b.is_ascii_digit())
        && matches!(s.as_bytes().first(), Some(b'7' | b'3'))
}

serde_via_str!(PhoneNumber, as_str);
