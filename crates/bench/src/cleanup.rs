//! What the benchmark leaves behind, undone at the end whatever happened: the child,
//! temp directories, PostgreSQL databases.

use std::path::PathBuf;
use std::time::Duration;

use crate::child::Instance;
use crate::pg;

/// Everything to undo at the end, whatever happened.
#[derive(Default)]
pub struct Cleanup {
    pub instance: Option<Instance>,
    pub services: Option<crate::distributed::Services>,
    pub dirs: Vec<PathBuf>,
    pub pg_databases: Vec<String>,
    pub pg_admin_url: String,
    pub stop: Option<String>,
}

impl Cleanup {
    pub async fn stop_child(&mut self) {
        if let Some(mut inst) = self.instance.take() {
            let how = inst.stop(Duration::from_secs(10)).await;
            self.stop = Some(how);
        }
    }

    pub async fn stop_services(&mut self) {
        if let Some(mut services) = self.services.take() {
            services.stop().await;
        }
    }

    pub async fn finish(mut self) {
        self.stop_child().await;
        self.stop_services().await;
        for dir in &self.dirs {
            let _ = std::fs::remove_dir_all(dir);
        }
        for name in &self.pg_databases {
            if let Err(e) = pg::drop_database(&self.pg_admin_url, name).await {
                eprintln!("warning: could not drop database {name}: {e:#}");
            }
        }
    }
}

/// Fails (keeping the child's log) if the child died during `phase`.
pub fn check_alive(cleanup: &mut Cleanup, phase: &str) -> anyhow::Result<()> {
    let Some(inst) = cleanup.instance.as_mut() else {
        return Ok(());
    };
    let Some(status) = inst.exited() else {
        return Ok(());
    };
    let kept = inst
        .keep_log()
        .map(|p| format!(" (whole log kept in {})", p.display()))
        .unwrap_or_default();
    anyhow::bail!(
        "nexpay exited during {phase}: {status}{kept}; last lines of its log:\n{}",
        inst.log_tail(30)
    )
}
