//! The actions behind the `nexpay` subcommands, printing for a human. They call the same
//! functions as the admin API (validation and audit included); the audit actor is "cli".

use std::io::{BufRead, Write};
use std::sync::Arc;

use nexpay_cache::Cache;
use nexpay_config::Config;
use nexpay_security::{KeyKind, KeyMode, Secret};
use nexpay_store::Store;
use serde_json::Value;

use crate::accounts::{self, UserView};
use crate::audit::ACTOR_CLI;
use crate::error::AdminError;
use crate::keys::{self, CreatedKey, KeyView, Rotation};
use crate::project_input::ProjectInput;
use crate::projects::{self, ProjectView};
use crate::providers::{self, OmInput, ProviderView, TestPayment, TestPaymentError, WaveInput};
use crate::webhooks::{
    self, CreateEndpointInput, DeliveryView, EndpointView, EndpointWithSecret, RotateSecretInput,
    UpdateEndpointInput,
};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Admin(#[from] AdminError),
    #[error("cannot write the output: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    TestPayment(#[from] TestPaymentError),
    /// A value the operator has to give could not be read (missing variable, no input).
    #[error("{0}")]
    Input(String),
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

// ------------------------------------------------------------------------------ providers
//
// Each command first adds the built-in providers if they are missing, so they can be
// configured on a database that has been migrated but not yet served.

/// Reads a secret without putting it on the command line (where shell history and `ps`
/// would keep it): from the environment variable `env_var` when given, otherwise one
/// line of `input` after printing `label` to `prompt` (stderr in the binary, so the
/// secret can also be piped in: `printf '%s\n' "$KEY" | nexpay providers configure …`).
pub fn read_secret(
    label: &str,
    env_var: Option<&str>,
    input: &mut dyn BufRead,
    prompt: &mut dyn Write,
) -> CliResult<Secret> {
    if let Some(var) = env_var {
        return match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v.trim())),
            _ => Err(CliError::Input(format!(
                "{label}: the environment variable {var} is not set or empty"
            ))),
        };
    }
    write!(prompt, "{label}: ")?;
    prompt.flush()?;
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        return Err(CliError::Input(format!(
            "{label}: no value given on standard input"
        )));
    }
    Ok(Secret::new(line.trim()))
}

