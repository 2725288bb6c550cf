//! Throw-away PostgreSQL databases for `--backend postgres`, created and dropped through
//! the server's maintenance database.

use anyhow::Context;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use nexpay_store::testing::replace_db_name;

pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Creates `name` (a fixed alphabet: `nexpay_bench_<pid>[_suffix]`) and returns its URL.
pub async fn create_database(admin_url: &str, name: &str) -> anyhow::Result<String> {
    let mut admin = AsyncPgConnection::establish(admin_url)
        .await
        .with_context(|| {
            format!(
                "cannot reach PostgreSQL at {}",
                nexpay_store::redact_url(admin_url)
            )
        })?;
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .with_context(|| format!("CREATE DATABASE {name}"))?;
    Ok(replace_db_name(admin_url, name))
}

pub async fn drop_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let mut admin = AsyncPgConnection::establish(admin_url).await?;
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    Ok(())
}

/// The server's version and durability settings, for the report (through `psql`, when
/// it is installed).
pub fn server_info(admin_url: &str) -> Option<String> {
    let sql = "SELECT 'PostgreSQL ' || current_setting('server_version') || ', fsync=' || current_setting('fsync') \
               || ', synchronous_commit=' || current_setting('synchronous_commit')";
    let out = std::process::Command::new("psql")
        .args([admin_url, "-Atc", sql])
        .output()
        .ok()?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !v.is_empty()).then_some(v)
}
