//! Merchant webhook endpoints: where NexPay sends the payment events of a project, their
//! deliveries and attempts, and the notifications NexPay leaves for admins.
//!
//! An endpoint belongs to one project and one mode: events of test payments go only to
//! the project's `test` endpoints, events of live payments only to its `live` ones.
//!
//! Each endpoint has a signing secret, sealed with `WEBHOOK_SECRETS_KEY` (AES-256-GCM,
//! bound to the endpoint id, see [`secret_aad`]) by this process, which must therefore
//! hold the key; only webhook-dispatcher opens it, to sign deliveries. The secret is
//! returned once, by [`create_endpoint`] and [`rotate_secret`]; every other answer shows
//! `configured` and its last four characters.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDateTime, Utc};
use nexpay_config::Config;
use nexpay_security::{Keyring, SealingKey, Secret};
use nexpay_store::{
    AdminNotificationRow, EndpointUpdate, SecretRotation, Store, WebhookAttemptRow,
    WebhookDeliveryRow, WebhookEndpointRow, DELIVERY_FAILED, DELIVERY_PENDING, DELIVERY_SUCCEEDED,
};
use nexpay_webhook_signing::policy::check_endpoint_url;
use nexpay_webhook_signing::{generate_secret, secret_aad};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};

use crate::error::Issues;
use crate::error::{AdminError, AdminResult};
use crate::{audit, projects, reviews, utc};

/// The event types an endpoint may subscribe to, one per payment status.
pub const EVENT_TYPES: &[&str] = &[
    "payment.succeeded",
    "payment.failed",
    "payment.pending",
    "payment.cancelled",
    "payment.expired",
];
/// The header carrying the legacy signature, unless the admin names another.
pub const DEFAULT_HEADER_NAME: &str = "x-webhook-secret";
/// Headers the delivery sets itself (or that would break the request or leak
/// credentials): never the legacy signature header.
pub const RESERVED_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "host",
    "user-agent",
    "authorization",
    "cookie",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];
pub const MAX_HEADER_NAME_LEN: usize = 64;
/// A secret the admin gives: printable ASCII without spaces, this many characters.
pub const MIN_SECRET_LEN: usize = 20;
pub const MAX_SECRET_LEN: usize = 200;
pub const MAX_DESCRIPTION_LEN: usize = 200;
/// The longest grace period of a rotation: a week.
pub const MAX_GRACE_HOURS: i64 = 168;
/// `whe_` + this many base62 characters.
const ENDPOINT_ID_LEN: usize = 24;
const MODES: &[&str] = &["live", "test"];
const STATUSES: &[&str] = &[DELIVERY_PENDING, DELIVERY_SUCCEEDED, DELIVERY_FAILED];

/// Why an endpoint cannot be created or its secret rotated in this process.
pub const NO_KEY_MESSAGE: &str =
    "WEBHOOK_SECRETS_KEY is not set in this process (the dashboard and webhook-dispatcher hold it)";

// ------------------------------------------------------------------------------- views

/// `{"configured": true, "last4": "…"}`: all an answer ever says about a secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretSummary {
    pub configured: bool,
    pub last4: String,
}

/// An endpoint as the API shows it: never its secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointView {
    pub id: String,
    pub project_id: String,
    /// `live` or `test`.
    pub mode: String,
    pub url: String,
    /// The header carrying the legacy signature (lower case).
    pub header_name: String,
    /// The event types sent to it; empty means all of them.
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub description: Option<String>,
    /// Why NexPay disabled it (a `410 Gone`, failures for too long), if it did.
    pub disabled_reason: Option<String>,
    /// Since when its deliveries have been failing without a success in between.
    pub failing_since: Option<DateTime<Utc>>,
    pub secret: SecretSummary,
    /// Until when the secret replaced by the last rotation stays valid.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<WebhookEndpointRow> for EndpointView {
    fn from(r: WebhookEndpointRow) -> Self {
        let previous_secret_expires_at = r
            .previous_sealed_secret
            .as_ref()
            .and(r.previous_secret_expires_at)
            .map(utc);
        EndpointView {
            event_types: parse_event_types(&r.event_types),
            secret: SecretSummary {
                configured: true,
                last4: r.secret_last4,
            },
            id: r.id,
            project_id: r.project_id,
            mode: r.mode,
            url: r.url,
            header_name: r.header_name,
            enabled: r.enabled,
            description: r.description,
            disabled_reason: r.disabled_reason,
            failing_since: r.failing_since.map(utc),
            previous_secret_expires_at,
            created_at: utc(r.created_at),
            updated_at: utc(r.updated_at),
        }
    }
}

