//! Free-form merchant metadata attached to sessions and payments.
//!
//! Metadata is echoed verbatim in signed webhooks, so the rules below aim at
//! values that every JSON implementation re-serialises byte for byte, and at
//! a size that keeps events and database rows small.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

pub const MAX_KEYS: usize = 50;
pub const MAX_KEY_CHARS: usize = 40;
pub const MAX_STRING_CHARS: usize = 500;
/// Containers are allowed this many levels below the top-level object.
pub const MAX_DEPTH: usize = 2;
pub const MAX_BYTES: usize = 8 * 1024;
/// `Number.MAX_SAFE_INTEGER`: larger integers are silently rounded by
/// JavaScript, which would change the payload and break its signature.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

const ROOT: &str = "metadata";

/// One refused part of an input, addressed by a path like
/// "metadata.items[0].sku".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Validated metadata: a JSON object obeying the limits above.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Metadata(Map<String, Value>);

impl Metadata {
    /// `null` counts as no metadata. Every violation is reported, not just
    /// the first, so a merchant can fix a payload in one go.
    pub fn parse(value: Value) -> Result<Metadata, Vec<FieldError>> {
        let map = match value {
            Value::Null => return Ok(Metadata::empty()),
            Value::Object(map) => map,
            _ => return Err(vec![FieldError::new(ROOT, "must be a JSON object")]),
        };
        let mut errors = Vec::new();
        check_object(&map, ROOT, 0, &mut errors);
        if errors.is_empty() {
            match serde_json::to_vec(&map) {
                Ok(bytes) if bytes.len() <= MAX_BYTES => {}
                Ok(bytes) => errors.push(FieldError::new(
                    ROOT,
                    format!(
                        "is {} bytes once serialised, the limit is {MAX_BYTES}",
                        bytes.len()
                    ),
                )),
                Err(e) => errors.push(FieldError::new(ROOT, e.to_string())),
            }
        }
        if errors.is_empty() {
            Ok(Metadata(map))
        } else {
            Err(errors)
        }
    }

    pub fn empty() -> Metadata {
        Metadata(Map::new())
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    pub fn into_value(self) -> Value {
        Value::Object(self.0)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn check_object(map: &Map<String, Value>, path: &str, depth: usize, errors: &mut Vec<FieldError>) {
    if map.len() > MAX_KEYS {
        errors.push(FieldError::new(
            path,
            format!("has {} keys, the limit is {MAX_KEYS}", map.len()),
        ));
    }
    for (key, value) in map {
        let chars = key.chars().count();
        if chars == 0 || chars > MAX_KEY_CHARS {
            errors.push(FieldError::new(
                path,
                format!(
                    "key {:?} must be 1 to {MAX_KEY_CHARS} characters long",
                    crate::error::echo(key)
                ),
            ));
            continue;
        }
        check_value(value, &format!("{path}.{key}"), depth, errors);
    }
}

/// `depth` is the nesting level of the container holding `value`; the
/// top-level object is level 0.
fn check_value(value: &Value, path: &str, depth: usize, errors: &mut Vec<FieldError>) {
    match value {
        Value::Null | Value::Bool(_) => {}
        Value::String(s) => {
            if s.chars().count() > MAX_STRING_CHARS {
                errors.push(FieldError::new(
                    path,
                    format!("must be at most {MAX_STRING_CHARS} characters long"),
                ));
            }
        }
        Value::Number(n) => {
            let safe = n
                .as_i64()
                .is_some_and(|i| (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&i));
            if !safe {
                errors.push(FieldError::new(
                    path,
                    "must be an integer between -(2^53-1) and 2^53-1; send decimals as strings",
                ));
            }
        }
        Value::Array(_) | Value::Object(_) if depth >= MAX_DEPTH => {
            errors.push(FieldError::new(
                path,
                format!("nesting is limited to {MAX_DEPTH} levels"),
            ));
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_value(item, &format!("{path}[{i}]"), depth + 1, errors);
            }
        }
        Value::Object(map) => check_object(map, path, depth + 1, errors),
    }
}

impl Serialize for Metadata {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Metadata::parse(value).map_err(|errors| {
            let text: Vec<String> = errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect();
            serde::de::Error::custom(text.join("; "))
        })
    }
}