/// `nexpay providers list`.
pub async fn providers_list(
    store: &Store,
    config: &Config,
    out: &mut dyn Write,
) -> CliResult<Vec<ProviderView>> {
    providers::ensure_built_in(store).await?;
    let list = providers::list_providers(store, &config.public_url).await?;
    writeln!(
        out,
        "{:<6}  {:<14}  {:<8}  {:<5}  {:<16}  WEBHOOK URL",
        "CODE", "NAME", "ENABLED", "LIVE", "MISSING"
    )?;
    for p in &list {
        let missing = if p.missing.is_empty() {
            "-".to_owned()
        } else {
            p.missing.join(",")
        };
        writeln!(
            out,
            "{:<6}  {:<14}  {:<8}  {:<5}  {missing:<16}  {}",
            p.code,
            p.name,
            yes_no(p.enabled),
            yes_no(p.live),
            p.webhook_url
        )?;
    }
    Ok(list)
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// `nexpay providers show`: the non-secret configuration; secrets as "configured" and
/// their last four characters.
pub async fn provider_show(
    store: &Store,
    config: &Config,
    code: &str,
    out: &mut dyn Write,
) -> CliResult<ProviderView> {
    providers::ensure_built_in(store).await?;
    let p = providers::get_provider(store, &config.public_url, code).await?;
    print_provider(out, &p)?;
    Ok(p)
}

fn print_provider(out: &mut dyn Write, p: &ProviderView) -> std::io::Result<()> {
    writeln!(out, "{} ({})", p.name, p.code)?;
    writeln!(out, "  enabled: {}", yes_no(p.enabled))?;
    writeln!(out, "  live: {}", yes_no(p.live))?;
    if !p.missing.is_empty() {
        writeln!(out, "  missing: {}", p.missing.join(", "))?;
    }
    writeln!(out, "  webhook URL to register: {}", p.webhook_url)?;
    match &p.config {
        Value::Object(_) => print_summary(out, "  ", &p.config)?,
        _ => writeln!(out, "  configuration: none")?,
    }
    if let Some(at) = p.test_passed_at {
        writeln!(out, "  test payment passed: {}", at.format(TIME_FORMAT))?;
    }
    Ok(())
}

/// Prints the summary: `{"configured", "last4"}` objects as one line, other objects
/// indented, values as they are.
fn print_summary(out: &mut dyn Write, indent: &str, value: &Value) -> std::io::Result<()> {
    let Some(map) = value.as_object() else {
        return Ok(());
    };
    for (key, v) in map {
        if key == "version" {
            continue;
        }
        match v {
            Value::Object(o) if o.contains_key("configured") => {
                let configured = o["configured"].as_bool().unwrap_or(false);
                let text = match (configured, o.get("last4").and_then(Value::as_str)) {
                    (true, Some(last4)) => format!("configured (ends with {last4})"),
                    (true, None) => "configured".to_owned(),
                    (false, _) => "not configured".to_owned(),
                };
                writeln!(out, "{indent}{key}: {text}")?;
            }
            Value::Object(_) => {
                writeln!(out, "{indent}{key}:")?;
                print_summary(out, &format!("{indent}  "), v)?;
            }
            Value::Null => writeln!(out, "{indent}{key}: not configured")?,
            Value::String(s) => writeln!(out, "{indent}{key}: {s}")?,
            other => writeln!(out, "{indent}{key}: {other}")?,
        }
    }
    Ok(())
}

/// `nexpay providers configure wave`: replaces the Wave configuration.
pub async fn provider_configure_wave(
    store: &Store,
    config: &Config,
    input: &WaveInput,
    out: &mut dyn Write,
) -> CliResult<ProviderView> {
    providers::ensure_built_in(store).await?;
    let sealer = providers::Sealer::new(config, None)?;
    let p = providers::configure_wave(store, config, &sealer, ACTOR_CLI, input).await?;
    writeln!(out, "Saved the Wave configuration (secrets sealed).")?;
    print_provider(out, &p)?;
    Ok(p)
}

/// `nexpay providers configure om`: replaces the Orange Money configuration.
pub async fn provider_configure_om(
    store: &Store,
    config: &Config,
    input: &OmInput,
    out: &mut dyn Write,
) -> CliResult<ProviderView> {
    providers::ensure_built_in(store).await?;
    let sealer = providers::Sealer::new(config, None)?;
    let p = providers::configure_om(store, config, &sealer, ACTOR_CLI, input).await?;
    writeln!(
        out,
        "Saved the Orange Money configuration (secrets sealed)."
    )?;
    if p.config["webhook"]["strategy"] == "auto" && !p.missing.is_empty() {
        writeln!(
            out,
            "The callback is registered at Orange by provider-adapter within a few seconds."
        )?;
    }
    print_provider(out, &p)?;
    Ok(p)
}

/// `nexpay providers enable|disable`.
pub async fn provider_set_enabled(
    store: &Store,
    config: &Config,
    code: &str,
    enabled: bool,
    out: &mut dyn Write,
) -> CliResult<ProviderView> {
    providers::ensure_built_in(store).await?;
    let p = providers::set_provider_enabled(store, &config.public_url, ACTOR_CLI, code, enabled)
        .await?;
    let state = if enabled { "enabled" } else { "disabled" };
    writeln!(out, "{} is {state}.", p.name)?;
    if enabled && !p.live {
        writeln!(
            out,
            "Live payments need its configuration first (missing: {}).",
            p.missing.join(", ")
        )?;
    }
    Ok(p)
}

/// `nexpay providers remove-config`: the provider can no longer take live payments.
pub async fn provider_remove_config(
    store: &Store,
    config: &Config,
    code: &str,
    out: &mut dyn Write,
) -> CliResult<ProviderView> {
    providers::ensure_built_in(store).await?;
    let p = providers::remove_config(store, &config.public_url, ACTOR_CLI, code).await?;
    writeln!(out, "Removed the {} configuration.", p.name)?;
    Ok(p)
}

/// `nexpay providers test-payment`: a 100 XOF live payment on the default project,
/// through the payments service reached over `bus`.
pub async fn provider_test_payment(
    store: &Store,
    config: &Config,
    bus: Option<&dyn nexpay_bus::Bus>,
    code: &str,
    phone: Option<&str>,
    out: &mut dyn Write,
) -> CliResult<TestPayment> {
    providers::ensure_built_in(store).await?;
    let correlation = format!("cli_{}", nexpay_security::random_hex(8));
    let payment = providers::test_payment(
        store,
        bus,
        config.rpc_timeout,
        ACTOR_CLI,
        code,
        phone,
        &correlation,
    )
    .await?;
    writeln!(
        out,
        "Live test payment {} created: {} {} with {}.",
        payment.reference, payment.amount, payment.currency, payment.provider
    )?;
    if let Some(url) = &payment.checkout_url {
        writeln!(out, "Pay it from your phone: {url}")?;
    }
    if let Some(at) = &payment.expires_at {
        writeln!(out, "Expires at: {at}")?;
    }
    if let Some(qr) = &payment.qr_code {
        writeln!(out, "QR code (PNG, base64): {qr}")?;
    }
    Ok(payment)
}

/// The broker of the distributed deployment (`AMQP_URL`), for `providers test-payment`;
/// `None` when it is not set.
pub async fn connect_bus(config: &Config) -> anyhow::Result<Option<Arc<dyn nexpay_bus::Bus>>> {
    if config.amqp_url.is_none() {
        return Ok(None);
    }
    let bus = nexpay_runtime::connect_bus(config, "cli").await?;
    Ok(Some(Arc::new(bus)))
}

// ------------------------------------------------------------------------------- webhooks

/// `nexpay webhooks list`: the endpoints of a project, both modes.
pub async fn webhooks_list(
    store: &Store,
    project_id: &str,
    out: &mut dyn Write,
) -> CliResult<Vec<EndpointView>> {
    let list = webhooks::list_endpoints(store, project_id).await?;
    let url_width = list
        .iter()
        .map(|e| e.url.chars().count())
        .max()
        .unwrap_or(0);
    writeln!(
        out,
        "{:<28}  {:<4}  {:<8}  {:<8}  {:<url_width$}  EVENTS",
        "ID", "MODE", "ENABLED", "SECRET", "URL"
    )?;
    for e in &list {
        let secret = format!("…{}", e.secret.last4);
        writeln!(
            out,
            "{:<28}  {:<4}  {:<8}  {secret:<8}  {:<url_width$}  {}",
            e.id,
            e.mode,
            yes_no(e.enabled),
            e.url,
            events_text(&e.event_types)
        )?;
    }
    Ok(list)
}

fn events_text(types: &[String]) -> String {
    if types.is_empty() {
        "all".to_owned()
    } else {
        types.join(",")
    }
}

fn print_endpoint(out: &mut dyn Write, e: &EndpointView) -> std::io::Result<()> {
    writeln!(out, "Endpoint {} ({} mode)", e.id, e.mode)?;
    writeln!(out, "  url: {}", e.url)?;
    writeln!(out, "  enabled: {}", yes_no(e.enabled))?;
    if let Some(reason) = &e.disabled_reason {
        writeln!(out, "  disabled because: {reason}")?;
    }
    if let Some(at) = e.failing_since {
        writeln!(out, "  failing since: {}", at.format(TIME_FORMAT))?;
    }
    writeln!(out, "  events: {}", events_text(&e.event_types))?;
    writeln!(out, "  legacy signature header: {}", e.header_name)?;
    writeln!(out, "  secret: configured (ends with {})", e.secret.last4)?;
    if let Some(at) = e.previous_secret_expires_at {
        writeln!(
            out,
            "  previous secret valid until: {}",
            at.format(TIME_FORMAT)
        )?;
    }
    if let Some(d) = &e.description {
        writeln!(out, "  description: {d}")?;
    }
    Ok(())
}

fn print_secret_once(out: &mut dyn Write, created: &EndpointWithSecret) -> std::io::Result<()> {
    writeln!(
        out,
        "Signing secret (shown only this once, store it now in your receiver's configuration): {}",
        created.signing_secret.expose()
    )
}

/// `nexpay webhooks create`: the signing secret is printed here and never again. The
/// secret is generated unless `input.secret` holds one (read from a variable by the
/// binary, never from the arguments).
pub async fn webhooks_create(
    store: &Store,
    config: &Config,
    project_id: &str,
    input: &CreateEndpointInput,
    out: &mut dyn Write,
) -> CliResult<EndpointWithSecret> {
    let created = webhooks::create_endpoint(store, config, ACTOR_CLI, project_id, input).await?;
    writeln!(
        out,
        "Created {} webhook endpoint {} for the project.",
        created.endpoint.mode, created.endpoint.id
    )?;
    print_endpoint(out, &created.endpoint)?;
    print_secret_once(out, &created)?;
    Ok(created)
}

/// `nexpay webhooks update`.
pub async fn webhooks_update(
    store: &Store,
    config: &Config,
    project_id: &str,
    endpoint_id: &str,
    input: &UpdateEndpointInput,
    out: &mut dyn Write,
) -> CliResult<EndpointView> {
    let e =
        webhooks::update_endpoint(store, config, ACTOR_CLI, project_id, endpoint_id, input).await?;
    writeln!(out, "Updated webhook endpoint {}.", e.id)?;
    print_endpoint(out, &e)?;
    Ok(e)
}

/// `nexpay webhooks delete`: what the endpoint still had to deliver is failed.
pub async fn webhooks_delete(
    store: &Store,
    project_id: &str,
    endpoint_id: &str,
    out: &mut dyn Write,
) -> CliResult<()> {
    webhooks::delete_endpoint(store, ACTOR_CLI, project_id, endpoint_id).await?;
    writeln!(
        out,
        "Deleted webhook endpoint {endpoint_id}; its pending deliveries are failed."
    )?;
    Ok(())
}

/// `nexpay webhooks rotate-secret`: prints the new secret once and until when the old
/// one keeps signing.
pub async fn webhooks_rotate_secret(
    store: &Store,
    config: &Config,
    project_id: &str,
    endpoint_id: &str,
    input: &RotateSecretInput,
    out: &mut dyn Write,
) -> CliResult<EndpointWithSecret> {
    let rotated =
        webhooks::rotate_secret(store, config, ACTOR_CLI, project_id, endpoint_id, input).await?;
    writeln!(
        out,
        "New signing secret for webhook endpoint {}.",
        rotated.endpoint.id
    )?;
    print_secret_once(out, &rotated)?;
    match rotated.endpoint.previous_secret_expires_at {
        Some(at) => writeln!(
            out,
            "The previous secret keeps signing deliveries until {}: deploy the new one before then.",
            at.format(TIME_FORMAT)
        )?,
        None => writeln!(out, "The previous secret no longer signs deliveries.")?,
    }
    Ok(rotated)
}

/// `nexpay webhooks deliveries`: newest first.
pub async fn webhooks_deliveries(
    store: &Store,
    project_id: &str,
    endpoint_id: &str,
    status: Option<&str>,
    limit: Option<i64>,
    out: &mut dyn Write,
) -> CliResult<Vec<DeliveryView>> {
    let list = webhooks::list_deliveries(store, project_id, endpoint_id, status, limit).await?;
    writeln!(
        out,
        "{:<30}  {:<17}  {:<9}  {:<8}  {:<4}  {:<20}  LAST ERROR",
        "ID", "EVENT", "STATUS", "ATTEMPTS", "HTTP", "CREATED"
    )?;
    for d in &list {
        let code = d
            .last_status_code
            .map(|c| c.to_string())
            .unwrap_or_default();
        writeln!(
            out,
            "{:<30}  {:<17}  {:<9}  {:<8}  {code:<4}  {:<20}  {}",
            d.id,
            d.event_type,
            d.status,
            d.attempts,
            d.created_at.format(TIME_FORMAT),
            d.last_error.as_deref().unwrap_or("")
        )?;
    }
    Ok(list)
}

/// `nexpay webhooks resend`: the delivery is due again at once, attempts back to 0.
pub async fn webhooks_resend(
    store: &Store,
    delivery_id: &str,
    out: &mut dyn Write,
) -> CliResult<DeliveryView> {
    let d = webhooks::resend_delivery(store, ACTOR_CLI, delivery_id).await?;
    writeln!(
        out,
        "Delivery {} ({} {}) will be sent again shortly.",
        d.id, d.event_type, d.reference
    )?;
    Ok(d)
}

/// `nexpay webhooks resend-failed`: every failed delivery of the endpoint created since
/// `since` (RFC 3339).
pub async fn webhooks_resend_failed(
    store: &Store,
    project_id: &str,
    endpoint_id: &str,
    since: &str,
    out: &mut dyn Write,
) -> CliResult<usize> {
    let n = webhooks::resend_failed(store, ACTOR_CLI, project_id, endpoint_id, Some(since)).await?;
    writeln!(
        out,
        "{n} failed deliver{} will be sent again shortly.",
        if n == 1 { "y" } else { "ies" }
    )?;
    Ok(n)
}
