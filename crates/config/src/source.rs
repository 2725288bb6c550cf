use std::collections::HashMap;
use std::str::FromStr;

use crate::ConfigError;

/// Where values come from: the optional file first, overridden by the environment.
#[derive(Debug, Clone, Default)]
pub struct Source {
    values: HashMap<String, String>,
}

impl Source {
    pub fn from_env() -> Result<Source, ConfigError> {
        let mut src = Source::default();
        if let Ok(path) = std::env::var("NEXPAY_CONFIG") {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                ConfigError::invalid("NEXPAY_CONFIG", format!("cannot read {path}: {e}"))
            })?;
            src.merge_file(&text);
        }
        for (k, v) in std::env::vars() {
            src.values.insert(k, v);
        }
        Ok(src)
    }

    /// A source from explicit pairs (tests, embedding).
    pub fn from_pairs<I, K, V>(pairs: I) -> Source
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Source {
            values: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// `KEY=VALUE` lines; `#` comments and blank lines ignored; surrounding quotes removed.
    pub fn merge_file(&mut self, text: &str) {
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some((k, v)) = line.split_once('=') {
                let v = v.trim().trim_matches('"').trim_matches('\'');
                self.values.insert(k.trim().to_owned(), v.to_owned());
            }
        }
    }

    /// A value, with empty strings treated as unset (compose files pass `VAR=` often).
    pub fn get(&self, key: &str) -> Option<String> {
        self.values
            .get(key)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub fn parse_or<T: FromStr>(&self, key: &'static str, default: T) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|e: T::Err| ConfigError::invalid(key, format!("{v:?}: {e}"))),
        }
    }

    pub fn parse_bool_or(&self, key: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(key).map(|v| v.to_lowercase()).as_deref() {
            None => Ok(default),
            Some("1" | "true" | "yes" | "on") => Ok(true),
            Some("0" | "false" | "no" | "off") => Ok(false),
            Some(other) => Err(ConfigError::invalid(
                key,
                format!("{other:?} is not a boolean (true/false)"),
            )),
        }
    }
}
