//! Project actions shared by the admin API and the CLI.

use chrono::{DateTime, Utc};
use nexpay_domain::ProjectId;
use nexpay_store::{ProjectRow, ProjectUpdate, Store};
use serde::Serialize;
use serde_json::{json, Value};

use crate::audit;
use crate::error::{AdminError, AdminResult};
use crate::project_input::{validate, ProjectInput, ValidProject};
use crate::utc;

pub const DEFAULT_PROJECT_NAME: &str = "Default project";
pub const ARCHIVE_NOTICE: &str = "The project is archived and its API keys are revoked. Its \
payments and their history are kept: financial records are never deleted.";

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectView {
    pub id: String,
    pub name: String,
    pub success_url: Option<String>,
    pub failure_url: Option<String>,
    pub cancel_url: Option<String>,
    pub settings: Value,
    pub is_default: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub archived_at: Option<DateTime<Utc>>,
}

impl From<ProjectRow> for ProjectView {
    fn from(p: ProjectRow) -> Self {
        ProjectView {
            // Only our own code writes settings, always as an object; anything else would
            // be a corrupted row, shown as empty rather than failing the whole listing.
            settings: serde_json::from_str(&p.settings).unwrap_or_else(|_| json!({})),
            id: p.id,
            name: p.name,
            success_url: p.success_url,
            failure_url: p.failure_url,
            cancel_url: p.cancel_url,
            is_default: p.is_default,
            created_at: utc(p.created_at),
            updated_at: utc(p.updated_at),
            archived_at: p.archived_at.map(utc),
        }
    }
}

/// A project by id, archived or not; 404 when unknown.
pub(crate) async fn find(store: &Store, id: &str) -> AdminResult<ProjectRow> {
    store
        .get_project(id)
        .await?
        .ok_or(AdminError::NotFound("project"))
}

/// A project that may still change: 404 when unknown, 409 when archived.
pub(crate) async fn find_active(store: &Store, id: &str) -> AdminResult<ProjectRow> {
    let project = find(store, id).await?;
    if project.archived_at.is_some() {
        return Err(AdminError::Conflict("the project is archived".to_owned()));
    }
    Ok(project)
}

pub async fn list_projects(store: &Store, include_archived: bool) -> AdminResult<Vec<ProjectView>> {
    Ok(store
        .list_projects(include_archived)
        .await?
        .into_iter()
        .map(ProjectView::from)
        .collect())
}

pub async fn get_project(store: &Store, id: &str) -> AdminResult<ProjectView> {
    Ok(find(store, id).await?.into())
}

pub async fn create_project(
    store: &Store,
    actor: &str,
    input: &ProjectInput,
    require_https: bool,
) -> AdminResult<ProjectView> {
    let valid = validate(input, true, require_https)?;
    insert(store, actor, ProjectId::generate(), valid, false)
        .await
        .map(ProjectView::from)
}

/// Inserts a validated project; also used by the bootstrap for the default project,
/// whose id is chosen before the insert.
pub(crate) async fn insert(
    store: &Store,
    actor: &str,
    id: ProjectId,
    valid: ValidProject,
    is_default: bool,
) -> AdminResult<ProjectRow> {
    let at = nexpay_store::now();
    let row = ProjectRow {
        id: id.into_string(),
        name: valid
            .name
            .unwrap_or_else(|| DEFAULT_PROJECT_NAME.to_owned()),
        success_url: valid.success_url.flatten(),
        failure_url: valid.failure_url.flatten(),
        cancel_url: valid.cancel_url.flatten(),
        settings: valid.settings.unwrap_or_else(|| "{}".to_owned()),
        is_default,
        created_at: at,
        updated_at: at,
        archived_at: None,
    };
    store.insert_project(&row).await?;
    let detail = json!({ "name": row.name, "isDefault": is_default });
    audit::record(store, actor, "project.create", Some(&row.id), detail).await;
    Ok(row)
}

pub async fn update_project(
    store: &Store,
    actor: &str,
    id: &str,
    input: &ProjectInput,
    require_https: bool,
) -> AdminResult<ProjectView> {
    find_active(store, id).await?;
    let valid = validate(input, false, require_https)?;
    let changed: Vec<&str> = [
        ("name", valid.name.is_some()),
        ("successUrl", valid.success_url.is_some()),
        ("failureUrl", valid.failure_url.is_some()),
        ("cancelUrl", valid.cancel_url.is_some()),
        ("settings", valid.settings.is_some()),
    ]
    .into_iter()
    .filter_map(|(field, set)| set.then_some(field))
    .collect();
    let update = ProjectUpdate {
        name: valid.name,
        success_url: valid.success_url,
        failure_url: valid.failure_url,
        cancel_url: valid.cancel_url,
        settings: valid.settings,
        updated_at: Some(nexpay_store::now()),
    };
    let row = match store.update_project(id, &update).await {
        Err(nexpay_store::StoreError::NotFound) => return Err(AdminError::NotFound("project")),
        other => other?,
    };
    audit::record(
        store,
        actor,
        "project.update",
        Some(id),
        json!({ "fields": changed }),
    )
    .await;
    Ok(row.into())
}

/// Archives instead of deleting: payments keep referring to their project forever. The
/// default project stays, since the legacy environment keys and the first-start keys
/// belong to it.
pub async fn archive_project(store: &Store, actor: &str, id: &str) -> AdminResult<ProjectView> {
    archive_project_with_cache(store, None, actor, id).await
}

/// [`archive_project`], then deletes the cached lookups of the project's keys from
/// `cache` (the gateway's), so they stop working at once.
pub async fn archive_project_with_cache(
    store: &Store,
    cache: Option<&dyn nexpay_cache::Cache>,
    actor: &str,
    id: &str,
) -> AdminResult<ProjectView> {
    let project = find_active(store, id).await?;
    if project.is_default {
        return Err(AdminError::Conflict(
            "the default project cannot be archived".to_owned(),
        ));
    }
    if !store.archive_project(id).await? {
        return Err(AdminError::Conflict("the project is archived".to_owned()));
    }
    if cache.is_some() {
        let keys = store.list_api_keys(id).await?;
        crate::keys::forget_cached_keys(cache, keys.iter().map(|k| k.key_hash.as_str())).await;
    }
    audit::record(
        store,
        actor,
        "project.archive",
        Some(id),
        json!({ "name": project.name }),
    )
    .await;
    get_project(store, id).await
}
