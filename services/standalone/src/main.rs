#![forbid(unsafe_code)]
//! `nexpay`: runs the whole product in one process (default), or performs an operator
//! task (`migrate`, `project`, `keys`, `providers`, `webhooks`, `admin`).

use clap::{Parser, Subcommand};
use nexpay_config::{Config, Keys};
use nexpay_dashboard::cli;
use nexpay_security::{KeyKind, KeyMode};
use nexpay_store::Store;

#[derive(Parser)]
#[command(
    name = "nexpay",
    version,
    about = "NexPay: Wave and Orange Money through one API"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Start every service in this process (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Exit 0 when a NexPay process answers 200 (container health checks; images have
    /// no curl). Default: this instance's /health/live on 127.0.0.1:PORT.
    Health {
        /// Another address, e.g. `http://127.0.0.1:8081/health/ready`.
        #[arg(long)]
        url: Option<String>,
    },
    /// Manage projects.
    #[command(subcommand)]
    Project(ProjectCmd),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Configure the payment providers (Wave, Orange Money) of the instance.
    #[command(subcommand)]
    Providers(ProvidersCmd),
    /// Manage the merchant webhook endpoints of a project, and their deliveries.
    #[command(subcommand)]
    Webhooks(WebhooksCmd),
    /// Administer admin accounts.
    #[command(subcommand)]
    Admin(AdminCmd),
}

/// Endpoint secrets are never command-line arguments: NexPay generates one, or reads
/// yours from the environment variable named by `--secret-env`.
#[derive(Subcommand)]
enum WebhooksCmd {
    /// List the endpoints of a project (both modes).
    List { project_id: String },
    /// Add an endpoint; prints its signing secret once.
    Create {
        project_id: String,
        /// Where to POST the events (https://…).
        #[arg(long)]
        url: String,
        /// live (default) or test: which payments' events it receives.
        #[arg(long, default_value = "live")]
        mode: String,
        /// Header of the legacy signature (default x-webhook-secret).
        #[arg(long = "header", value_name = "NAME")]
        header: Option<String>,
        /// Comma-separated event types (default: all), e.g.
        /// payment.succeeded,payment.failed.
        #[arg(long, value_name = "TYPES")]
        events: Option<String>,
        /// A note for admins (at most 200 characters).
        #[arg(long, value_name = "TEXT")]
        description: Option<String>,
        /// Variable holding your own secret (20 to 200 printable characters); without
        /// it, NexPay generates one (whsec_…).
        #[arg(long, value_name = "VAR")]
        secret_env: Option<String>,
    },
    /// Change an endpoint: only the options given.
    Update {
        project_id: String,
        endpoint_id: String,
        /// A new receiver URL.
        #[arg(long)]
        url: Option<String>,
        /// Comma-separated event types; an empty value means all.
        #[arg(long, value_name = "TYPES")]
        events: Option<String>,
        /// Send events to it again (clears what NexPay recorded when it disabled it).
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        /// Stop sending events to it.
        #[arg(long)]
        disable: bool,
        /// An empty value clears it.
        #[arg(long, value_name = "TEXT")]
        description: Option<String>,
    },
    /// Delete an endpoint; its pending deliveries are failed.
    Delete {
        project_id: String,
        endpoint_id: String,
    },
    /// Give an endpoint a new signing secret; prints it once. The old one keeps signing
    /// for the grace period.
    RotateSecret {
        project_id: String,
        endpoint_id: String,
        /// 0 to 168 (default WEBHOOK_SECRET_GRACE, 24 hours); 0 ends the old secret now.
        #[arg(long, value_name = "N")]
        grace_hours: Option<i64>,
        /// Variable holding your own new secret; without it, NexPay generates one.
        #[arg(long, value_name = "VAR")]
        secret_env: Option<String>,
    },
    /// List the deliveries of an endpoint, newest first.
    Deliveries {
        project_id: String,
        endpoint_id: String,
        /// pending, succeeded or failed.
        #[arg(long)]
        status: Option<String>,
        /// 1 to 500 (default 100).
        #[arg(long, value_name = "N")]
        limit: Option<i64>,
    },
    /// Send one delivery again.
    Resend { delivery_id: String },
    /// Send again the failed deliveries of an endpoint created since a time.
    ResendFailed {
        project_id: String,
        endpoint_id: String,
        /// RFC 3339, e.g. 2025-10-30T00:00:00Z.
        #[arg(long)]
        since: String,
    },
}

/// Secrets are never command-line arguments (shell history, `ps`): each is read from the
/// environment variable named by its `--…-env` option, or else asked for on standard
/// input (one line each, in the order of the options below).
#[derive(Subcommand)]
enum ProvidersCmd {
    /// List the providers: enabled, live, what is missing, the webhook URL to register.
    List,
    /// Show one provider's configuration (secrets as "configured" and last 4 characters).
    Show { code: String },
    /// Save a provider's configuration (replaces the previous one entirely).
    #[command(subcommand)]
    Configure(ConfigureCmd),
    /// Delete a provider's configuration: it can no longer take live payments.
    RemoveConfig { code: String },
    /// Offer the provider to customers.
    Enable { code: String },
    /// Stop offering the provider.
    Disable { code: String },
    /// Create a 100 XOF live payment on the default project and print how to pay it
    /// (needs AMQP_URL: the distributed deployment's broker).
    TestPayment {
        code: String,
        /// The payer's number, recorded with the payment.
        #[arg(long)]
        phone: Option<String>,
    },
}

#[derive(Subcommand)]
enum ConfigureCmd {
    /// Wave: API key, optional request-signing secret, webhook secret.
    Wave {
        /// Variable holding the API key (wave_sn_prod_…); asked for when absent.
        #[arg(long, value_name = "VAR")]
        api_key_env: Option<String>,
        /// The API key was created with request signing: give its secret (wave_sn_AKS_…).
        #[arg(long)]
        request_signing: bool,
        /// Variable holding the request-signing secret (implies --request-signing).
        #[arg(long, value_name = "VAR")]
        request_signing_secret_env: Option<String>,
        /// Security strategy of the webhook registered in Wave's portal:
        /// shared_secret or signing_secret. Without it, the webhook stays missing.
        #[arg(long, value_name = "STRATEGY")]
        webhook_strategy: Option<String>,
        /// Variable holding the webhook secret (wave_sn_WHS_…).
        #[arg(long, value_name = "VAR")]
        webhook_secret_env: Option<String>,
        /// Default: https://api.wave.com.
        #[arg(long)]
        base_url: Option<String>,
    },
    /// Orange Money: client credentials, merchant account, callback.
    Om {
        /// Variable holding the client id; asked for when absent.
        #[arg(long, value_name = "VAR")]
        client_id_env: Option<String>,
        /// Variable holding the client secret; asked for when absent.
        #[arg(long, value_name = "VAR")]
        client_secret_env: Option<String>,
        /// The 6-digit merchant code issued by Sonatel.
        #[arg(long)]
        merchant_code: String,
        /// The merchant name shown to payers.
        #[arg(long)]
        merchant_name: String,
        /// auto (NexPay generates the apiKey and registers the callback) or manual
        /// (you registered it with your own apiKey). Without it, the webhook stays
        /// missing.
        #[arg(long, value_name = "STRATEGY")]
        webhook_strategy: Option<String>,
        /// Variable holding your callback apiKey (manual strategy).
        #[arg(long, value_name = "VAR")]
        webhook_api_key_env: Option<String>,
        /// Sonatel issued an X-Sonatel-Signature endpoint secret: give it.
        #[arg(long)]
        signing_secret: bool,
        /// Variable holding the endpoint secret (implies --signing-secret).
        #[arg(long, value_name = "VAR")]
        signing_secret_env: Option<String>,
        /// Default: https://api.orange-sonatel.com.
        #[arg(long)]
        base_url: Option<String>,
        /// Default: /oauth/v1/token.
        #[arg(long)]
        token_path: Option<String>,
    },
}

#[derive(Subcommand)]
enum ProjectCmd {
    Create {
        name: String,
        #[arg(long)]
        success_url: Option<String>,
        #[arg(long)]
        cancel_url: Option<String>,
        #[arg(long)]
        failure_url: Option<String>,
    },
    List,
}

#[derive(Subcommand)]
enum KeysCmd {
    Create {
        project_id: String,
        #[arg(long, default_value = "write")]
        kind: String,
        #[arg(long, default_value = "test")]
        mode: String,
        #[arg(long)]
        label: Option<String>,
    },
    List {
        project_id: String,
    },
    Rotate {
        project_id: String,
        key_id: String,
        #[arg(long, default_value_t = 86_400)]
        grace_secs: i64,
    },
    Revoke {
        project_id: String,
        key_id: String,
    },
}

#[derive(Subcommand)]
enum AdminCmd {
    ResetPassword {
        email: String,
        #[arg(long)]
        password: Option<String>,
    },
}

fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,actix_server=warn".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // A command reads only the keys it uses: serving runs every service, so it holds
    // them all; saving a provider configuration seals with ENCRYPTION_KEY; webhook
    // endpoint commands seal with WEBHOOK_SECRETS_KEY. Health checks and the other
    // commands work in any container, which may hold no key.
    let keys = match &cli.command {
        None | Some(Command::Serve) => Keys::ALL,
        Some(Command::Providers(ProvidersCmd::Configure(_))) => Keys {
            encryption: true,
            webhook_secrets: false,
        },
        Some(Command::Webhooks(WebhooksCmd::Create { .. } | WebhooksCmd::RotateSecret { .. })) => {
            Keys {
                encryption: false,
                webhook_secrets: true,
            }
        }
        _ => Keys::NONE,
    };
    let mut loaded = Config::from_env_for(keys);
    // In development, `nexpay migrate` also generates every key once into the data
    // directory, so the services of a local distributed stack all read the same ones.
    if matches!(cli.command, Some(Command::Migrate))
        && loaded.as_ref().is_ok_and(|c| !c.is_production())
    {
        loaded = Config::from_env_for(Keys::ALL);
    }
    let config = match loaded {
        Ok(c) => c,
        Err(e) => {
            eprintln!("nexpay: configuration error: {e}");
            std::process::exit(2);
        }
    };
    init_tracing(config.log_json);
    let mut out = std::io::stdout();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let public_url = config.public_url.clone();
            let app = nexpay_standalone::Application::build(config).await?;
            if let Some(fs) = &app.first_start {
                println!("{}", fs.banner());
            }
            tracing::info!(port = app.port(), "NexPay listening on {public_url}");
            app.run_until_stopped().await?;
        }
        Command::Health { url } => {
            let url =
                url.unwrap_or_else(|| format!("http://127.0.0.1:{}/health/live", config.http_port));
            let ok = probe(&url);
            std::process::exit(if ok { 0 } else { 1 });
        }
        Command::Migrate => {
            let n = nexpay_store::run_migrations(config.database_url.expose()).await?;
            println!("{n} migration(s) applied");
        }
        other => {
            let store = Store::connect(config.database_url.expose(), 2).await?;
            match other {
                Command::Project(ProjectCmd::Create {
                    name,
                    success_url,
                    cancel_url,
                    failure_url,
                }) => cli::project_create(
                    &store,
                    &config,
                    &name,
                    success_url.as_deref(),
                    cancel_url.as_deref(),
                    failure_url.as_deref(),
                    &mut out,
                )
                .await
                .map(drop)?,
                Command::Project(ProjectCmd::List) => {
                    cli::project_list(&store, &mut out).await.map(drop)?
                }
                Command::Keys(KeysCmd::Create {
                    project_id,
                    kind,
                    mode,
                    label,
                }) => {
                    let kind = KeyKind::parse(&kind)
                        .ok_or_else(|| anyhow::anyhow!("--kind must be read or write"))?;
                    let mode = KeyMode::parse(&mode)
                        .ok_or_else(|| anyhow::anyhow!("--mode must be test or live"))?;
                    cli::keys_create(&store, &project_id, kind, mode, label.as_deref(), &mut out)
                        .await
                        .map(drop)?
                }
                Command::Keys(KeysCmd::List { project_id }) => {
                    cli::keys_list(&store, &project_id, &mut out)
                        .await
                        .map(drop)?
                }
                Command::Keys(KeysCmd::Rotate {
                    project_id,
                    key_id,
                    grace_secs,
                }) => cli::keys_rotate_with_cache(
                    &store,
                    shared_cache(&config)?.as_deref(),
                    &project_id,
                    &key_id,
                    Some(grace_secs),
                    &mut out,
                )
                .await
                .map(drop)?,
                Command::Keys(KeysCmd::Revoke { project_id, key_id }) => {
                    cli::keys_revoke_with_cache(
                        &store,
                        shared_cache(&config)?.as_deref(),
                        &project_id,
                        &key_id,
                        &mut out,
                    )
                    .await
                    .map(drop)?
                }
                Command::Providers(cmd) => providers(&store, &config, cmd, &mut out).await?,
                Command::Webhooks(cmd) => webhooks(&store, &config, cmd, &mut out).await?,
                Command::Admin(AdminCmd::ResetPassword { email, password }) => {
                    cli::admin_reset_password(&store, &email, password, &mut out)
                        .await
                        .map(drop)?
                }
                Command::Serve | Command::Migrate | Command::Health { .. } => {}
            }
        }
    }
    Ok(())
}

