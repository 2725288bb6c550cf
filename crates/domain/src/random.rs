//! Randomness and the text encoding used for identifiers.

use ring::rand::{SecureRandom, SystemRandom};

const BASE32_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// `N` bytes from the operating system's CSPRNG.
///
/// # Panics
///
/// If the OS generator fails. Ids and secrets derived from a broken
/// generator would be guessable, so stopping is the only safe reaction; on
/// supported platforms (getrandom) this does not happen after boot.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0_u8; N];
    if SystemRandom::new().fill(&mut buf).is_err() {
        panic!("the operating system random generator failed");
    }
    buf
}

/// RFC 4648 base32 with the lower-case alphabet and no padding: URL-safe,
/// case-insensitive-friendly and free of look-alike characters 0/1/8/9.
pub fn base32_lower(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(base32_len(bytes.len()));
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    for &byte in bytes {
        buffer = ((buffer << 8) | u32::from(byte)) & 0xFFFF;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(symbol(buffer >> bits));
        }
    }
    if bits > 0 {
        out.push(symbol(buffer << (5 - bits)));
    }
    out
}

/// Length of `base32_lower` output for `n` input bytes.
pub const fn base32_len(n: usize) -> usize {
    (n * 8).div_ceil(5)
}

pub(crate) fn is_base32_lower(s: &str) -> bool {
    s.bytes().all(|b| BASE32_ALPHABET.contains(&b))
}

fn symbol(index: u32) -> char {
    char::from(BASE32_ALPHABET[(index & 0x1F) as usize])
}
