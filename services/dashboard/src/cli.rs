//! The actions behind the `nexpay` subcommands, printing for a human. They call the same
//! functions as the admin API (validation and audit included); the audit actor is "cli".

use std::io::Write;

use nexpay_cache::Cache;
use nexpay_config::Config;
use nexpay_security::{KeyKind, KeyMode};
use nexpay_store::Store;

use crate::accounts::{self, UserView};
use crate::audit::ACTOR_CLI;
use crate::error::AdminError;
use crate::keys::{self, CreatedKey, KeyView, Rotation};
use crate::project_input::ProjectInput;
use crate::projects::{self, ProjectView};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Admin(#[from] AdminError),
    #[error("cannot write the output: {0}")]
    Io(#[from] std::io::Error),
}

pub type CliResult<T> = Result<T, CliError>;

const TIME_FORMAT: &str = "%Y-%m-%d %H:%M UTC";

/// `nexpay project create`. URLs must be https when `config` is in production mode.
pub async fn project_create(
    store: &Store,
    config: &Config,
    name: &str,
    success_url: Option<&str>,
    cancel_url: Option<&str>,
    failure_url: Option<&str>,
    out: &mut dyn Write,
) -> CliResult<ProjectView> {
    let url = |u: Option<&str>| u.map(|u| Some(u.to_owned()));
    let input = ProjectInput {
        name: Some(name.to_owned()),
        success_url: url(success_url),
        failure_url: url(failure_url),
        cancel_url: url(cancel_url),
        settings: None,
    };
    let project =
        projects::create_project(store, ACTOR_CLI, &input, config.is_production()).await?;
    writeln!(out, "Created project {} ({})", project.name, project.id)?;
    Ok(project)
}

/// `nexpay project list`: archived projects included, marked as such.
pub async fn project_list(store: &Store, out: &mut dyn Write) -> CliResult<Vec<ProjectView>> {
    let list = projects::list_projects(store, true).await?;
    writeln!(out, "{:<30}  {:<9}  {:<8}  NAME", "ID", "STATUS", "DEFAULT")?;
    for p in &list {
        let status = if p.archived_at.is_some() {
            "archived"
        } else {
            "active"
        };
        let default = if p.is_default { "yes" } else { "" };
        writeln!(out, "{:<30}  {status:<9}  {default:<8}  {}", p.id, p.name)?;
    }
    Ok(list)
}

/// `nexpay keys create`: the full key is printed here and never again.
pub async fn keys_create(
    store: &Store,
    project_id: &str,
    kind: KeyKind,
    mode: KeyMode,
    label: Option<&str>,
    out: &mut dyn Write,
) -> CliResult<CreatedKey> {
    let key = keys::create_key(store, ACTOR_CLI, project_id, kind, mode, label).await?;
    print_new_key(out, &key)?;
    Ok(key)
}

fn print_new_key(out: &mut dyn Write, key: &CreatedKey) -> std::io::Result<()> {
    writeln!(
        out,
        "Created {} {} key {} for the project.",
        key.mode, key.kind, key.id
    )?;
    writeln!(
        out,
        "Key (shown only this once, store it now): {}",
        key.key.expose()
    )
}

/// `nexpay keys list`: prefixes only; the full keys are not stored anywhere.
pub async fn keys_list(
    store: &Store,
    project_id: &str,
    out: &mut dyn Write,
) -> CliResult<Vec<KeyView>> {
    let list = keys::list_keys(store, project_id).await?;
    writeln!(
        out,
        "{:<30}  {:<20}  {:<5}  {:<4}  {:<8}  {:<20}  LABEL",
        "ID", "PREFIX", "KIND", "MODE", "STATUS", "EXPIRES"
    )?;
    for k in &list {
        let expires = k
            .expires_at
            .map(|t| t.format(TIME_FORMAT).to_string())
            .unwrap_or_default();
        let label = k.label.as_deref().unwrap_or("");
        writeln!(
            out,
            "{:<30}  {:<20}  {:<5}  {:<4}  {:<8}  {expires:<20}  {label}",
            k.id,
            k.prefix,
            k.kind,
            k.mode,
            k.status.as_str()
        )?;
    }
    Ok(list)
}

/// `nexpay keys rotate`: prints the new key once and when the old one stops working.
pub async fn keys_rotate(
    store: &Store,
    project_id: &str,
    key_id: &str,
    grace_secs: Option<i64>,
    out: &mut dyn Write,
) -> CliResult<Rotation> {
    keys_rotate_with_cache(store, None, project_id, key_id, grace_secs, out).await
}

/// [`keys_rotate`], also deleting the old key's entry from the gateways' shared cache
/// (Redis in the distributed deployment), so its new expiry applies at once. Without a
/// shared cache the gateways notice the change through the database within a second.
pub async fn keys_rotate_with_cache(
    store: &Store,
    cache: Option<&dyn Cache>,
    project_id: &str,
    key_id: &str,
    grace_secs: Option<i64>,
    out: &mut dyn Write,
) -> CliResult<Rotation> {
    let rotation =
        keys::rotate_key_with_cache(store, cache, ACTOR_CLI, project_id, key_id, grace_secs)
            .await?;
    print_new_key(out, &rotation.new_key)?;
    if let Some(at) = rotation.old_key.expires_at {
        writeln!(
            out,
            "The old key {} keeps working until {}.",
            key_id,
            at.format(TIME_FORMAT)
        )?;
    }
    Ok(rotation)
}

/// `nexpay keys revoke`: effective immediately in the database; a gateway in another
/// process stops accepting the key within a second (it re-reads a fingerprint of key
/// changes), or at once with [`keys_revoke_with_cache`] on the cache it shares.
pub async fn keys_revoke(
    store: &Store,
    project_id: &str,
    key_id: &str,
    out: &mut dyn Write,
) -> CliResult<KeyView> {
    keys_revoke_with_cache(store, None, project_id, key_id, out).await
}

/// [`keys_revoke`], also deleting the key's entry from the gateways' shared cache.
pub async fn keys_revoke_with_cache(
    store: &Store,
    cache: Option<&dyn Cache>,
    project_id: &str,
    key_id: &str,
    out: &mut dyn Write,
) -> CliResult<KeyView> {
    let key = keys::revoke_key_with_cache(store, cache, ACTOR_CLI, project_id, key_id).await?;
    writeln!(out, "Revoked key {} ({}).", key.id, key.prefix)?;
    Ok(key)
}

/// `nexpay admin reset-password`: without a password, a strong one is generated and
/// printed once. Either way the admin must change it at next login, and existing
/// sessions are revoked.
pub async fn admin_reset_password(
    store: &Store,
    email: &str,
    new_password: Option<String>,
    out: &mut dyn Write,
) -> CliResult<UserView> {
    let reset = accounts::reset_password(store, ACTOR_CLI, email, new_password).await?;
    writeln!(
        out,
        "Password reset for {}; existing sessions are signed out.",
        reset.user.email
    )?;
    if let Some(generated) = &reset.generated {
        writeln!(
            out,
            "New password (shown only this once): {}",
            generated.expose()
        )?;
    }
    writeln!(out, "The password must be changed at the next login.")?;
    Ok(reset.user)
}