async fn providers(
    store: &Store,
    config: &Config,
    cmd: ProvidersCmd,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    use nexpay_dashboard::providers::{OmInput, OmWebhookInput, WaveInput, WaveWebhookInput};
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut prompt = std::io::stderr();
    let mut secret = |label: &str, var: Option<String>| {
        cli::read_secret(label, var.as_deref(), &mut input, &mut prompt)
    };
    match cmd {
        ProvidersCmd::List => drop(cli::providers_list(store, config, out).await?),
        ProvidersCmd::Show { code } => drop(cli::provider_show(store, config, &code, out).await?),
        ProvidersCmd::Enable { code } => {
            drop(cli::provider_set_enabled(store, config, &code, true, out).await?)
        }
        ProvidersCmd::Disable { code } => {
            drop(cli::provider_set_enabled(store, config, &code, false, out).await?)
        }
        ProvidersCmd::RemoveConfig { code } => {
            drop(cli::provider_remove_config(store, config, &code, out).await?)
        }
        ProvidersCmd::Configure(ConfigureCmd::Wave {
            api_key_env,
            request_signing,
            request_signing_secret_env,
            webhook_strategy,
            webhook_secret_env,
            base_url,
        }) => {
            let api_key = secret("Wave API key", api_key_env)?;
            let request_signing_secret = if request_signing || request_signing_secret_env.is_some()
            {
                Some(secret(
                    "Wave request-signing secret",
                    request_signing_secret_env,
                )?)
            } else {
                None
            };
            let webhook = match webhook_strategy {
                Some(strategy) => Some(WaveWebhookInput {
                    strategy: Some(strategy),
                    secret: Some(secret("Wave webhook secret", webhook_secret_env)?),
                }),
                None => None,
            };
            let input = WaveInput {
                api_key: Some(api_key),
                request_signing_secret,
                webhook,
                base_url,
            };
            drop(cli::provider_configure_wave(store, config, &input, out).await?);
        }
        ProvidersCmd::Configure(ConfigureCmd::Om {
            client_id_env,
            client_secret_env,
            merchant_code,
            merchant_name,
            webhook_strategy,
            webhook_api_key_env,
            signing_secret,
            signing_secret_env,
            base_url,
            token_path,
        }) => {
            let client_id = secret("Orange Money client id", client_id_env)?;
            let client_secret = secret("Orange Money client secret", client_secret_env)?;
            let webhook = match webhook_strategy {
                Some(strategy) => {
                    let api_key = if strategy == "manual" {
                        Some(secret("Orange Money callback apiKey", webhook_api_key_env)?)
                    } else {
                        None
                    };
                    let signing_secret = if signing_secret || signing_secret_env.is_some() {
                        Some(secret("Orange Money endpoint secret", signing_secret_env)?)
                    } else {
                        None
                    };
                    Some(OmWebhookInput {
                        strategy: Some(strategy),
                        api_key,
                        signing_secret,
                    })
                }
                None => None,
            };
            let input = OmInput {
                client_id: Some(client_id),
                client_secret: Some(client_secret),
                merchant_code: Some(merchant_code),
                merchant_name: Some(merchant_name),
                webhook,
                base_url,
                token_path,
            };
            drop(cli::provider_configure_om(store, config, &input, out).await?);
        }
        ProvidersCmd::TestPayment { code, phone } => {
            let Some(bus) = cli::connect_bus(config).await? else {
                anyhow::bail!(
                    "the test payment goes through the payments service, which the command \
                     line reaches over RabbitMQ (AMQP_URL). On the all-in-one server, use the \
                     admin API instead: POST /admin/api/v1/providers/{code}/test-payment"
                );
            };
            drop(
                cli::provider_test_payment(
                    store,
                    config,
                    Some(bus.as_ref()),
                    &code,
                    phone.as_deref(),
                    out,
                )
                .await?,
            );
        }
    }
    Ok(())
}

