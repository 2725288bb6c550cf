//! A string that must never end up in logs, error messages or responses.

use serde::Deserialize;
use std::fmt;

/// Wraps secret material (passwords, API keys, provider credentials).
///
/// `Debug` and `Display` print `[REDACTED]`, so a stray `{:?}` in a log line
/// or a derived `Debug` on a config struct cannot leak it. It implements
/// `Deserialize` (to read configuration) but deliberately not `Serialize`: a
/// secret can only be written out through an explicit [`Secret::expose`].
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value; every call site is a place where it may leak, which
    /// the name is meant to make obvious in review.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Constant-time so that comparing a presented secret with a stored one does
/// not reveal through timing how many leading bytes matched. Only the length
/// can leak, which is not secret for any value we handle.
impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        crate::apikey::constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl Eq for Secret {}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_is_redacted() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), "[REDACTED]");
        assert_eq!(format!("{s:?}"), "[REDACTED]");
        #[derive(Debug)]
        #[allow(dead_code)] // the field is only read through Debug
        struct Config {
            password: Secret,
        }
        let shown = format!("{:?}", Config { password: s });
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn expose_returns_the_value() {
        assert_eq!(Secret::new(String::from("abc")).expose(), "abc");
        assert_eq!(Secret::from("x").expose(), "x");
        assert_eq!(Secret::from(String::from("y")).clone().expose(), "y");
    }

    #[test]
    fn equality_compares_contents() {
        assert_eq!(Secret::new("same"), Secret::new("same"));
        assert_ne!(Secret::new("same"), Secret::new("samf"));
        assert_ne!(Secret::new("same"), Secret::new("same-but-longer"));
        assert_ne!(Secret::new(""), Secret::new("a"));
    }

    #[test]
    fn deserializes_transparently_from_a_string() {
        let s: Secret = serde_json::from_str("\"sk-value\"").unwrap();
        assert_eq!(s.expose(), "sk-value");
        assert!(serde_json::from_str::<Secret>("42").is_err());
    }
}
