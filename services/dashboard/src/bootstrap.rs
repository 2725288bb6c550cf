//! Run at every start: built-in providers, the default admin, the default project with
//! its first keys, and the legacy `X_WRITE_KEY` / `X_READ_KEY`.
//!
//! One-time steps are recorded in `instance_settings`, so a restart never repeats them.
//! In particular the default admin is created once and never again, even when that
//! account later changes its email or is removed: re-creating it from the configuration
//! at each start (as the old NexPay did) was a standing back door.

use std::fmt;
use std::path::PathBuf;

use nexpay_config::{write_private, Config};
use nexpay_domain::ProjectId;
use nexpay_security::{
    generate_api_key, register_external_key, KeyError, KeyKind, KeyMode, Secret,
};
use nexpay_store::{Store, StoreError};

use crate::audit::ACTOR_SYSTEM;
use crate::error::AdminError;
use crate::project_input::ValidProject;
use crate::projects::DEFAULT_PROJECT_NAME;
use crate::{accounts, keys, projects, providers};

pub const ADMIN_GUARD: &str = "bootstrap.admin_created";
pub const PROJECT_GUARD: &str = "bootstrap.default_project";
pub const CREDENTIALS_FILE: &str = "first-start-credentials.txt";

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("bootstrap: database error: {0}")]
    Store(#[from] StoreError),
    #[error("bootstrap: {0}")]
    Admin(#[from] AdminError),
    #[error("bootstrap: the configured {name} cannot be used: {source}")]
    LegacyKey {
        name: &'static str,
        source: KeyError,
    },
    #[error("bootstrap: {name} is set but there is no default project to attach it to")]
    NoDefaultProject { name: &'static str },
    #[error("bootstrap: the recorded default project id {0:?} is invalid")]
    CorruptGuard(String),
    #[error("bootstrap: cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What the very first start created, for the caller to show once.
pub struct FirstStart {
    pub project_id: ProjectId,
    pub read_key: Secret,
    pub write_key: Secret,
    pub admin_email: String,
    /// Only when NexPay generated the password itself (development mode); a configured
    /// `ADMIN_PASSWORD` is already known to the operator and is not repeated.
    pub admin_password: Option<String>,
    /// The same information, readable by the owner only.
    pub credentials_file: PathBuf,
}

impl fmt::Debug for FirstStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FirstStart")
            .field("project_id", &self.project_id)
            .field("admin_email", &self.admin_email)
            .field("credentials_file", &self.credentials_file)
            .finish_non_exhaustive()
    }
}

impl FirstStart {
    /// The text of the credentials file, also suitable for the start-up banner.
    pub fn banner(&self) -> String {
        let password = match &self.admin_password {
            Some(p) => p.as_str(),
            None => "the configured ADMIN_PASSWORD",
        };
        format!(
            "NexPay first start: keep these values private, then delete {file}.\n\
             \n\
             Admin dashboard\n  email:    {email}\n  password: {password}\n  \
             (you must change the password at first login)\n\
             \n\
             Default project {project}\n  read key  (test): {read}\n  write key (test): {write}\n\
             \n\
             The keys are shown this once: NexPay stores only their hashes.\n",
            file = self.credentials_file.display(),
            email = self.admin_email,
            project = self.project_id,
            read = self.read_key.expose(),
            write = self.write_key.expose(),
        )
    }
}

/// Idempotent: safe (and required) at every start. Returns `Some` only on the start that
/// created the default project.
pub async fn bootstrap(
    store: &Store,
    config: &Config,
) -> Result<Option<FirstStart>, BootstrapError> {
    providers::ensure_built_in(store).await?;
    let admin_created = ensure_admin(store, config).await?;
    let first = ensure_default_project(store, config, admin_created).await?;
    register_legacy_keys(store, config).await?;
    Ok(first)
}

/// Creates the configured admin unless the one-time guard says it was done. The user is
/// inserted before the guard is recorded, so a crash in between is retried at the next
/// start; a duplicate email (that retry, or a concurrent replica) is not an error.
async fn ensure_admin(store: &Store, config: &Config) -> Result<bool, BootstrapError> {
    if store.get_setting(ADMIN_GUARD).await?.is_some() {
        return Ok(false);
    }
    let Some(password) = &config.admin_password else {
        tracing::warn!("no ADMIN_PASSWORD configured: the default admin is not created yet");
        return Ok(false);
    };
    let created =
        match accounts::create_admin(store, &config.admin_email, password.expose(), true).await {
            Ok(user) => Some(user.id),
            Err(AdminError::Conflict(_)) => None,
            Err(e) => return Err(e.into()),
        };
    store
        .set_setting_once(ADMIN_GUARD, created.as_deref().unwrap_or("existing"))
        .await?;
    if let Some(id) = &created {
        let detail = serde_json::json!({ "email": config.admin_email });
        crate::audit::record(
            store,
            ACTOR_SYSTEM,
            "user.create_default_admin",
            Some(id),
            detail,
        )
        .await;
        tracing::info!(email = %config.admin_email, "default admin created");
    }
    Ok(created.is_some())
}

/// The guard holds the id chosen for the default project and is claimed before the
/// insert: concurrent starts agree on one id, and a crash between claim and insert is
/// finished by the next start.
async fn ensure_default_project(
    store: &Store,
    config: &Config,
    admin_created: bool,
) -> Result<Option<FirstStart>, BootstrapError> {
    let id = match store.get_setting(PROJECT_GUARD).await? {
        Some(id) if store.get_project(&id).await?.is_some() => return Ok(None),
        Some(id) => id,
        None => {
            // A database from before the guard existed may already have one.
            if let Some(existing) = store.default_project().await? {
                store.set_setting_once(PROJECT_GUARD, &existing.id).await?;
                return Ok(None);
            }
            let id = ProjectId::generate().into_string();
            if !store.set_setting_once(PROJECT_GUARD, &id).await? {
                return Ok(None);
            }
            id
        }
    };
    let id = ProjectId::parse(&id).map_err(|_| BootstrapError::CorruptGuard(id.clone()))?;
    let valid = ValidProject {
        name: Some(DEFAULT_PROJECT_NAME.to_owned()),
        ..Default::default()
    };
    match projects::insert(store, ACTOR_SYSTEM, id.clone(), valid, true).await {
        Ok(_) => {}
        Err(AdminError::Conflict(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let label = || Some("first start".to_owned());
    let read = generate_api_key(KeyKind::Read, KeyMode::Test);
    let read = keys::insert(
        store,
        ACTOR_SYSTEM,
        id.as_str(),
        read,
        label(),
        "key.create",
    )
    .await?;
    let write = generate_api_key(KeyKind::Write, KeyMode::Test);
    let write = keys::insert(
        store,
        ACTOR_SYSTEM,
        id.as_str(),
        write,
        label(),
        "key.create",
    )
    .await?;

    let generated_password = config.generated_secrets.contains(&"ADMIN_PASSWORD");
    let first = FirstStart {
        project_id: id,
        read_key: read.key,
        write_key: write.key,
        admin_email: config.admin_email.clone(),
        admin_password: config
            .admin_password
            .as_ref()
            .filter(|_| admin_created && generated_password)
            .map(|p| p.expose().to_owned()),
        credentials_file: config.data_dir.join(CREDENTIALS_FILE),
    };
    let path = first.credentials_file.clone();
    let io = |source| BootstrapError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(&config.data_dir).map_err(io)?;
    write_private(&path, &first.banner()).map_err(io)?;
    Ok(Some(first))
}

/// Registers the legacy environment keys as live keys of the default project, once: a
/// key already stored (matched by hash) is left alone, revoked or not, so revoking it
/// in the dashboard sticks across restarts.
async fn register_legacy_keys(store: &Store, config: &Config) -> Result<(), BootstrapError> {
    let legacy = [
        ("X_WRITE_KEY", config.x_write_key.as_ref(), KeyKind::Write),
        ("X_READ_KEY", config.x_read_key.as_ref(), KeyKind::Read),
    ];
    for (name, value, kind) in legacy {
        let Some(value) = value else { continue };
        let key = register_external_key(value.expose(), kind, KeyMode::Live)
            .map_err(|source| BootstrapError::LegacyKey { name, source })?;
        if let Some(found) = store.find_key_by_hash(&key.hash).await? {
            if found.key.revoked_at.is_some() {
                tracing::warn!("{name} is revoked: requests using it are refused; remove it from the configuration");
            }
            continue;
        }
        let project = store
            .default_project()
            .await?
            .ok_or(BootstrapError::NoDefaultProject { name })?;
        let label = Some(format!("{name} (legacy)"));
        // A conflict means the hash is stored already: another replica registered it just
        // now, or it belongs to an archived project, which lookups skip.
        match keys::insert(
            store,
            ACTOR_SYSTEM,
            &project.id,
            key,
            label,
            "key.register_legacy",
        )
        .await
        {
            Ok(_) | Err(AdminError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
