//! Cryptographically secure randomness from the operating system.

use ring::rand::{SecureRandom, SystemRandom};

/// Alphabet of [`random_base62`]: URL-safe, no punctuation, easy to double-click.
pub(crate) const BASE62_ALPHABET: &[u8; 62] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Largest multiple of 62 that fits in a byte (4 × 62). Bytes at or above it
/// are discarded so that `byte % 62` is uniform; keeping them would make the
/// first eight characters of the alphabet slightly more likely.
const BASE62_REJECTION_BOUND: u8 = 248;

/// Fills `buf` from the OS generator.
///
/// # Panics
/// If the operating system cannot provide randomness. Carrying on would mean
/// minting predictable keys, nonces and salts, so stopping is the only safe
/// outcome; on supported platforms this does not happen after boot.
fn fill(buf: &mut [u8]) {
    if SystemRandom::new().fill(buf).is_err() {
        panic!("the operating system random number generator is unavailable");
    }
}

/// Returns `n` random bytes.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    fill(&mut buf);
    buf
}

/// Returns `n_chars` characters drawn uniformly from `[0-9A-Za-z]`
/// (≈ 5.95 bits each).
pub fn random_base62(n_chars: usize) -> String {
    let mut out = String::with_capacity(n_chars);
    // 248/256 of the bytes are kept, so one extra eighth plus a small margin
    // almost always finishes in a single round trip to the OS.
    let mut pool = vec![0u8; n_chars + n_chars / 8 + 8];
    while out.len() < n_chars {
        fill(&mut pool);
        for &byte in pool.iter().filter(|&&b| b < BASE62_REJECTION_BOUND) {
            if out.len() == n_chars {
                break;
            }
            out.push(char::from(BASE62_ALPHABET[usize::from(byte % 62)]));
        }
    }
    out
}

/// Returns `n_bytes` random bytes as lower-case hex (`2 * n_bytes` characters).
pub fn random_hex(n_bytes: usize) -> String {
    hex::encode(random_bytes(n_bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    #[test]
    fn random_bytes_has_requested_length_and_varies() {
        assert!(random_bytes(0).is_empty());
        let a = random_bytes(32);
        let b = random_bytes(32);
        assert_eq!(a.len(), 32);
        assert_ne!(a, b, "two 256-bit draws must differ");
    }

    #[test]
    fn random_hex_is_lower_hex_of_twice_the_length() {
        let h = random_hex(16);
        assert_eq!(h.len(), 32);
        assert!(h
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
        assert_eq!(random_hex(0), "");
    }

    #[test]
    fn base62_uses_only_the_alphabet() {
        let s = random_base62(1000);
        assert_eq!(s.len(), 1000);
        assert!(s.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(random_base62(0), "");
    }

    #[test]
    fn base62_covers_the_whole_alphabet_roughly_uniformly() {
        // 62_000 draws: each symbol is expected 1000 times (σ ≈ 31). A biased
        // modulo would push '0'..'7' about 3% higher; the bounds below are
        // loose enough never to flake yet catch a broken alphabet or mapping.
        let s = random_base62(62_000);
        let mut counts = [0u32; 256];
        for b in s.bytes() {
            counts[usize::from(b)] += 1;
        }
        for &c in BASE62_ALPHABET {
            let n = counts[usize::from(c)];
            assert!(
                (800..1200).contains(&n),
                "symbol {} drawn {n} times",
                c as char
            );
        }
        let distinct: HashSet<u8> = s.bytes().collect();
        assert_eq!(distinct.len(), 62);
    }

    proptest! {
        #[test]
        fn base62_length_is_exact(n in 0usize..300) {
            prop_assert_eq!(random_base62(n).len(), n);
        }
    }
}
