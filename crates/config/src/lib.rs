#![forbid(unsafe_code)]
//! Typed configuration, layered: built-in defaults < optional file (`NEXPAY_CONFIG`,
//! `KEY=VALUE` lines with the same names as the environment) < environment. The seed
//! application's variable names keep working.

mod secrets;
pub use secrets::write_private;
mod source;
mod webhooks;

use std::path::PathBuf;
use std::time::Duration;

use nexpay_security::Secret;

pub use source::Source;
pub use webhooks::{parse_duration, WebhookSettings};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    Development,
    Production,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name}: {message}")]
    Invalid { name: &'static str, message: String },
    #[error("cannot use the data directory {path}: {message}")]
    DataDir { path: String, message: String },
}

impl ConfigError {
    fn invalid(name: &'static str, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            name,
            message: message.into(),
        }
    }
}

/// Configuration of one NexPay process. Secrets are `Secret`, so `{:?}` never prints
/// them.
#[derive(Debug, Clone)]
pub struct Config {
    pub mode: RunMode,
    pub http_host: String,
    pub http_port: u16,
    /// Public base URL of the instance, used in `checkoutUrl` and provider callbacks.
    pub public_url: String,
    pub data_dir: PathBuf,
    pub database_url: Secret,
    pub db_max_connections: usize,
    /// `HTTP_WORKERS`: threads serving HTTP; unset or 0 is one per CPU, as actix-web
    /// chooses. A replica given one CPU runs best with 1.
    pub http_workers: usize,
    pub amqp_url: Option<Secret>,
    pub redis_url: Option<Secret>,
    /// `ENCRYPTION_KEY`, which seals and opens provider secrets. Only the process that
    /// holds it (provider-adapter, or standalone) has it: see [`Keys`].
    pub encryption_key: Option<Secret>,
    /// `WEBHOOK_SECRETS_KEY`, which seals and opens merchant webhook secrets (dashboard,
    /// webhook-dispatcher, standalone).
    pub webhook_secrets_key: Option<Secret>,
    pub webhooks: WebhookSettings,
    pub jwt_secret: Secret,
    pub admin_email: String,
    pub admin_password: Option<Secret>,
    pub x_write_key: Option<Secret>,
    pub x_read_key: Option<Secret>,
    pub traefik_enable_ssl: bool,
    pub session_ttl: Duration,
    pub max_body_bytes: usize,
    pub idempotency_ttl: Duration,
    pub rpc_timeout: Duration,
    pub sweep_interval: Duration,
    /// Where provider-adapter reaches the provider simulators of test mode
    /// (`SANDBOX_URL`; the public URL when unset, as standalone serves them itself).
    pub sandbox_url: Option<String>,
    /// Where the simulators send their webhooks (`SANDBOX_CALLBACK_URL`; the public URL
    /// when unset, which routes `/api/v1/webhook/*` to provider-adapter).
    pub sandbox_callback_url: Option<String>,
    /// Reconciliation: first status check of an open attempt after this long, then every
    /// `reconcile_interval` until the attempt's expiry plus `reconcile_grace`.
    pub reconcile_first_check: Duration,
    pub reconcile_interval: Duration,
    pub reconcile_grace: Duration,
    /// Sustained requests per second allowed per API key; 0 turns the limit off.
    pub rate_limit_per_sec: u32,
    /// Requests per API key allowed in a burst (the token bucket's size).
    pub rate_limit_burst: u32,
    pub log_json: bool,
    /// Generated secrets this start persisted (dev mode only), for the first-start banner.
    pub generated_secrets: Vec<&'static str>,
}

/// The sealing keys a process holds. Each key is read only by the processes that need
/// it, so a compromised service does not give away secrets it never uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keys {
    /// `ENCRYPTION_KEY`: provider secrets (provider-adapter).
    pub encryption: bool,
    /// `WEBHOOK_SECRETS_KEY`: merchant webhook secrets (dashboard, webhook-dispatcher).
    pub webhook_secrets: bool,
}