/// Only our own code writes the list; anything else would be a corrupted row, shown as
/// "every type" rather than failing the whole listing.
fn parse_event_types(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

/// An endpoint just created or given a new secret, and that secret: the only value
/// that ever carries it. `Secret` prints as `[REDACTED]`; [`Secret::expose`] it once
/// to show it to the admin.
#[derive(Debug, Clone)]
pub struct EndpointWithSecret {
    pub endpoint: EndpointView,
    pub signing_secret: Secret,
}

/// One event for one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    pub id: String,
    pub endpoint_id: String,
    pub project_id: String,
    pub event_id: String,
    pub event_type: String,
    /// The payment's reference.
    pub reference: String,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<&WebhookDeliveryRow> for DeliveryView {
    fn from(r: &WebhookDeliveryRow) -> Self {
        DeliveryView {
            id: r.id.clone(),
            endpoint_id: r.endpoint_id.clone(),
            project_id: r.project_id.clone(),
            event_id: r.event_id.clone(),
            event_type: r.event_type.clone(),
            reference: r.aggregate_id.clone(),
            status: r.status.clone(),
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at.map(utc),
            last_status_code: r.last_status_code,
            last_error: r.last_error.clone(),
            created_at: utc(r.created_at),
            updated_at: utc(r.updated_at),
            delivered_at: r.delivered_at.map(utc),
        }
    }
}

/// One try of a delivery.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    pub number: i32,
    pub attempted_at: DateTime<Utc>,
    pub duration_ms: i32,
    pub status_code: Option<i32>,
    /// The first bytes of the receiver's answer.
    pub response_snippet: Option<String>,
    pub error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

impl From<WebhookAttemptRow> for AttemptView {
    fn from(a: WebhookAttemptRow) -> Self {
        AttemptView {
            number: a.number,
            attempted_at: utc(a.attempted_at),
            duration_ms: a.duration_ms,
            status_code: a.status_code,
            response_snippet: a.response_snippet,
            error: a.error,
            next_attempt_at: a.next_attempt_at.map(utc),
        }
    }
}

/// A delivery with the exact body sent and every attempt, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: DeliveryView,
    /// The JSON text signed and sent, byte for byte.
    pub body: String,
    pub attempts: Vec<AttemptView>,
}

/// Something NexPay tells the admins (an endpoint it disabled, for instance).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationView {
    pub id: String,
    pub kind: String,
    pub subject_id: Option<String>,
    pub message: String,
    pub detail: Value,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

impl From<AdminNotificationRow> for NotificationView {
    fn from(n: AdminNotificationRow) -> Self {
        NotificationView {
            detail: serde_json::from_str::<Value>(&n.detail)
                .ok()
                .filter(Value::is_object)
                .unwrap_or_else(|| json!({})),
            id: n.id,
            kind: n.kind,
            subject_id: n.subject_id,
            message: n.message,
            created_at: utc(n.created_at),
            read_at: n.read_at.map(utc),
        }
    }
}

// ------------------------------------------------------------------------------ inputs

/// Body of `POST /projects/{id}/webhooks`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateEndpointInput {
    #[serde(default)]
    pub url: Option<String>,
    /// `live` (default) or `test`.
    #[serde(default)]
    pub mode: Option<String>,
    /// Default `x-webhook-secret`.
    #[serde(default)]
    pub header_name: Option<String>,
    /// Absent or empty: NexPay generates one (`whsec_…`).
    #[serde(default)]
    pub secret: Option<Secret>,
    /// Absent or empty: every event type.
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    /// Default true.
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub description: Option<String>,
}

