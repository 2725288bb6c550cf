//! The `nexpay` binary as an operator runs it: first start, restart, CLI subcommands,
//! production refusals.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn nexpay(data_dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nexpay"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NEXPAY_DATA_DIR", data_dir)
        .env("HOST", "127.0.0.1")
        .env("RUST_LOG", "warn");
    cmd
}

fn temp_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "nexpay-bin-{}-{}",
        std::process::id(),
        nexpay_security::random_hex(6)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Running {
    child: Child,
    stdout: Vec<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `nexpay` and collects its stdout until it answers /health/ready.
fn start(data_dir: &std::path::Path, port: u16) -> Running {
    let mut child = nexpay(data_dir)
        .env("PORT", port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "nexpay did not become ready");
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            if let Ok(resp) = reqwest::blocking_get(port) {
                if resp == 200 {
                    break;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut stdout = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(300)) {
        stdout.push(line);
    }
    Running { child, stdout }
}

mod reqwest {
    /// Minimal blocking probe without pulling the blocking client feature.
    pub fn blocking_get(port: u16) -> std::io::Result<u16> {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
        s.write_all(b"GET /health/ready HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
        let mut buf = String::new();
        s.read_to_string(&mut buf)?;
        Ok(buf.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0))
    }
}

fn find_key(lines: &[String], prefix: &str) -> Option<String> {
    lines.iter().find_map(|l| {
        l.split_whitespace()
            .find(|w| w.starts_with(prefix))
            .map(str::to_owned)
    })
}

#[test]
fn first_start_prints_keys_once_and_restart_keeps_them() {
    let dir = temp_dir();
    let port = free_port();
    let first = start(&dir, port);
    let write_key =
        find_key(&first.stdout, "nxp_sk_test_").expect("first start prints the test write key");
    assert!(
        find_key(&first.stdout, "nxp_pk_test_").is_some(),
        "and the read key"
    );
    let creds = dir.join("first-start-credentials.txt");
    let text = std::fs::read_to_string(&creds).unwrap();
    assert!(text.contains(&write_key));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&creds).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let health = |p: u16| {
        nexpay(&dir)
            .arg("health")
            .env("PORT", p.to_string())
            .status()
            .unwrap()
            .code()
    };
    assert_eq!(
        health(port),
        Some(0),
        "the container health check sees a live instance"
    );
    drop(first);
    assert_eq!(health(port), Some(1), "and a dead one");
    let second = start(&dir, port);
    assert!(
        find_key(&second.stdout, "nxp_sk_test_").is_none(),
        "keys are printed only at the first start: {:?}",
        second.stdout
    );
    drop(second);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn cli_manages_projects_and_keys_without_a_browser() {
    let dir = temp_dir();
    let run = |args: &[&str]| {
        let out = nexpay(&dir).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let migrated = run(&["migrate"]);
    assert!(migrated.contains("migration(s) applied"), "{migrated}");
    assert!(
        run(&["migrate"]).starts_with("0 migration(s)"),
        "migrations are applied once"
    );
    let created = run(&[
        "project",
        "create",
        "Boutique Dakar",
        "--success-url",
        "https://shop.example/ok",
    ]);
    let project_id = created
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| c == '(' || c == ')'))
        .find(|w| w.starts_with("proj_"))
        .expect("project id printed")
        .trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .to_owned();
    assert!(run(&["project", "list"]).contains("Boutique Dakar"));
    let key_out = run(&[
        "keys",
        "create",
        &project_id,
        "--kind",
        "write",
        "--mode",
        "live",
    ]);
    let key = key_out
        .split_whitespace()
        .find(|w| w.starts_with("nxp_sk_live_"))
        .expect("full key shown once")
        .to_owned();
    let listed = run(&["keys", "list", &project_id]);
    assert!(!listed.contains(&key), "listing never shows the full key");
    assert!(
        listed.contains(&key[..15]),
        "but shows its prefix: {listed}"
    );
    let bad = nexpay(&dir)
        .args(["keys", "create", &project_id, "--kind", "admin"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn production_refuses_to_start_with_missing_secrets_and_says_how_to_fix_it() {
    let dir = temp_dir();
    let out = nexpay(&dir)
        .env("NEXPAY_ENV", "production")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ENCRYPTION_KEY") && err.contains("openssl rand"),
        "{err}"
    );
    assert!(
        !dir.join("nexpay.db").exists(),
        "nothing is created before the configuration is valid"
    );
    let _ = std::fs::remove_dir_all(dir);
}