/// Comma-separated event types; an empty list means all of them.
fn event_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn webhooks(
    store: &Store,
    config: &Config,
    cmd: WebhooksCmd,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    use nexpay_dashboard::webhooks::{CreateEndpointInput, RotateSecretInput, UpdateEndpointInput};
    // Only ever from a variable: without --secret-env, NexPay generates the secret.
    let secret = |var: Option<String>| -> anyhow::Result<_> {
        let Some(var) = var else {
            return Ok(None);
        };
        let mut no_input = std::io::empty();
        let mut no_prompt = std::io::sink();
        Ok(Some(cli::read_secret(
            "Webhook secret",
            Some(&var),
            &mut no_input,
            &mut no_prompt,
        )?))
    };
    match cmd {
        WebhooksCmd::List { project_id } => {
            drop(cli::webhooks_list(store, &project_id, out).await?)
        }
        WebhooksCmd::Create {
            project_id,
            url,
            mode,
            header,
            events,
            description,
            secret_env,
        } => {
            let input = CreateEndpointInput {
                url: Some(url),
                mode: Some(mode),
                header_name: header,
                secret: secret(secret_env)?,
                event_types: events.as_deref().map(event_list),
                enabled: None,
                description,
            };
            drop(cli::webhooks_create(store, config, &project_id, &input, out).await?);
        }
        WebhooksCmd::Update {
            project_id,
            endpoint_id,
            url,
            events,
            enable,
            disable,
            description,
        } => {
            let enabled = match (enable, disable) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            };
            let input = UpdateEndpointInput {
                url,
                header_name: None,
                event_types: events.as_deref().map(event_list),
                enabled,
                description: description.map(|d| Some(d).filter(|d| !d.is_empty())),
            };
            drop(
                cli::webhooks_update(store, config, &project_id, &endpoint_id, &input, out).await?,
            );
        }
        WebhooksCmd::Delete {
            project_id,
            endpoint_id,
        } => cli::webhooks_delete(store, &project_id, &endpoint_id, out).await?,
        WebhooksCmd::RotateSecret {
            project_id,
            endpoint_id,
            grace_hours,
            secret_env,
        } => {
            let input = RotateSecretInput {
                secret: secret(secret_env)?,
                grace_hours,
            };
            drop(
                cli::webhooks_rotate_secret(store, config, &project_id, &endpoint_id, &input, out)
                    .await?,
            );
        }
        WebhooksCmd::Deliveries {
            project_id,
            endpoint_id,
            status,
            limit,
        } => drop(
            cli::webhooks_deliveries(
                store,
                &project_id,
                &endpoint_id,
                status.as_deref(),
                limit,
                out,
            )
            .await?,
        ),
        WebhooksCmd::Resend { delivery_id } => {
            drop(cli::webhooks_resend(store, &delivery_id, out).await?)
        }
        WebhooksCmd::ResendFailed {
            project_id,
            endpoint_id,
            since,
        } => {
            cli::webhooks_resend_failed(store, &project_id, &endpoint_id, &since, out).await?;
        }
    }
    Ok(())
}

/// The distributed services' Redis (`REDIS_URL`), so a key revoked or rotated from the
/// command line leaves their key caches at once; `None` without Redis (a standalone
/// server notices the change through its key fingerprint within a second).
fn shared_cache(config: &Config) -> anyhow::Result<Option<Box<dyn nexpay_cache::Cache>>> {
    let Some(url) = &config.redis_url else {
        return Ok(None);
    };
    let prefix = std::env::var("REDIS_KEY_PREFIX").unwrap_or_else(|_| "nexpay:".into());
    let redis = nexpay_cache::RedisCache::connect(url.expose(), &prefix)
        .map_err(|e| anyhow::anyhow!("REDIS_URL: {e}"))?;
    Ok(Some(Box::new(nexpay_cache::FailOpen::new(redis))))
}

/// A dependency-free HTTP/1.0 probe: true when `url` (plain http) answers 200.
fn probe(url: &str) -> bool {
    use std::io::{Read, Write};
    let Some(rest) = url.strip_prefix("http://") else {
        eprintln!("nexpay health: only http:// URLs are supported");
        return false;
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let Ok(mut s) = std::net::TcpStream::connect(authority) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(3)));
    let request = format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n");
    if s.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).is_ok() && &buf[9..12] == b"200"
}