/// Body of `PATCH /projects/{id}/webhooks/{wid}`: absent fields stay as they are;
/// `description: null` (or empty) clears it, `eventTypes: []` means every type.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateEndpointInput {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub header_name: Option<String>,
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    pub description: Option<Option<String>>,
}

/// Body of `POST /projects/{id}/webhooks/{wid}/rotate-secret`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotateSecretInput {
    /// Absent or empty: NexPay generates one.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// How long the replaced secret stays valid, 0..=168 hours (default
    /// `WEBHOOK_SECRET_GRACE`). 0 ends it at once.
    #[serde(default)]
    pub grace_hours: Option<i64>,
}

/// Tells `null` (Some(None)) apart from an absent field (None, via `default`).
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

// -------------------------------------------------------------------------- validation

impl Issues {
    fn url(&mut self, value: &str, allow_private: bool) -> Option<String> {
        let value = value.trim();
        if value.is_empty() {
            self.add("url", "is required");
            return None;
        }
        match check_endpoint_url(value, allow_private) {
            Ok(url) => Some(url.to_string()),
            Err(refused) => {
                self.add("url", refused.to_string());
                None
            }
        }
    }

    fn mode(&mut self, value: Option<&str>) -> Option<String> {
        match value.map(str::trim) {
            None | Some("") => Some("live".to_owned()),
            Some(m) if MODES.contains(&m) => Some(m.to_owned()),
            Some(_) => {
                self.add("mode", "must be live or test");
                None
            }
        }
    }

    /// A valid HTTP header name (RFC 9110 token), lower-cased.
    fn header_name(&mut self, value: &str) -> Option<String> {
        let name = value.trim().to_ascii_lowercase();
        if name.is_empty() {
            self.add("headerName", "must not be empty");
            None
        } else if name.len() > MAX_HEADER_NAME_LEN {
            self.add(
                "headerName",
                format!("must be at most {MAX_HEADER_NAME_LEN} characters"),
            );
            None
        } else if !name.bytes().all(is_token_char) {
            self.add(
                "headerName",
                "must be a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~)",
            );
            None
        } else if RESERVED_HEADERS.contains(&name.as_str()) {
            self.add(
                "headerName",
                format!(
                    "must not be one of the headers NexPay sets itself ({})",
                    RESERVED_HEADERS.join(", ")
                ),
            );
            None
        } else {
            Some(name)
        }
    }

    /// A given secret, or a generated one when absent or empty.
    fn endpoint_secret(&mut self, value: Option<&Secret>) -> Option<Secret> {
        let Some(given) = value.map(Secret::expose).filter(|s| !s.is_empty()) else {
            return Some(Secret::new(generate_secret()));
        };
        let len = given.chars().count();
        if !given.chars().all(|c| c.is_ascii_graphic()) {
            self.add(
                "secret",
                "must be printable ASCII characters without spaces",
            );
            None
        } else if !(MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&len) {
            self.add(
                "secret",
                format!("must be {MIN_SECRET_LEN} to {MAX_SECRET_LEN} characters long"),
            );
            None
        } else {
            Some(Secret::new(given))
        }
    }

    /// The JSON array to store: `[]` for every type.
    fn event_types(&mut self, value: Option<&[String]>) -> Option<String> {
        let value = value.unwrap_or_default();
        let mut seen = HashSet::new();
        let mut ok = true;
        let mut types = Vec::with_capacity(value.len());
        for t in value {
            let t = t.trim();
            if !EVENT_TYPES.contains(&t) {
                self.add(
                    "eventTypes",
                    format!(
                        "{t:?} is not an event type (expected {})",
                        EVENT_TYPES.join(", ")
                    ),
                );
                ok = false;
            } else if !seen.insert(t) {
                self.add("eventTypes", format!("{t:?} is listed twice"));
                ok = false;
            } else {
                types.push(t);
            }
        }
        ok.then(|| json!(types).to_string())
    }

