//! Prefixed random identifiers ("pay_…", "cs_…") and payment references.
//!
//! The prefix tells a human (or a support ticket) what kind of object an id
//! names; the random part makes ids unguessable so that knowing one never
//! grants access to its neighbours.

use crate::error::DomainError;
use crate::random::{base32_len, base32_lower, is_base32_lower, random_bytes};

macro_rules! prefixed_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal, $bytes:literal, $kind:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;
            /// Length of the whole id, prefix included.
            pub const LEN: usize = $prefix.len() + base32_len($bytes);

            pub fn generate() -> Self {
                let random = base32_lower(&random_bytes::<$bytes>());
                $name(format!("{}{random}", $prefix))
            }

            /// Checks prefix, total length and alphabet exactly.
            pub fn parse(s: &str) -> Result<Self, DomainError> {
                match s.strip_prefix($prefix) {
                    Some(random) if s.len() == Self::LEN && is_base32_lower(random) => {
                        Ok($name(s.to_owned()))
                    }
                    _ => Err(DomainError::InvalidId { kind: $kind }),
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        serde_via_str!($name, as_str);
    };
}

prefixed_id!(
    /// A merchant project (one shop or app, with its own keys and providers).
    ProjectId, "proj_", 16, "project id"
);
prefixed_id!(ApiKeyId, "key_", 16, "API key id");
prefixed_id!(
    /// A hosted checkout session. 160 random bits instead of 128: the id in
    /// the checkout URL is the only secret guarding the customer's details
    /// behind the public key, so it gets the extra margin against guessing.
    SessionId, "cs_", 20, "session id"
);
prefixed_id!(PaymentId, "pay_", 16, "payment id");
prefixed_id!(
    /// One provider checkout (Wave, Orange Money…) within a payment.
    AttemptId, "att_", 16, "attempt id"
);
prefixed_id!(EventId, "evt_", 16, "event id");
prefixed_id!(UserId, "usr_", 16, "user id");
prefixed_id!(
    /// A merchant webhook endpoint.
    EndpointId, "we_", 16, "webhook endpoint id"
);
prefixed_id!(
    /// One delivery of an event to a webhook endpoint.
    DeliveryId, "wd_", 16, "webhook delivery id"
);

const REFERENCE_PREFIX: &str = "NEXPAY_TX_";
const REFERENCE_BYTES: usize = 8;

/// The reference sent to providers and shown on customer receipts.
///
/// Upper-case hex rather than base32 because some provider back-offices and
/// SMS receipts upper-case or restrict references to `[A-Z0-9_]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PaymentReference(String);

impl PaymentReference {
    pub const PREFIX: &'static str = REFERENCE_PREFIX;
    pub const LEN: usize = REFERENCE_PREFIX.len() + 2 * REFERENCE_BYTES;

    pub fn generate() -> Self {
        let random = hex::encode_upper(random_bytes::<REFERENCE_BYTES>());
        PaymentReference(format!("{REFERENCE_PREFIX}{random}"))
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s.strip_prefix(REFERENCE_PREFIX) {
            Some(random)
                if s.len() == Self::LEN
                    && random
                        .bytes()
                        .all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F')) =>
            {
                Ok(PaymentReference(s.to_owned()))
            }
            _ => Err(DomainError::InvalidId {
                kind: "payment reference",
            }),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl AsRef<str> for PaymentReference {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

serde_via_str!(PaymentReference, as_str);
