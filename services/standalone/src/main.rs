#![forbid(unsafe_code)]
//! `nexpay`: runs the whole product in one process (default), or performs an operator
//! task (`migrate`, `project`, `keys`, `admin`).

use clap::{Parser, Subcommand};
use nexpay_config::Config;
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
    /// Administer admin accounts.
    #[command(subcommand)]
    Admin(AdminCmd),
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
    let config = match Config::from_env() {
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