    /// Trimmed; empty means none.
    fn description(&mut self, value: Option<&str>) -> Option<Option<String>> {
        let Some(d) = value.map(str::trim).filter(|d| !d.is_empty()) else {
            return Some(None);
        };
        if d.chars().count() > MAX_DESCRIPTION_LEN {
            self.add(
                "description",
                format!("must be at most {MAX_DESCRIPTION_LEN} characters"),
            );
            None
        } else if d.chars().any(char::is_control) {
            self.add("description", "must not contain control characters");
            None
        } else {
            Some(Some(d.to_owned()))
        }
    }

    fn grace_hours(&mut self, value: Option<i64>, default: std::time::Duration) -> i64 {
        match value {
            None => {
                let secs = i64::try_from(default.as_secs()).unwrap_or(i64::MAX);
                secs.min(MAX_GRACE_HOURS * 3600)
            }
            Some(h) if (0..=MAX_GRACE_HOURS).contains(&h) => h * 3600,
            Some(_) => {
                self.add(
                    "graceHours",
                    format!("must be between 0 and {MAX_GRACE_HOURS}"),
                );
                0
            }
        }
    }
}

/// RFC 9110 `tchar`.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

// ------------------------------------------------------------------------------ sealing

/// The keyring of `WEBHOOK_SECRETS_KEY`, which this process must hold to create an
/// endpoint or rotate its secret.
fn keyring(config: &Config) -> AdminResult<Keyring> {
    let Some(encoded) = &config.webhook_secrets_key else {
        return Err(AdminError::Internal(NO_KEY_MESSAGE.to_owned()));
    };
    let key = SealingKey::from_base64(encoded.expose())
        .map_err(|e| AdminError::Internal(format!("WEBHOOK_SECRETS_KEY: {e}")))?;
    Ok(Keyring::new(key, Vec::new()))
}

/// Seals `secret` for endpoint `id`; returns the sealed value and its last four
/// characters.
fn seal(keyring: &Keyring, id: &str, secret: &Secret) -> (String, String) {
    let value = secret.expose();
    let sealed = keyring.seal(value.as_bytes(), &secret_aad(id));
    let chars: Vec<char> = value.chars().collect();
    let last4 = chars[chars.len().saturating_sub(4)..].iter().collect();
    (sealed, last4)
}

// ----------------------------------------------------------------------------- actions

/// The endpoint `endpoint_id` of `project_id`; 404 when it is another project's, or
/// deleted.
async fn find_endpoint(
    store: &Store,
    project_id: &str,
    endpoint_id: &str,
) -> AdminResult<WebhookEndpointRow> {
    store
        .get_webhook_endpoint(endpoint_id)
        .await?
        .filter(|e| e.project_id == project_id)
        .ok_or(AdminError::NotFound("webhook endpoint"))
}

pub async fn list_endpoints(store: &Store, project_id: &str) -> AdminResult<Vec<EndpointView>> {
    projects::find(store, project_id).await?;
    Ok(store
        .list_webhook_endpoints(project_id)
        .await?
        .into_iter()
        .map(EndpointView::from)
        .collect())
}

pub async fn get_endpoint(
    store: &Store,
    project_id: &str,
    endpoint_id: &str,
) -> AdminResult<EndpointView> {
    Ok(find_endpoint(store, project_id, endpoint_id).await?.into())
}

