//! Several sealing keys for rotation: new values use the current key, old
//! values stay readable with the previous ones until they are re-sealed.

use super::{split_sealed, SealError, SealingKey};

#[derive(Debug, Clone)]
pub struct Keyring {
    pub current: SealingKey,
    pub previous: Vec<SealingKey>,
}

impl Keyring {
    pub fn new(current: SealingKey, previous: Vec<SealingKey>) -> Self {
        Self { current, previous }
    }

    /// Seals with the current key.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> String {
        self.current.seal(plaintext, aad)
    }

    /// Opens with whichever configured key the sealed value names.
    pub fn open(&self, sealed: &str, aad: &[u8]) -> Result<Vec<u8>, SealError> {
        let (key_id, payload) = split_sealed(sealed)?;
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.key_id == key_id)
            .ok_or_else(|| SealError::UnknownKey(key_id.to_owned()))?;
        key.open_payload(payload, aad)
    }

    /// Whether `sealed` was made with an older key and should be re-sealed
    /// (open, then seal again) so the previous key can eventually be retired.
    pub fn needs_reseal(&self, sealed: &str) -> bool {
        !matches!(split_sealed(sealed), Ok((id, _)) if id == self.current.key_id)
    }
}
