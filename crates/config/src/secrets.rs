//! Secrets: required and strong in production (a clear start-up error says how to fix
//! it); generated ONCE in development and kept in `<data dir>/secrets.env` (mode 0600),
//! never a new random key per start, which would make sealed data unreadable.

use std::path::Path;

use nexpay_security::{
    check_password_strength, is_weak_encryption_key, register_external_key, KeyKind, KeyMode,
    SealingKey, Secret,
};

use crate::source::Source;
use crate::{ConfigError, RunMode};

pub(crate) struct Resolved {
    pub encryption_key: Option<Secret>,
    pub webhook_secrets_key: Option<Secret>,
    pub jwt_secret: Secret,
    pub admin_password: Option<Secret>,
    pub x_write_key: Option<Secret>,
    pub x_read_key: Option<Secret>,
    pub generated: Vec<&'static str>,
}

pub const SECRETS_FILE: &str = "secrets.env";

/// Values published in examples and old READMEs: never acceptable.
const KNOWN_EXAMPLES: &[&str] = &[
    "changeme",
    "change-me",
    "secret",
    "your-secret",
    "jwt_secret",
    "nexpay",
];

pub(crate) fn resolve(
    src: &Source,
    mode: RunMode,
    data_dir: &Path,
    keys: crate::Keys,
) -> Result<Resolved, ConfigError> {
    let production = mode == RunMode::Production;
    let mut stored = Source::default();
    let path = data_dir.join(SECRETS_FILE);
    if !production {
        if let Ok(text) = std::fs::read_to_string(&path) {
            stored.merge_file(&text);
        }
    }
    let mut generated = Vec::new();

    // A process reads only the keys it holds; the others are not read even when a
    // shared environment file sets them.
    let mut key = |name: &'static str, held: bool| -> Result<Option<String>, ConfigError> {
        if !held {
            return Ok(None);
        }
        match src.get(name).or_else(|| stored.get(name)) {
            Some(k) if !is_weak_encryption_key(&k) => Ok(Some(k)),
            Some(_) => Err(ConfigError::invalid(
                name,
                "must be 32 random bytes in base64; generate one with `openssl rand -base64 32`",
            )),
            None if production => Err(ConfigError::invalid(
                name,
                "is required in production; generate one with `openssl rand -base64 32`",
            )),
            None => {
                generated.push(name);
                Ok(Some(SealingKey::generate().1))
            }
        }
    };
    let encryption_key = key("ENCRYPTION_KEY", keys.encryption)?;
    let webhook_secrets_key = key("WEBHOOK_SECRETS_KEY", keys.webhook_secrets)?;
    let jwt_secret = match src.get("JWT_SECRET").or_else(|| stored.get("JWT_SECRET")) {
        Some(s) if production && is_weak_token_secret(&s) => {
            return Err(ConfigError::invalid("JWT_SECRET", "is too weak (at least 32 random characters, not an example value); generate one with `openssl rand -base64 48`"))
        }
        Some(s) => s,
        None if production => return Err(ConfigError::invalid("JWT_SECRET", "is required in production; generate one with `openssl rand -base64 48`")),
        None => {
            generated.push("JWT_SECRET");
            nexpay_security::random_base62(48)
        }
    };
    let admin_password = match src.get("ADMIN_PASSWORD").or_else(|| stored.get("ADMIN_PASSWORD")) {
        Some(p) => {
            if production {
                check_password_strength(&p).map_err(|e| ConfigError::invalid("ADMIN_PASSWORD", format!("{e}")))?;
            }
            Some(p)
        }
        None if production => return Err(ConfigError::invalid("ADMIN_PASSWORD", "is required in production (the first admin's password; it must be changed at first login)")),
        None => {
            generated.push("ADMIN_PASSWORD");
            Some(nexpay_security::random_base62(20))
        }
    };
    let x_write_key = legacy_key(src, "X_WRITE_KEY", KeyKind::Write, production)?;
    let x_read_key = legacy_key(src, "X_READ_KEY", KeyKind::Read, production)?;

    if !generated.is_empty() {
        // A process that does not hold a key keeps the one another process of the
        // same data directory generated.
        let kept_key = encryption_key
            .clone()
            .or_else(|| stored.get("ENCRYPTION_KEY"));
        let kept_webhook_key = webhook_secrets_key
            .clone()
            .or_else(|| stored.get("WEBHOOK_SECRETS_KEY"));
        let mut values = Vec::new();
        if let Some(key) = &kept_key {
            values.push(("ENCRYPTION_KEY", key.as_str()));
        }
        if let Some(key) = &kept_webhook_key {
            values.push(("WEBHOOK_SECRETS_KEY", key.as_str()));
        }
        values.push(("JWT_SECRET", &jwt_secret));
        values.push((
            "ADMIN_PASSWORD",
            admin_password.as_deref().unwrap_or_default(),
        ));
        persist(&path, &values)?;
    }
    Ok(Resolved {
        encryption_key: encryption_key.map(Secret::new),
        webhook_secrets_key: webhook_secrets_key.map(Secret::new),
        jwt_secret: Secret::new(jwt_secret),
        admin_password: admin_password.map(Secret::new),
        x_write_key,
        x_read_key,
        generated,
    })
}

fn legacy_key(
    src: &Source,
    name: &'static str,
    kind: KeyKind,
    production: bool,
) -> Result<Option<Secret>, ConfigError> {
    match src.get(name) {
        Some(v) => {
            register_external_key(&v, kind, KeyMode::Live).map_err(|e| ConfigError::invalid(name, e.to_string()))?;
            Ok(Some(Secret::new(v)))
        }
        None if production => Err(ConfigError::invalid(name, "is required in production (a live API key of the default project); generate one with `openssl rand -base64 32`")),
        None => Ok(None),
    }
}

pub(crate) fn is_weak_token_secret(s: &str) -> bool {
    let lower = s.to_lowercase();
    let distinct = s.chars().collect::<std::collections::HashSet<_>>().len();
    s.len() < 32 || distinct < 10 || KNOWN_EXAMPLES.iter().any(|e| lower.contains(e))
}

fn persist(path: &Path, values: &[(&str, &str)]) -> Result<(), ConfigError> {
    let err = |e: std::io::Error| ConfigError::DataDir {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let mut text =
        String::from("# Generated once by NexPay in development mode. Keep this file private.\n");
    for (k, v) in values {
        text.push_str(&format!("{k}={v}\n"));
    }
    write_private(path, &text).map_err(err)
}

/// Writes a file readable by its owner only.
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(path)?;
    f.write_all(text.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}