/// Validates and stores a new endpoint of an active project; its secret (given or
/// generated) is returned this once.
pub async fn create_endpoint(
    store: &Store,
    config: &Config,
    actor: &str,
    project_id: &str,
    input: &CreateEndpointInput,
) -> AdminResult<EndpointWithSecret> {
    projects::find_active(store, project_id).await?;
    let mut issues = Issues::default();
    let url = match input.url.as_deref() {
        Some(u) => issues.url(u, config.webhooks.allow_private_urls),
        None => {
            issues.add("url", "is required");
            None
        }
    };
    let mode = issues.mode(input.mode.as_deref());
    let header_name = match input.header_name.as_deref().map(str::trim) {
        None | Some("") => Some(DEFAULT_HEADER_NAME.to_owned()),
        Some(h) => issues.header_name(h),
    };
    let secret = issues.endpoint_secret(input.secret.as_ref());
    let event_types = issues.event_types(input.event_types.as_deref());
    let description = issues.description(input.description.as_deref());
    issues.finish()?;
    let (
        Some(url),
        Some(mode),
        Some(header_name),
        Some(secret),
        Some(event_types),
        Some(description),
    ) = (url, mode, header_name, secret, event_types, description)
    else {
        return Err(AdminError::Internal("validated fields missing".into()));
    };
    let keyring = keyring(config)?;
    let id = format!("whe_{}", nexpay_security::random_base62(ENDPOINT_ID_LEN));
    let (sealed_secret, secret_last4) = seal(&keyring, &id, &secret);
    let at = nexpay_store::now();
    let row = WebhookEndpointRow {
        header_name,
        event_types,
        enabled: input.enabled.unwrap_or(true),
        description,
        ..WebhookEndpointRow::new(id, project_id, &mode, &url, sealed_secret, secret_last4, at)
    };
    store.insert_webhook_endpoint(&row).await?;
    let generated = input.secret.as_ref().is_none_or(|s| s.expose().is_empty());
    let detail = json!({
        "projectId": row.project_id,
        "mode": row.mode,
        "url": row.url,
        "headerName": row.header_name,
        "eventTypes": parse_event_types(&row.event_types),
        "enabled": row.enabled,
        "generatedSecret": generated,
    });
    audit::record(
        store,
        actor,
        "webhook_endpoint.create",
        Some(&row.id),
        detail,
    )
    .await;
    Ok(EndpointWithSecret {
        endpoint: row.into(),
        signing_secret: secret,
    })
}

/// Changes what `input` gives. Enabling an endpoint NexPay disabled clears its failure
/// record, so it gets its full retry period again.
pub async fn update_endpoint(
    store: &Store,
    config: &Config,
    actor: &str,
    project_id: &str,
    endpoint_id: &str,
    input: &UpdateEndpointInput,
) -> AdminResult<EndpointView> {
    find_endpoint(store, project_id, endpoint_id).await?;
    let mut issues = Issues::default();
    let url = input
        .url
        .as_deref()
        .map(|u| issues.url(u, config.webhooks.allow_private_urls));
    let header_name = input.header_name.as_deref().map(|h| issues.header_name(h));
    let event_types = input
        .event_types
        .as_deref()
        .map(|t| issues.event_types(Some(t)));
    let description = input
        .description
        .as_ref()
        .map(|d| issues.description(d.as_deref()));
    issues.finish()?;
    let update = EndpointUpdate {
        url: url.flatten(),
        header_name: header_name.flatten(),
        event_types: event_types.flatten(),
        enabled: input.enabled,
        description: description.flatten(),
    };
    let changed: Vec<&str> = [
        ("url", update.url.is_some()),
        ("headerName", update.header_name.is_some()),
        ("eventTypes", update.event_types.is_some()),
        ("enabled", update.enabled.is_some()),
        ("description", update.description.is_some()),
    ]
    .into_iter()
    .filter_map(|(field, set)| set.then_some(field))
    .collect();
    if changed.is_empty() {
        return Err(AdminError::BadRequest(
            "nothing to change: give at least one of url, headerName, eventTypes, enabled, description".into(),
        ));
    }
    if !store.update_webhook_endpoint(endpoint_id, &update).await? {
        return Err(AdminError::NotFound("webhook endpoint"));
    }
    audit::record(
        store,
        actor,
        "webhook_endpoint.update",
        Some(endpoint_id),
        json!({
            "projectId": project_id,
            "fields": changed,
            "url": update.url,
            "enabled": update.enabled,
        }),
    )
    .await;
    get_endpoint(store, project_id, endpoint_id).await
}

