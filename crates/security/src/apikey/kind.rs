//! What a key may do (kind) and which environment it touches (mode).

use super::KeyError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// `Read` keys are publishable (they may sit in browser code and can only
/// start checkouts); `Write` keys are secret and stay on the merchant server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    Read,
    Write,
}

/// `Test` keys only reach provider sandboxes; `Live` keys move real money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyMode {
    Test,
    Live,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }

    /// Accepts `read`/`write` in any letter case (values come from config
    /// files and database columns as well as from our own `as_str`).
    pub fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("read") {
            Some(Self::Read)
        } else if s.eq_ignore_ascii_case("write") {
            Some(Self::Write)
        } else {
            None
        }
    }

    /// Tag inside the key text, following the publishable/secret convention
    /// that payment developers already know.
    pub(crate) fn tag(self) -> &'static str {
        match self {
            Self::Read => "pk",
            Self::Write => "sk",
        }
    }
}

impl KeyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Test => "test",
            Self::Live => "live",
        }
    }

    /// Accepts `test`/`live` in any letter case.
    pub fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("test") {
            Some(Self::Test)
        } else if s.eq_ignore_ascii_case("live") {
            Some(Self::Live)
        } else {
            None
        }
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for KeyMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyKind {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or(KeyError::UnknownKind)
    }
}

impl FromStr for KeyMode {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or(KeyError::UnknownMode)
    }
}
