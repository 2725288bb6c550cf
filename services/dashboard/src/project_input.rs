//! What an admin may send for a project, and its validation. Every problem is reported
//! at once, each with the field it belongs to.

use nexpay_domain::HttpUrl;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::error::{AdminError, AdminResult, FieldIssue};

const MAX_NAME_CHARS: usize = 100;
const SETTINGS_KEYS: &str = "accentColor, logoUrl, locale";
const LOCALES: &[&str] = &["fr", "en"];

/// Body of `POST /projects` and `PATCH /projects/{id}`. For the URLs, an absent field
/// leaves the value alone, `null` (or an empty string) clears it. `settings` replaces
/// the whole settings object.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProjectInput {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub success_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub failure_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub cancel_url: Option<Option<String>>,
    #[serde(default)]
    pub settings: Option<Value>,
}

/// Tells `null` (Some(None)) apart from an absent field (None, via `default`).
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Checked, normalised values ready for the store.
#[derive(Debug, Clone, Default)]
pub(crate) struct ValidProject {
    pub name: Option<String>,
    pub success_url: Option<Option<String>>,
    pub failure_url: Option<Option<String>>,
    pub cancel_url: Option<Option<String>>,
    /// Canonical JSON text.
    pub settings: Option<String>,
}

/// `creating` makes the name mandatory. `require_https` is set in production, where a
/// customer must never be sent back to a merchant over clear HTTP.
pub(crate) fn validate(
    input: &ProjectInput,
    creating: bool,
    require_https: bool,
) -> AdminResult<ValidProject> {
    let mut issues = Vec::new();
    let name = match &input.name {
        Some(name) => check_name(name, &mut issues),
        None if creating => {
            issues.push(FieldIssue::new("name", "is required"));
            None
        }
        None => None,
    };
    let url = |field: &str, value: &Option<Option<String>>, issues: &mut Vec<FieldIssue>| {
        value
            .as_ref()
            .map(|v| check_redirect(field, v.as_deref(), require_https, issues))
    };
    let valid = ValidProject {
        name,
        success_url: url("successUrl", &input.success_url, &mut issues),
        failure_url: url("failureUrl", &input.failure_url, &mut issues),
        cancel_url: url("cancelUrl", &input.cancel_url, &mut issues),
        settings: match &input.settings {
            Some(value) => Some(check_settings(value, &mut issues)),
            None if creating => Some("{}".to_owned()),
            None => None,
        },
    };
    if issues.is_empty() {
        Ok(valid)
    } else {
        Err(AdminError::Validation(issues))
    }
}

fn check_name(name: &str, issues: &mut Vec<FieldIssue>) -> Option<String> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        issues.push(FieldIssue::new(
            "name",
            format!("must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    } else if name.chars().any(char::is_control) {
        issues.push(FieldIssue::new(
            "name",
            "must not contain control characters",
        ));
    }
    Some(name.to_owned())
}

fn check_redirect(
    field: &str,
    value: Option<&str>,
    require_https: bool,
    issues: &mut Vec<FieldIssue>,
) -> Option<String> {
    let value = value.map(str::trim).filter(|v| !v.is_empty())?;
    match HttpUrl::parse(value) {
        Ok(url) if require_https && !url.is_https() => {
            issues.push(FieldIssue::new(field, "must use https in production"));
            None
        }
        Ok(url) => Some(url.as_str().to_owned()),
        Err(e) => {
            issues.push(FieldIssue::new(field, e.to_string()));
            None
        }
    }
}

/// Only known keys with valid values are kept; unknown keys are refused rather than
/// stored, so a typo is reported instead of silently ignored by the checkout page.
fn check_settings(value: &Value, issues: &mut Vec<FieldIssue>) -> String {
    let Some(object) = value.as_object() else {
        issues.push(FieldIssue::new("settings", "must be an object"));
        return "{}".to_owned();
    };
    let mut clean = Map::new();
    for (key, value) in object {
        // `null` removes a setting, which is what a cleared form field sends.
        if value.is_null() {
            continue;
        }
        let field = format!("settings.{}", bounded(key));
        let text = value.as_str().map(str::trim);
        let ok = match (key.as_str(), text) {
            ("accentColor", Some(c)) if is_hex_color(c) => Some(c.to_ascii_lowercase()),
            ("accentColor", _) => fail(issues, &field, "must be a colour like #1a2b3c"),
            ("logoUrl", Some(u)) => match HttpUrl::parse(u) {
                Ok(url) if url.is_https() => Some(url.as_str().to_owned()),
                Ok(_) => fail(issues, &field, "must be an https URL"),
                Err(e) => fail(issues, &field, &e.to_string()),
            },
            ("logoUrl", None) => fail(issues, &field, "must be an https URL"),
            ("locale", Some(l)) if LOCALES.contains(&l) => Some(l.to_owned()),
            ("locale", _) => fail(issues, &field, "must be \"fr\" or \"en\""),
            _ => fail(
                issues,
                &field,
                &format!("unknown setting (allowed: {SETTINGS_KEYS})"),
            ),
        };
        if let Some(v) = ok {
            clean.insert(key.clone(), Value::String(v));
        }
    }
    Value::Object(clean).to_string()
}

fn fail(issues: &mut Vec<FieldIssue>, field: &str, message: &str) -> Option<String> {
    issues.push(FieldIssue::new(field, message));
    None
}

fn is_hex_color(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Unknown keys are echoed in errors: bound them so a hostile body cannot inflate logs.
fn bounded(key: &str) -> String {
    const MAX: usize = 40;
    match key.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &key[..cut]),
        None => key.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(v: Value) -> ProjectInput {
        serde_json::from_value(v).unwrap_or_default()
    }

    #[test]
    fn null_and_absent_are_different() {
        let i = input(json!({"successUrl": null}));
        assert_eq!(i.success_url, Some(None));
        assert_eq!(i.failure_url, None);
    }

    #[test]
    fn settings_are_checked_and_normalised() {
        let ok = validate(
            &input(json!({"settings": {"accentColor": "#AABBCC", "locale": "fr"}})),
            false,
            false,
        );
        let settings = ok.map(|v| v.settings).ok().flatten().unwrap_or_default();
        assert_eq!(settings, r##"{"accentColor":"#aabbcc","locale":"fr"}"##);
        let bad = validate(
            &input(json!({"settings": {"color": "x", "logoUrl": "http://a.example"}})),
            false,
            false,
        );
        let Err(AdminError::Validation(issues)) = bad else {
            panic!("expected validation")
        };
        assert_eq!(issues.len(), 2);
    }

    #[test]
    fn production_requires_https() {
        let i = input(json!({"name": "Shop", "successUrl": "http://shop.example/ok"}));
        assert!(validate(&i, true, false).is_ok());
        assert!(validate(&i, true, true).is_err());
    }
}
