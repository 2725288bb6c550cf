//! API key actions shared by the admin API and the CLI. A full key exists only in the
//! value returned at creation; the store keeps its prefix and hash.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use nexpay_cache::{names, Cache};
use nexpay_domain::ApiKeyId;
use nexpay_security::{generate_api_key, GeneratedKey, KeyKind, KeyMode, Secret};
use nexpay_store::{ApiKeyRow, Store};
use serde::Serialize;
use serde_json::json;

use crate::error::{AdminError, AdminResult};
use crate::{audit, projects, utc};

/// Long enough to redeploy a merchant's servers with the new key.
pub const DEFAULT_GRACE_SECS: i64 = 86_400;
pub const MAX_GRACE_SECS: i64 = 30 * 86_400;
const MAX_LABEL_CHARS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    Active,
    /// Still valid, with an expiry set (typically the old key of a rotation).
    Expiring,
    Expired,
    Revoked,
}

impl KeyStatus {
    pub fn of(key: &ApiKeyRow, now: NaiveDateTime) -> KeyStatus {
        match (key.revoked_at, key.expires_at) {
            (Some(_), _) => KeyStatus::Revoked,
            (None, Some(exp)) if exp <= now => KeyStatus::Expired,
            (None, Some(_)) => KeyStatus::Expiring,
            (None, None) => KeyStatus::Active,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Expiring => "expiring",
            KeyStatus::Expired => "expired",
            KeyStatus::Revoked => "revoked",
        }
    }
}

/// A key as listed: no secret, no hash.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    pub id: String,
    pub prefix: String,
    pub kind: String,
    pub mode: String,
    pub label: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub status: KeyStatus,
}

impl KeyView {
    fn new(k: ApiKeyRow, now: NaiveDateTime) -> Self {
        KeyView {
            status: KeyStatus::of(&k, now),
            id: k.id,
            prefix: k.prefix,
            kind: k.kind,
            mode: k.mode,
            label: k.label,
            created_at: utc(k.created_at),
            last_used_at: k.last_used_at.map(utc),
            expires_at: k.expires_at.map(utc),
            revoked_at: k.revoked_at.map(utc),
        }
    }
}

/// A new key with its full secret, to show once.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    pub id: String,
    pub key: Secret,
    pub prefix: String,
    pub kind: KeyKind,
    pub mode: KeyMode,
    pub label: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub fn parse_kind(s: &str) -> AdminResult<KeyKind> {
    KeyKind::parse(s).ok_or_else(|| AdminError::invalid("kind", "must be \"read\" or \"write\""))
}

pub fn parse_mode(s: &str) -> AdminResult<KeyMode> {
    KeyMode::parse(s).ok_or_else(|| AdminError::invalid("mode", "must be \"test\" or \"live\""))
}

fn check_label(label: Option<&str>) -> AdminResult<Option<String>> {
    let Some(label) = label.map(str::trim).filter(|l| !l.is_empty()) else {
        return Ok(None);
    };
    if label.chars().count() > MAX_LABEL_CHARS || label.chars().any(char::is_control) {
        let msg =
            format!("must be at most {MAX_LABEL_CHARS} characters, without control characters");
        return Err(AdminError::invalid("label", msg));
    }
    Ok(Some(label.to_owned()))
}

pub async fn create_key(
    store: &Store,
    actor: &str,
    project_id: &str,
    kind: KeyKind,
    mode: KeyMode,
    label: Option<&str>,
) -> AdminResult<CreatedKey> {
    let label = check_label(label)?;
    projects::find_active(store, project_id).await?;
    let generated = generate_api_key(kind, mode);
    insert(store, actor, project_id, generated, label, "key.create").await
}

/// Stores a generated or operator-supplied key; the audit detail names it by prefix.
pub(crate) async fn insert(
    store: &Store,
    actor: &str,
    project_id: &str,
    key: GeneratedKey,
    label: Option<String>,
    action: &str,
) -> AdminResult<CreatedKey> {
    let row = new_row(project_id, &key, label);
    store.insert_api_key(&row).await?;
    let detail = json!({ "prefix": row.prefix, "kind": row.kind, "mode": row.mode });
    audit::record(store, actor, action, Some(&row.id), detail).await;
    Ok(created(row, key))
}

fn new_row(project_id: &str, key: &GeneratedKey, label: Option<String>) -> ApiKeyRow {
    ApiKeyRow {
        id: ApiKeyId::generate().into_string(),
        project_id: project_id.to_owned(),
        kind: key.kind.as_str().to_owned(),
        mode: key.mode.as_str().to_owned(),
        prefix: key.prefix.clone(),
        key_hash: key.hash.clone(),
        label,
        created_at: nexpay_store::now(),
        last_used_at: None,
        expires_at: None,
        revoked_at: None,
    }
}

fn created(row: ApiKeyRow, key: GeneratedKey) -> CreatedKey {
    CreatedKey {
        id: row.id,
        key: key.full,
        prefix: row.prefix,
        kind: key.kind,
        mode: key.mode,
        label: row.label,
        created_at: utc(row.created_at),
    }
}

pub async fn list_keys(store: &Store, project_id: &str) -> AdminResult<Vec<KeyView>> {
    projects::find(store, project_id).await?;
    let now = nexpay_store::now();
    let keys = store.list_api_keys(project_id).await?;
    Ok(keys.into_iter().map(|k| KeyView::new(k, now)).collect())
}