/// Deletes the endpoint; what it still had to deliver is failed. Its deliveries stay
/// readable.
pub async fn delete_endpoint(
    store: &Store,
    actor: &str,
    project_id: &str,
    endpoint_id: &str,
) -> AdminResult<()> {
    let endpoint = find_endpoint(store, project_id, endpoint_id).await?;
    if !store.delete_webhook_endpoint(endpoint_id).await? {
        return Err(AdminError::NotFound("webhook endpoint"));
    }
    audit::record(
        store,
        actor,
        "webhook_endpoint.delete",
        Some(endpoint_id),
        json!({ "projectId": project_id, "mode": endpoint.mode, "url": endpoint.url }),
    )
    .await;
    Ok(())
}

/// Gives the endpoint a new secret (given or generated), returned this once. The
/// replaced one keeps signing for `graceHours` (so receivers can switch without losing
/// deliveries), or stops at once with 0.
pub async fn rotate_secret(
    store: &Store,
    config: &Config,
    actor: &str,
    project_id: &str,
    endpoint_id: &str,
    input: &RotateSecretInput,
) -> AdminResult<EndpointWithSecret> {
    let endpoint = find_endpoint(store, project_id, endpoint_id).await?;
    let mut issues = Issues::default();
    let secret = issues.endpoint_secret(input.secret.as_ref());
    let grace_secs = issues.grace_hours(input.grace_hours, config.webhooks.secret_grace);
    issues.finish()?;
    let Some(secret) = secret else {
        return Err(AdminError::Internal("validated fields missing".into()));
    };
    let keyring = keyring(config)?;
    let (sealed_secret, secret_last4) = seal(&keyring, endpoint_id, &secret);
    let (previous_sealed_secret, previous_expires_at) = if grace_secs > 0 {
        let until: NaiveDateTime = nexpay_store::now() + chrono::Duration::seconds(grace_secs);
        (Some(endpoint.sealed_secret), Some(until))
    } else {
        (None, None)
    };
    let rotation = SecretRotation {
        sealed_secret,
        secret_last4,
        previous_sealed_secret,
        previous_expires_at,
    };
    if !store.rotate_webhook_secret(endpoint_id, &rotation).await? {
        return Err(AdminError::NotFound("webhook endpoint"));
    }
    let generated = input.secret.as_ref().is_none_or(|s| s.expose().is_empty());
    audit::record(
        store,
        actor,
        "webhook_endpoint.rotate_secret",
        Some(endpoint_id),
        json!({
            "projectId": project_id,
            "graceSeconds": grace_secs,
            "previousExpiresAt": previous_expires_at.map(utc),
            "generatedSecret": generated,
        }),
    )
    .await;
    Ok(EndpointWithSecret {
        endpoint: get_endpoint(store, project_id, endpoint_id).await?,
        signing_secret: secret,
    })
}

/// A delivery status filter: `pending`, `succeeded` or `failed`.
pub fn parse_status(status: Option<&str>) -> AdminResult<Option<&'static str>> {
    match status.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => STATUSES
            .iter()
            .find(|known| **known == s)
            .map(|known| Some(*known))
            .ok_or_else(|| AdminError::invalid("status", "must be pending, succeeded or failed")),
    }
}

/// The deliveries of an endpoint, newest first (`limit` 1..=500, default 100).
pub async fn list_deliveries(
    store: &Store,
    project_id: &str,
    endpoint_id: &str,
    status: Option<&str>,
    limit: Option<i64>,
) -> AdminResult<Vec<DeliveryView>> {
    let mut issues = Vec::new();
    let status = parse_status(status).map_err(|e| issues.extend_from_slice(e.details()));
    let limit = reviews::limit(limit).map_err(|e| issues.extend_from_slice(e.details()));
    let (Ok(status), Ok(limit)) = (status, limit) else {
        return Err(AdminError::Validation(issues));
    };
    find_endpoint(store, project_id, endpoint_id).await?;
    Ok(store
        .list_webhook_deliveries(endpoint_id, status, limit)
        .await?
        .iter()
        .map(DeliveryView::from)
        .collect())
}

