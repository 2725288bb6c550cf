//! A fresh RabbitMQ vhost per test stack, created and deleted with `rabbitmqctl`
//! (`RABBITMQCTL` overrides the command), so concurrent tests never share queues.

use std::process::Command;

fn rabbitmqctl() -> String {
    std::env::var("RABBITMQCTL").unwrap_or_else(|_| "rabbitmqctl".to_owned())
}

/// `rabbitmqctl --quiet args...`, off the async runtime's worker threads.
pub async fn ctl(args: &[&str]) -> anyhow::Result<String> {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(rabbitmqctl())
            .arg("--quiet")
            .args(&args)
            .output()
            .map_err(|e| anyhow::anyhow!("running rabbitmqctl {args:?}: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        anyhow::ensure!(
            out.status.success(),
            "rabbitmqctl {args:?} failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(stdout)
    })
    .await?
}

/// A vhost deleted on drop (also when the test panics).
pub struct Vhost {
    pub name: String,
}

impl Vhost {
    pub async fn create(name: String) -> anyhow::Result<Vhost> {
        ctl(&["add_vhost", &name]).await?;
        let vhost = Vhost { name };
        ctl(&[
            "set_permissions",
            "-p",
            &vhost.name,
            "guest",
            ".*",
            ".*",
            ".*",
        ])
        .await?;
        Ok(vhost)
    }

    /// `AMQP_TEST_URL` (default guest@127.0.0.1:5672) with this vhost.
    pub fn url(&self) -> String {
        let base = std::env::var("NEXPAY_TEST_AMQP_URL")
            .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672".to_owned());
        format!("{}/{}", base.trim_end_matches('/'), self.name)
    }

    /// The broker drops every connection of this vhost.
    pub async fn close_all_connections(&self) -> anyhow::Result<()> {
        ctl(&["close_all_connections", "-p", &self.name, "test"]).await?;
        Ok(())
    }
}

impl Drop for Vhost {
    fn drop(&mut self) {
        let _ = Command::new(rabbitmqctl())
            .args(["--quiet", "delete_vhost", &self.name])
            .output();
    }
}