/// A key of this project; another project's key is "not found", not "forbidden", so
/// ids cannot be probed across projects.
async fn find_key(store: &Store, project_id: &str, key_id: &str) -> AdminResult<ApiKeyRow> {
    projects::find(store, project_id).await?;
    match store.get_api_key(key_id).await? {
        Some(key) if key.project_id == project_id => Ok(key),
        _ => Err(AdminError::NotFound("API key")),
    }
}

/// The new key and what became of the old one.
#[derive(Debug, Clone)]
pub struct Rotation {
    pub new_key: CreatedKey,
    pub old_key: KeyView,
}

/// Deletes the gateway's cached lookups of these keys (by hash), after the change that
/// invalidates them committed. A failure is only logged: the gateway also compares a
/// database fingerprint of key changes, which retires such entries within a second.
pub async fn forget_cached_keys<'a>(
    cache: Option<&dyn Cache>,
    hashes: impl IntoIterator<Item = &'a str>,
) {
    let Some(cache) = cache else {
        return;
    };
    for hash in hashes {
        if let Err(e) = cache.delete(&names::api_key(hash)).await {
            tracing::warn!(error = %e, "could not delete a cached API key; the gateway's key fingerprint will retire it");
        }
    }
}

/// Issues a replacement of the same kind and mode; the old key keeps working for the
/// grace period. Rotation never extends a key already set to expire sooner.
pub async fn rotate_key(
    store: &Store,
    actor: &str,
    project_id: &str,
    key_id: &str,
    grace_secs: Option<i64>,
) -> AdminResult<Rotation> {
    rotate_key_with_cache(store, None, actor, project_id, key_id, grace_secs).await
}

/// [`rotate_key`], then deletes the old key's cached lookup from `cache` (the gateway's),
/// so its new expiry applies at once.
pub async fn rotate_key_with_cache(
    store: &Store,
    cache: Option<&dyn Cache>,
    actor: &str,
    project_id: &str,
    key_id: &str,
    grace_secs: Option<i64>,
) -> AdminResult<Rotation> {
    let grace = grace_secs.unwrap_or(DEFAULT_GRACE_SECS);
    if !(0..=MAX_GRACE_SECS).contains(&grace) {
        let msg = format!("must be between 0 and {MAX_GRACE_SECS} seconds (30 days)");
        return Err(AdminError::invalid("graceSeconds", msg));
    }
    let old = find_key(store, project_id, key_id).await?;
    projects::find_active(store, project_id).await?;
    let now = nexpay_store::now();
    match KeyStatus::of(&old, now) {
        KeyStatus::Revoked => return Err(AdminError::Conflict("the key is revoked".to_owned())),
        KeyStatus::Expired => return Err(AdminError::Conflict("the key has expired".to_owned())),
        KeyStatus::Active | KeyStatus::Expiring => {}
    }
    let wanted = now + Duration::seconds(grace);
    let old_expires_at = old.expires_at.map_or(wanted, |current| current.min(wanted));
    let (kind, mode) = (parse_kind(&old.kind)?, parse_mode(&old.mode)?);
    let generated = generate_api_key(kind, mode);
    let row = new_row(project_id, &generated, old.label.clone());
    match store
        .rotate_api_key(project_id, key_id, old_expires_at, &row)
        .await
    {
        Err(nexpay_store::StoreError::NotFound) => return Err(AdminError::NotFound("API key")),
        other => other?,
    }
    forget_cached_keys(cache, [old.key_hash.as_str()]).await;
    let detail = json!({
        "oldPrefix": old.prefix,
        "newKeyId": row.id,
        "newPrefix": row.prefix,
        "graceSeconds": grace,
    });
    audit::record(store, actor, "key.rotate", Some(key_id), detail).await;
    let old_key = KeyView::new(
        ApiKeyRow {
            expires_at: Some(old_expires_at),
            ..old
        },
        now,
    );
    Ok(Rotation {
        new_key: created(row, generated),
        old_key,
    })
}

/// Revokes a key now. Revoking twice is a conflict, so a script notices a wrong id.
pub async fn revoke_key(
    store: &Store,
    actor: &str,
    project_id: &str,
    key_id: &str,
) -> AdminResult<KeyView> {
    revoke_key_with_cache(store, None, actor, project_id, key_id).await
}

/// [`revoke_key`], then deletes the key's cached lookup from `cache` (the gateway's).
pub async fn revoke_key_with_cache(
    store: &Store,
    cache: Option<&dyn Cache>,
    actor: &str,
    project_id: &str,
    key_id: &str,
) -> AdminResult<KeyView> {
    let key = find_key(store, project_id, key_id).await?;
    if !store.revoke_api_key(project_id, key_id).await? {
        return Err(AdminError::Conflict(
            "the key is already revoked".to_owned(),
        ));
    }
    forget_cached_keys(cache, [key.key_hash.as_str()]).await;
    audit::record(
        store,
        actor,
        "key.revoke",
        Some(key_id),
        json!({ "prefix": key.prefix }),
    )
    .await;
    let now = nexpay_store::now();
    let key = store
        .get_api_key(key_id)
        .await?
        .ok_or(AdminError::NotFound("API key"))?;
    Ok(KeyView::new(key, now))
}
