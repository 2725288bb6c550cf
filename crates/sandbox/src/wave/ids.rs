//! Identifier formats of Wave objects.

use nexpay_security::{random_base62, random_bytes};

const LOWER_ALNUM: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
const UPPER_ALNUM: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
/// Largest multiple of 36 that fits in a byte; larger bytes are rejected for uniformity.
const REJECTION_BOUND: u8 = 252;

fn draw(alphabet: &[u8; 36], n: usize) -> String {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for byte in random_bytes(n + 8) {
            if byte < REJECTION_BOUND && out.len() < n {
                out.push(char::from(alphabet[usize::from(byte % 36)]));
            }
        }
    }
    out
}

/// Checkout session id: `cos-` + 13 characters `[0-9a-z]`.
pub(crate) fn session_id() -> String {
    format!("cos-{}", draw(LOWER_ALNUM, 13))
}

/// Wave transaction id: `T` + 10 characters `[A-Z0-9]` (e.g. `TCN4Y4ZC3FM`).
pub(crate) fn transaction_id() -> String {
    format!("T{}", draw(UPPER_ALNUM, 10))
}

/// Webhook event id: `AE_` + 12 alphanumerics.
pub(crate) fn event_id() -> String {
    format!("AE_{}", random_base62(12))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let id = session_id();
        assert_eq!(id.len(), 17);
        assert!(id[4..]
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()));
        let tx = transaction_id();
        assert_eq!(tx.len(), 11);
        assert!(tx
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()));
        assert!(event_id().starts_with("AE_"));
        assert_eq!(event_id().len(), 15);
    }
}
