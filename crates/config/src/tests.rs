use super::*;

/// A data directory of its own, removed when the test ends.
struct TmpDir(PathBuf);

impl std::ops::Deref for TmpDir {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dir() -> TmpDir {
    let d = std::env::temp_dir().join(format!("nexpay-config-{}", nexpay_security::random_hex(8)));
    std::fs::create_dir_all(&d).unwrap();
    TmpDir(d)
}

fn dev(extra: &[(&str, &str)]) -> (Config, TmpDir) {
    let d = dir();
    let mut pairs: Vec<(String, String)> =
        vec![("NEXPAY_DATA_DIR".into(), d.display().to_string())];
    pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    (Config::load(Source::from_pairs(pairs)).unwrap(), d)
}

const KEY: &str = "q83vEi7XnA8pG1bX0mD5yR2wL4kT9cZ6uH3sJ7fN1eQ=";
const WEBHOOK_KEY: &str = "Zk3mP0qR8sT2uV6wX1yA5bC9dE4fG7hJ2kL6nM0pQ3s=";
const JWT: &str = "h7Gk2LmN9pQ4rS1tU8vW3xY6zA5bC0dE2fG7hJ9kL";
const PW: &str = "Correct-Horse-42-battery";
const WK: &str = "legacyWriteKey-7f3a9c2e1b5d8f0a";
const RK: &str = "legacyReadKey-2b8e4f6a0c9d1e3f7";

#[test]
fn dev_generates_secrets_once_and_reuses_them() {
    let (first, d) = dev(&[]);
    assert_eq!(
        first.generated_secrets,
        vec![
            "ENCRYPTION_KEY",
            "WEBHOOK_SECRETS_KEY",
            "JWT_SECRET",
            "ADMIN_PASSWORD"
        ]
    );
    let pairs = vec![("NEXPAY_DATA_DIR".to_string(), d.display().to_string())];
    let second = Config::load(Source::from_pairs(pairs)).unwrap();
    assert!(second.generated_secrets.is_empty());
    assert_eq!(
        first.encryption_key.as_ref().unwrap().expose(),
        second.encryption_key.as_ref().unwrap().expose()
    );
    assert_eq!(first.jwt_secret.expose(), second.jwt_secret.expose());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join("secrets.env"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn defaults_and_seed_variable_names() {
    let (c, d) = dev(&[
        ("DB_HOST", "db"),
        ("DB_USER", "np"),
        ("DB_PASSWORD", "s3cret"),
        ("DB_NAME", "nexpay"),
        ("APP_DOMAIN", "pay.example.com"),
        ("REDIS_HOST", "cache"),
        ("REDIS_PASSWORD", "rpw"),
    ]);
    assert_eq!(c.http_port, 9090);
    assert_eq!(
        c.database_url.expose(),
        "postgres://np:s3cret@db:5432/nexpay"
    );
    assert_eq!(
        c.database_url_redacted(),
        "postgres://np:***@db:5432/nexpay"
    );
    assert_eq!(c.public_url, "http://pay.example.com");
    assert_eq!(
        c.redis_url.as_ref().unwrap().expose(),
        "redis://:rpw@cache:6379"
    );
    let (c2, _) = dev(&[]);
    assert_eq!(
        c2.database_url.expose(),
        format!("sqlite://{}", c2.data_dir.join("nexpay.db").display())
    );
    assert_eq!(c2.public_url, "http://localhost:9090");
    drop(d);
}

#[test]
fn debug_output_never_shows_secrets() {
    let (c, _) = dev(&[
        ("JWT_SECRET", JWT),
        ("ENCRYPTION_KEY", KEY),
        ("DATABASE_URL", "postgres://u:topsecretpw@h/db"),
    ]);
    let dbg = format!("{c:?}");
    assert!(
        !dbg.contains(JWT) && !dbg.contains(KEY) && !dbg.contains("topsecretpw"),
        "{dbg}"
    );
}

fn prod(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let d = dir();
    let mut all: Vec<(String, String)> = vec![
        ("NEXPAY_ENV".into(), "production".into()),
        ("NEXPAY_DATA_DIR".into(), d.display().to_string()),
    ];
    all.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::load(Source::from_pairs(all))
}

#[test]
fn production_refuses_missing_or_weak_secrets_with_a_fix() {
    let good = [
        ("ENCRYPTION_KEY", KEY),
        ("WEBHOOK_SECRETS_KEY", WEBHOOK_KEY),
        ("JWT_SECRET", JWT),
        ("ADMIN_PASSWORD", PW),
        ("X_WRITE_KEY", WK),
        ("X_READ_KEY", RK),
        ("APP_DOMAIN", "pay.example.com"),
    ];
    let c = prod(&good).unwrap();
    assert!(c.is_production());
    assert_eq!(c.public_url, "https://pay.example.com");
    for (name, bad) in [
        ("ENCRYPTION_KEY", None),
        ("ENCRYPTION_KEY", Some("short")),
        ("WEBHOOK_SECRETS_KEY", None),
        ("WEBHOOK_SECRETS_KEY", Some("short")),
        ("JWT_SECRET", None),
        ("JWT_SECRET", Some("changeme-changeme-changeme-changeme")),
        ("ADMIN_PASSWORD", None),
        ("ADMIN_PASSWORD", Some("admin123")),
        ("X_WRITE_KEY", None),
        ("X_READ_KEY", Some("weak")),
    ] {
        let pairs: Vec<(&str, &str)> = good
            .iter()
            .filter(|(k, _)| *k != name)
            .copied()
            .chain(bad.map(|b| (name, b)))
            .collect();
        let err = prod(&pairs).expect_err(name).to_string();
        assert!(err.starts_with(name), "{err}");
        assert!(
            err.contains("openssl")
                || err.contains("required")
                || err.contains("least")
                || err.contains("password"),
            "{err}"
        );
    }
}

#[test]
fn invalid_values_are_named() {
    let d = dir();
    for (name, bad) in [("PORT", "ninety"), ("HTTP_WORKERS", "two")] {
        let err = Config::load(Source::from_pairs([
            (name, bad),
            ("NEXPAY_DATA_DIR", d.to_str().unwrap()),
        ]))
        .unwrap_err();
        assert!(err.to_string().starts_with(name), "{err}");
    }
}

#[test]
fn file_layer_is_overridden_by_environment() {
    let mut src = Source::from_pairs([("PORT", "8000")]);
    src.merge_file("# comment\nPORT=7000\nAPP_DOMAIN=\"from.file\"\n");
    assert_eq!(src.get("APP_DOMAIN").as_deref(), Some("from.file"));
}

#[test]
fn http_workers_default_to_actix_and_can_be_set() {
    let per_cpu = std::thread::available_parallelism().unwrap().get();
    for (value, expected) in [(None, per_cpu), (Some("0"), per_cpu), (Some("1"), 1)] {
        let pairs: Vec<_> = value.map(|v| ("HTTP_WORKERS", v)).into_iter().collect();
        let (c, _) = dev(&pairs);
        assert_eq!(c.http_workers, expected, "HTTP_WORKERS={value:?}");
    }
}

#[test]
fn rate_limit_defaults_and_overrides() {
    let (c, _) = dev(&[]);
    assert_eq!((c.rate_limit_per_sec, c.rate_limit_burst), (50, 100));
    let (c, _) = dev(&[("RATE_LIMIT_PER_SEC", "5"), ("RATE_LIMIT_BURST", "7")]);
    assert_eq!((c.rate_limit_per_sec, c.rate_limit_burst), (5, 7));
    let (c, _) = dev(&[("RATE_LIMIT_PER_SEC", "0"), ("RATE_LIMIT_BURST", "0")]);
    assert_eq!(c.rate_limit_per_sec, 0, "0 turns the limit off");
    let d = dir();
    for (per_sec, burst, name) in [
        ("-1", "10", "RATE_LIMIT_PER_SEC"),
        ("fast", "10", "RATE_LIMIT_PER_SEC"),
        ("10", "0", "RATE_LIMIT_BURST"),
    ] {
        let err = Config::load(Source::from_pairs([
            ("RATE_LIMIT_PER_SEC", per_sec),
            ("RATE_LIMIT_BURST", burst),
            ("NEXPAY_DATA_DIR", d.to_str().unwrap()),
        ]))
        .unwrap_err();
        assert!(err.to_string().starts_with(name), "{err}");
    }
}

#[test]
fn only_the_key_holder_reads_the_encryption_key() {
    // In production a service that does not hold the key starts without it, and does
    // not take it even when its environment sets it.
    let d = dir();
    let base = [
        ("NEXPAY_ENV", "production"),
        ("JWT_SECRET", JWT),
        ("ADMIN_PASSWORD", PW),
        ("X_WRITE_KEY", WK),
        ("X_READ_KEY", RK),
        ("APP_DOMAIN", "pay.example.com"),
    ];
    let pairs = |extra: &[(&'static str, &'static str)]| -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> =
            vec![("NEXPAY_DATA_DIR".into(), d.display().to_string())];
        all.extend(
            base.iter()
                .chain(extra)
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        all
    };
    let without = Config::load_for(Source::from_pairs(pairs(&[])), Keys::NONE).unwrap();
    assert!(without.encryption_key.is_none());
    let given = Config::load_for(
        Source::from_pairs(pairs(&[("ENCRYPTION_KEY", KEY)])),
        Keys::NONE,
    );
    assert!(given.unwrap().encryption_key.is_none());
    // The holder still refuses to start without it.
    let err = Config::load(Source::from_pairs(pairs(&[])))
        .unwrap_err()
        .to_string();
    assert!(err.contains("ENCRYPTION_KEY"), "{err}");
    let holder = Config::load(Source::from_pairs(pairs(&[
        ("ENCRYPTION_KEY", KEY),
        ("WEBHOOK_SECRETS_KEY", WEBHOOK_KEY),
    ])))
    .unwrap();
    assert_eq!(holder.encryption_key.unwrap().expose(), KEY);
}

#[test]
fn dev_processes_sharing_a_data_dir_keep_one_key() {
    // A service without the key starts first and persists the secrets it generated;
    // the key holder then adds the key, and a later start of either keeps everything.
    let d = dir();
    let pairs = || vec![("NEXPAY_DATA_DIR".to_string(), d.display().to_string())];
    let first = Config::load_for(Source::from_pairs(pairs()), Keys::NONE).unwrap();
    assert_eq!(
        first.generated_secrets,
        vec!["JWT_SECRET", "ADMIN_PASSWORD"]
    );
    let text = std::fs::read_to_string(d.join("secrets.env")).unwrap();
    assert!(!text.contains("ENCRYPTION_KEY"), "{text}");

    let holder = Config::load(Source::from_pairs(pairs())).unwrap();
    assert_eq!(
        holder.generated_secrets,
        vec!["ENCRYPTION_KEY", "WEBHOOK_SECRETS_KEY"]
    );
    assert_eq!(holder.jwt_secret.expose(), first.jwt_secret.expose());
    let key = holder.encryption_key.unwrap().expose().to_owned();

    let again = Config::load(Source::from_pairs(pairs())).unwrap();
    assert!(again.generated_secrets.is_empty());
    assert_eq!(again.encryption_key.unwrap().expose(), key);
    let other = Config::load_for(Source::from_pairs(pairs()), Keys::NONE).unwrap();
    assert!(other.generated_secrets.is_empty());
    assert_eq!(other.jwt_secret.expose(), first.jwt_secret.expose());
}

#[test]
fn webhook_settings_have_defaults_and_parse_durations() {
    let (c, _) = dev(&[]);
    let w = &c.webhooks;
    let secs: Vec<u64> = w.retry_schedule.iter().map(|d| d.as_secs()).collect();
    assert_eq!(secs, vec![5, 300, 1800, 7200, 18000, 36000, 36000]);
    assert_eq!(w.give_up_after.as_secs(), 3 * 86400);
    assert_eq!(w.timeout.as_secs(), 15);
    assert!(w.allow_private_urls, "development allows local receivers");
    let (c, _) = dev(&[
        ("WEBHOOK_RETRY_SCHEDULE", "200ms, 1s,2m"),
        ("WEBHOOK_TIMEOUT", "500ms"),
        ("WEBHOOK_ALLOW_PRIVATE_URLS", "false"),
    ]);
    let ms: Vec<u128> = c
        .webhooks
        .retry_schedule
        .iter()
        .map(|d| d.as_millis())
        .collect();
    assert_eq!(ms, vec![200, 1000, 120_000]);
    assert_eq!(c.webhooks.timeout.as_millis(), 500);
    assert!(!c.webhooks.allow_private_urls);
    for (key, bad) in [
        ("WEBHOOK_RETRY_SCHEDULE", "5s,,5m"),
        ("WEBHOOK_RETRY_SCHEDULE", "0s"),
        ("WEBHOOK_TIMEOUT", "fast"),
        ("WEBHOOK_GIVE_UP_AFTER", "3w"),
    ] {
        let d = dir();
        let pairs = vec![
            ("NEXPAY_DATA_DIR".to_string(), d.display().to_string()),
            (key.to_string(), bad.to_string()),
        ];
        let err = Config::load(Source::from_pairs(pairs))
            .unwrap_err()
            .to_string();
        assert!(err.contains(key), "{key}={bad}: {err}");
    }
}