impl Keys {
    pub const ALL: Keys = Keys {
        encryption: true,
        webhook_secrets: true,
    };
    pub const NONE: Keys = Keys {
        encryption: false,
        webhook_secrets: false,
    };
}

impl Config {
    /// Reads the process environment (and `NEXPAY_CONFIG` when set).
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::load(Source::from_env()?)
    }

    /// Loads the configuration of a process that holds every key (standalone, the CLI):
    /// each is required in production and generated once in development.
    pub fn load(src: Source) -> Result<Config, ConfigError> {
        Config::load_for(src, Keys::ALL)
    }

    /// Like [`Config::from_env`], for a process that holds only the keys in `keys`.
    pub fn from_env_for(keys: Keys) -> Result<Config, ConfigError> {
        Config::load_for(Source::from_env()?, keys)
    }

    /// Loads the configuration of a process that holds only the keys in `keys`: the
    /// others are not read, even when its environment sets them.
    pub fn load_for(src: Source, keys: Keys) -> Result<Config, ConfigError> {
        Config::load_as(src, keys)
    }

    fn load_as(src: Source, keys: Keys) -> Result<Config, ConfigError> {
        let mode = match src
            .get("NEXPAY_ENV")
            .or_else(|| src.get("NODE_ENV"))
            .as_deref()
        {
            Some("production") | Some("prod") => RunMode::Production,
            _ => RunMode::Development,
        };
        let http_port = src.parse_or("PORT", 9090u16)?;
        let http_host = src.get("HOST").unwrap_or_else(|| "0.0.0.0".to_owned());
        let app_domain = src.get("APP_DOMAIN");
        let ssl = src.parse_bool_or("TRAEFIK_ENABLE_SSL", false)?;
        let public_url = match (src.get("PUBLIC_URL"), &app_domain) {
            (Some(url), _) => url,
            (None, Some(domain)) if mode == RunMode::Production || ssl => {
                format!("https://{domain}")
            }
            (None, Some(domain)) => format!("http://{domain}"),
            (None, None) => format!("http://localhost:{http_port}"),
        };
        let public_url = public_url.trim_end_matches('/').to_owned();
        url::Url::parse(&public_url)
            .map_err(|e| ConfigError::invalid("PUBLIC_URL", format!("not a URL: {e}")))?;

        let data_dir = PathBuf::from(
            src.get("NEXPAY_DATA_DIR")
                .unwrap_or_else(|| "./data".to_owned()),
        );
        let database_url = match src.get("DATABASE_URL") {
            Some(url) => url,
            None => match src.get("DB_HOST") {
                Some(host) => legacy_database_url(&src, &host),
                None => format!("sqlite://{}", data_dir.join("nexpay.db").display()),
            },
        };
        let redis_url = src.get("REDIS_URL").or_else(|| {
            src.get("REDIS_HOST").map(|host| {
                let port = src.get("REDIS_PORT").unwrap_or_else(|| "6379".to_owned());
                match src.get("REDIS_PASSWORD") {
                    Some(pw) => format!("redis://:{pw}@{host}:{port}"),
                    None => format!("redis://{host}:{port}"),
                }
            })
        });

        let rate_limit_per_sec = src.parse_or("RATE_LIMIT_PER_SEC", 50u32)?;
        let rate_limit_burst = src.parse_or("RATE_LIMIT_BURST", 100u32)?;
        if rate_limit_per_sec > 0 && rate_limit_burst == 0 {
            return Err(ConfigError::invalid(
                "RATE_LIMIT_BURST",
                "must be at least 1 while RATE_LIMIT_PER_SEC is set (0 would refuse every request)",
            ));
        }

        let secrets = secrets::resolve(&src, mode, &data_dir, keys)?;
        let webhooks = WebhookSettings::load(&src, mode)?;
        Ok(Config {
            mode,
            http_host,
            http_port,
            public_url,
            data_dir,
            database_url: Secret::new(database_url),
            db_max_connections: src.parse_or("DB_MAX_CONNECTIONS", 16usize)?,
            http_workers: match src.parse_or("HTTP_WORKERS", 0usize)? {
                0 => one_per_cpu(),
                n => n,
            },
            amqp_url: src.get("AMQP_URL").map(Secret::new),
            redis_url: redis_url.map(Secret::new),
            encryption_key: secrets.encryption_key,
            webhook_secrets_key: secrets.webhook_secrets_key,
            webhooks,
            jwt_secret: secrets.jwt_secret,
            admin_email: src
                .get("ADMIN_EMAIL")
                .unwrap_or_else(|| "admin@nexpay.local".to_owned())
                .trim()
                .to_lowercase(),
            admin_password: secrets.admin_password,
            x_write_key: secrets.x_write_key,
            x_read_key: secrets.x_read_key,
            traefik_enable_ssl: ssl,
            session_ttl: Duration::from_secs(src.parse_or("SESSION_TTL_SECONDS", 1800u64)?),
            max_body_bytes: src.parse_or("MAX_BODY_BYTES", 64 * 1024usize)?,
            idempotency_ttl: Duration::from_secs(
                3600 * src.parse_or("IDEMPOTENCY_TTL_HOURS", 24u64)?.max(24),
            ),
            rpc_timeout: Duration::from_millis(src.parse_or("RPC_TIMEOUT_MS", 10_000u64)?),
            sweep_interval: Duration::from_millis(src.parse_or("SWEEP_INTERVAL_MS", 5_000u64)?),
            sandbox_url: src
                .get("SANDBOX_URL")
                .map(|u| u.trim_end_matches('/').to_owned()),
            sandbox_callback_url: src
                .get("SANDBOX_CALLBACK_URL")
                .map(|u| u.trim_end_matches('/').to_owned()),
            reconcile_first_check: Duration::from_millis(
                src.parse_or("RECONCILE_FIRST_CHECK_MS", 60_000u64)?,
            ),
            reconcile_interval: Duration::from_millis(
                src.parse_or("RECONCILE_INTERVAL_MS", 300_000u64)?.max(100),
            ),
            reconcile_grace: Duration::from_millis(src.parse_or("RECONCILE_GRACE_MS", 600_000u64)?),
            rate_limit_per_sec,
            rate_limit_burst,
            log_json: src.get("LOG_FORMAT").as_deref() == Some("json"),
            generated_secrets: secrets.generated,
        })
    }

    /// Base URL of the provider simulators for test mode.
    pub fn sandbox_base(&self) -> &str {
        self.sandbox_url.as_deref().unwrap_or(&self.public_url)
    }

    /// Base URL the simulators send their webhooks to.
    pub fn sandbox_callback_base(&self) -> &str {
        self.sandbox_callback_url
            .as_deref()
            .unwrap_or(&self.public_url)
    }

    pub fn is_production(&self) -> bool {
        self.mode == RunMode::Production
    }

    /// The same URL with the password hidden, for logs.
    pub fn database_url_redacted(&self) -> String {
        redact(self.database_url.expose())
    }
}

fn legacy_database_url(src: &Source, host: &str) -> String {
    let port = src.get("DB_PORT").unwrap_or_else(|| "5432".to_owned());
    let user = src.get("DB_USER").unwrap_or_else(|| "postgres".to_owned());
    let name = src.get("DB_NAME").unwrap_or_else(|| "nexpay".to_owned());
    match src.get("DB_PASSWORD") {
        Some(pw) => format!("postgres://{user}:{pw}@{host}:{port}/{name}"),
        None => format!("postgres://{user}@{host}:{port}/{name}"),
    }
}

pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// actix-web's own default worker count.
fn one_per_cpu() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