/// One delivery, the body sent and its attempts.
pub async fn get_delivery(store: &Store, delivery_id: &str) -> AdminResult<DeliveryDetail> {
    let row = store
        .get_webhook_delivery(delivery_id)
        .await?
        .ok_or(AdminError::NotFound("webhook delivery"))?;
    let attempts = store
        .list_webhook_attempts(delivery_id)
        .await?
        .into_iter()
        .map(AttemptView::from)
        .collect();
    Ok(DeliveryDetail {
        delivery: DeliveryView::from(&row),
        body: row.body,
        attempts,
    })
}

/// 409 unless the endpoint still exists and is enabled: the dispatcher would fail the
/// delivery at once.
async fn require_deliverable(store: &Store, endpoint_id: &str) -> AdminResult<()> {
    match store.get_webhook_endpoint(endpoint_id).await? {
        None => Err(AdminError::Conflict(
            "the webhook endpoint was deleted".to_owned(),
        )),
        Some(e) if !e.enabled => Err(AdminError::Conflict(
            "the webhook endpoint is disabled; enable it first".to_owned(),
        )),
        Some(_) => Ok(()),
    }
}

/// Sends a delivery again, whatever its state: due now, attempts back to 0.
pub async fn resend_delivery(
    store: &Store,
    actor: &str,
    delivery_id: &str,
) -> AdminResult<DeliveryView> {
    let row = store
        .get_webhook_delivery(delivery_id)
        .await?
        .ok_or(AdminError::NotFound("webhook delivery"))?;
    require_deliverable(store, &row.endpoint_id).await?;
    if !store.resend_webhook_delivery(delivery_id).await? {
        return Err(AdminError::NotFound("webhook delivery"));
    }
    audit::record(
        store,
        actor,
        "webhook_delivery.resend",
        Some(delivery_id),
        json!({
            "endpointId": row.endpoint_id,
            "eventId": row.event_id,
            "previousStatus": row.status,
        }),
    )
    .await;
    let row = store
        .get_webhook_delivery(delivery_id)
        .await?
        .ok_or(AdminError::NotFound("webhook delivery"))?;
    Ok(DeliveryView::from(&row))
}

/// An RFC 3339 time given as `field`.
pub fn parse_since(field: &str, value: Option<&str>) -> AdminResult<NaiveDateTime> {
    match value.map(str::trim) {
        None | Some("") => Err(AdminError::invalid(
            field,
            "is required (RFC 3339, e.g. 2025-10-30T00:00:00Z)",
        )),
        Some(v) => DateTime::parse_from_rfc3339(v)
            .map(|t| t.naive_utc())
            .map_err(|_| {
                AdminError::invalid(field, "must be an RFC 3339 time, e.g. 2025-10-30T00:00:00Z")
            }),
    }
}

/// Sends again every failed delivery of the endpoint created since `since` (RFC 3339).
/// Returns how many.
pub async fn resend_failed(
    store: &Store,
    actor: &str,
    project_id: &str,
    endpoint_id: &str,
    since: Option<&str>,
) -> AdminResult<usize> {
    let since = parse_since("since", since)?;
    find_endpoint(store, project_id, endpoint_id).await?;
    require_deliverable(store, endpoint_id).await?;
    let n = store
        .resend_failed_webhook_deliveries(endpoint_id, since)
        .await?;
    audit::record(
        store,
        actor,
        "webhook_endpoint.resend_failed",
        Some(endpoint_id),
        json!({ "projectId": project_id, "since": utc(since), "resent": n }),
    )
    .await;
    Ok(n)
}

/// Newest first (`limit` 1..=500, default 100).
pub async fn list_notifications(
    store: &Store,
    limit: Option<i64>,
) -> AdminResult<Vec<NotificationView>> {
    let limit = reviews::limit(limit)?;
    Ok(store
        .list_admin_notifications(limit)
        .await?
        .into_iter()
        .map(NotificationView::from)
        .collect())
}

/// Marks an unread notification read; 404 when there is no such unread notification
/// (unknown, or read already).
pub async fn mark_notification_read(store: &Store, id: &str) -> AdminResult<()> {
    if store.mark_admin_notification_read(id).await? {
        Ok(())
    } else {
        Err(AdminError::NotFound("unread notification"))
    }
}
