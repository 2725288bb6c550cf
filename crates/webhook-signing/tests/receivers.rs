//! Our signatures against real, independent receivers:
//!
//! - the Express app the old NexPay README told merchants to write (HMAC of
//!   `JSON.stringify(req.body)` after `express.json()`), as a real HTTP server;
//! - the `standardwebhooks` libraries from npm and PyPI;
//! - every runnable snippet of `docs/webhooks.md` (Node, Python, PHP), extracted from the
//!   file and run as a server;
//! - Node's `JSON.stringify(JSON.parse(body))` on many bodies, which must give back the body.
//!
//! The tools come from `bash .ci/webhook-receivers-setup`, which installs them under
//! `$NEXPAY_RECEIVERS_DIR` (default `$HOME/.cache/nexpay-receivers`). When one is missing, a
//! test fails under CI (`CI` set) and otherwise prints what is missing and returns.

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use nexpay_webhook_signing::{js_compact, signed_headers};
use serde_json::{json, Value};

const LEGACY_HEADER: &str = "X-Webhook-Secret";
/// The endpoint secret before a rotation.
const OLD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// The endpoint secret after a rotation.
const NEW_SECRET: &str = "whsec_3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGho=";
/// A secret the receivers do not know.
const OTHER_SECRET: &str = "whsec_c29tZSBvdGhlciBlbmRwb2ludCdzIHNlY3JldCE=";
/// Where the documented servers listen.
const WEBHOOK_PATH: &str = "/webhooks/nexpay";

// ---------------------------------------------------------------------------------------
// Bodies

fn merchant_body(kind: &str, status: &str, event: &str, data: Value) -> Value {
    let mut body = json!({
        "type": kind,
        "data": {
            "amount": "100800",
            "client_reference": "nexpay-ref-30-10-2025",
            "status": status,
            "resolvedAt": "2025-10-30T17:29:58.109Z",
            "payer": {"name": "Mouhamed baba", "email": "someone@example.com", "phone": "+22177123456"},
            "provider": {"name": "Wave", "code": "wave"},
            "project": {"id": "proj_123", "name": "the nexcom"},
            "metadata": {"order_id": "ORDER-123"},
            "reference": "NEXPAY_TX_0123456789ABCDEF",
            "sessionId": "cs_x",
            "currency": "XOF",
            "mode": "live",
            "late": false
        },
        "id": event,
        "created_at": "2025-10-30T17:29:58.120Z"
    });
    if let (Some(target), Value::Object(overrides)) = (body["data"].as_object_mut(), data) {
        for (key, value) in overrides {
            target.insert(key, value);
        }
    }
    body
}

/// Realistic merchant webhook bodies, serialized with `js_compact`.
fn bodies() -> Vec<Vec<u8>> {
    let values = [
        merchant_body(
            "payment.succeeded",
            "SUCCEEDED",
            "evt_01JBKQ3V8Y6ZK2",
            json!({}),
        ),
        merchant_body(
            "payment.failed",
            "FAILED",
            "evt_01JBKQ3V8Y6ZK3",
            json!({
                "payer": {"name": "Aïssatou Ndiaye", "email": "aissatou@example.sn", "phone": "+221770000001"},
                "provider": {"name": "Orange Money", "code": "orange_money"},
                "project": {"id": "proj_456", "name": "Séverine & Co 🎉"},
                "metadata": {"note": "Commande n°42 — livraison à Dakar", "greeting": "مرحبا بالعالم"}
            }),
        ),
        merchant_body(
            "payment.pending",
            "PENDING",
            "evt_01JBKQ3V8Y6ZK4",
            json!({
                "payer": {"name": "عائشة بنت محمد 🇸🇳", "email": null, "phone": "+22177123456"},
                "metadata": {
                    "return_url": "https://shop.example.com/checkout/return?order=ORDER-123&lang=fr&next=%2Faccount",
                    "html": "<b>Merci</b> & à bientôt </script><script>alert(1)</script>",
                    "path": "C:\\orders\\2025\\10/30",
                    "quote": "He said \"paid\"\nthen left\ttab\r\n",
                    "separators": "line\u{2028}para\u{2029}end",
                    "controls": "bell\u{07} nul\u{00} esc\u{1b} del\u{7f}"
                }
            }),
        ),
        merchant_body(
            "payment.cancelled",
            "CANCELLED",
            "evt_01JBKQ3V8Y6ZK5",
            json!({
                "metadata": {
                    "order_id": "ORDER-9",
                    "2": "second",
                    "10": "tenth",
                    "1": "first",
                    "01": "not an index",
                    "4294967295": "not an index either",
                    "items": [
                        {"sku": "A/1", "qty": 2, "3": "x", "0": "y"},
                        {"sku": "B", "qty": 1, "price": {"amount": "5000", "currency": "XOF"}}
                    ],
                    "nested": {"b": "a", "0": "b", "deep": {"9": [1, 2, {"k": "v", "8": null}], "7": true}}
                }
            }),
        ),
        merchant_body(
            "payment.expired",
            "EXPIRED",
            "evt_01JBKQ3V8Y6ZK6",
            json!({
                "payer": {"name": "Séverine Diop", "email": "s.diop+test@example.com", "phone": "+2250700000000"},
                "metadata": {"cart": [[], {}, [{"1": "one", "0": "zero"}]], "count": 9_007_199_254_740_991_i64}
            }),
        ),
        merchant_body(
            "payment.succeeded",
            "SUCCEEDED",
            "evt_01JBKQ3V8Y6ZK7",
            json!({"late": true, "client_reference": null, "metadata": {}}),
        ),
    ];
    values.iter().map(|v| js_compact(v).into_bytes()).collect()
}

/// The body with one byte changed: the first digit of the amount.
fn tamper(body: &[u8]) -> Vec<u8> {
    let marker = br#""amount":""#;
    let at = body
        .windows(marker.len())
        .position(|w| w == marker)
        .expect("every test body has an amount")
        + marker.len();
    let mut tampered = body.to_vec();
    tampered[at] = if tampered[at] == b'9' {
        b'1'
    } else {
        tampered[at] + 1
    };
    tampered
}

fn now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs();
    i64::try_from(secs).expect("seconds fit in i64")
}

// ---------------------------------------------------------------------------------------
// Tools

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// `Some(tool)`, or: under CI a failure, elsewhere a printed note and `None`.
fn require<T>(test: &str, found: Result<T, String>) -> Option<T> {
    match found {
        Ok(tool) => Some(tool),
        Err(missing) => {
            let message = format!(
                "{test}: {missing}; install the receivers with `bash .ci/webhook-receivers-setup`"
            );
            assert!(!in_ci(), "CI is set, so this is a failure: {message}");
            println!("SKIPPED (not in CI) {message}");
            eprintln!("SKIPPED (not in CI) {message}");
            None
        }
    }
}

fn receivers_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("NEXPAY_RECEIVERS_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    Path::new(&home).join(".cache/nexpay-receivers")
}

fn runs(program: &Path, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Node with `express` and `standardwebhooks` installed under the receivers directory.
struct Node {
    node_path: PathBuf,
}

fn node() -> Result<Node, String> {
    if !runs(Path::new("node"), &["--version"]) {
        return Err("`node` is not on PATH".to_owned());
    }
    let node_path = receivers_dir().join("node_modules");
    for module in ["express", "standardwebhooks"] {
        if !node_path.join(module).join("package.json").is_file() {
            return Err(format!(
                "the npm package `{module}` is missing from {}",
                node_path.display()
            ));
        }
    }
    Ok(Node { node_path })
}

impl Node {
    fn command(&self, script: &Path) -> Command {
        let mut command = Command::new("node");
        command.arg(script).env("NODE_PATH", &self.node_path);
        command
    }
}

/// The receivers virtual environment's Python, with the PyPI package `standardwebhooks`.
fn python() -> Result<PathBuf, String> {
    let python = receivers_dir().join("venv/bin/python");
    if !python.is_file() {
        return Err(format!("no virtual environment at {}", python.display()));
    }
    if !runs(&python, &["-c", "import standardwebhooks"]) {
        return Err(format!(
            "the PyPI package `standardwebhooks` is missing from {}",
            python.display()
        ));
    }
    Ok(python)
}

fn php() -> Result<PathBuf, String> {
    if runs(Path::new("php"), &["--version"]) {
        Ok(PathBuf::from("php"))
    } else {
        Err("`php` is not on PATH (Debian package php-cli)".to_owned())
    }
}

// ---------------------------------------------------------------------------------------
// Processes

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "nexpay-webhook-signing-{}-{name}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create a scratch directory");
        Scratch(dir)
    }

    fn write(&self, file: &str, contents: &str) -> PathBuf {
        let path = self.0.join(file);
        fs::write(&path, contents).expect("write a scratch file");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A receiver server, killed on drop.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
    name: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the server accepts connections on its port.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited ({status}) before listening; its output:\n{}",
                    self.name,
                    self.log()
                );
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not listen on port {} within 30 s; its output:\n{}",
                self.name,
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// POSTs a delivery and returns the response status.
    fn post(&self, headers: &[(String, String)], body: &[u8]) -> u16 {
        post(self.port, headers, body).unwrap_or_else(|e| {
            panic!(
                "POST to {} failed: {e}; its output:\n{}",
                self.name,
                self.log()
            )
        })
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// Starts `command` as a server listening on `PORT` (given in its environment).
fn start_server(name: &str, mut command: Command, scratch: &Scratch) -> Server {
    let port = free_port();
    let log = scratch.0.join(format!("{name}.log"));
    let out = fs::File::create(&log).expect("create the server log");
    let err = out.try_clone().expect("clone the log handle");
    command
        .env("PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("start {name}: {e}"));
    let mut server = Server {
        child,
        port,
        log,
        name: name.to_owned(),
    };
    server.wait_ready();
    server
}

/// A raw HTTP/1.1 POST of `body` with `headers` to `WEBHOOK_PATH`; the response status.
fn post(port: u16, headers: &[(String, String)], body: &[u8]) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut request = format!(
        "POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let status_line = text.lines().next().unwrap_or_default();
    status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {status_line:?}")))
}

/// Runs a program with `input` on stdin and returns its stdout, failing on a non-zero exit.
fn run_with_input(mut command: Command, input: &[u8], what: &str) -> String {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {what}: {e}"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait for {what}: {e}"));
    let _ = writer.join();
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

// ---------------------------------------------------------------------------------------
// Deliveries

/// A delivery as NexPay sends it, and what a receiver must answer.
struct Delivery {
    what: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    accept: bool,
}

fn delivery(
    what: String,
    legacy_secret: &str,
    secrets: &[&str],
    timestamp: i64,
    body: &[u8],
    accept: bool,
) -> Delivery {
    let msg_id = format!(
        "msg_{}_{timestamp}",
        what.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    );
    Delivery {
        headers: signed_headers(
            LEGACY_HEADER,
            legacy_secret,
            secrets,
            &msg_id,
            timestamp,
            body,
        ),
        body: body.to_vec(),
        what,
        accept,
    }
}

/// Deliveries for a Standard Webhooks receiver that knows `receiver_secret`.
fn standard_deliveries(receiver_secret: &str) -> Vec<Delivery> {
    let t = now();
    let other_valid = if receiver_secret == NEW_SECRET {
        OLD_SECRET
    } else {
        NEW_SECRET
    };
    let mut all = Vec::new();
    for (i, body) in bodies().iter().enumerate() {
        all.push(delivery(
            format!("genuine body {i}"),
            OLD_SECRET,
            &[receiver_secret],
            t,
            body,
            true,
        ));
        all.push(delivery(
            format!("tampered body {i}"),
            OLD_SECRET,
            &[receiver_secret],
            t,
            body,
            false,
        ));
        let last = all.len() - 1;
        all[last].body = tamper(body);
    }
    let body = &bodies()[1];
    all.extend([
        delivery(
            "rotation, new then old".into(),
            OLD_SECRET,
            &[NEW_SECRET, OLD_SECRET],
            t,
            body,
            true,
        ),
        delivery(
            "rotation, old then new".into(),
            OLD_SECRET,
            &[OLD_SECRET, NEW_SECRET],
            t,
            body,
            true,
        ),
        delivery(
            "signed by the other secret only".into(),
            OLD_SECRET,
            &[other_valid],
            t,
            body,
            false,
        ),
        delivery(
            "signed by an unknown secret".into(),
            OLD_SECRET,
            &[OTHER_SECRET],
            t,
            body,
            false,
        ),
        delivery(
            "200 s old, within tolerance".into(),
            OLD_SECRET,
            &[receiver_secret],
            t - 200,
            body,
            true,
        ),
        delivery(
            "stale: 10 minutes old".into(),
            OLD_SECRET,
            &[receiver_secret],
            t - 600,
            body,
            false,
        ),
        delivery(
            "from the future: 10 minutes ahead".into(),
            OLD_SECRET,
            &[receiver_secret],
            t + 600,
            body,
            false,
        ),
    ]);
    let mut replayed = delivery(
        "timestamp replaced".into(),
        OLD_SECRET,
        &[receiver_secret],
        t - 600,
        body,
        false,
    );
    replayed.headers[2].1 = t.to_string();
    all.push(replayed);
    let mut unsigned = delivery(
        "no webhook-signature".into(),
        OLD_SECRET,
        &[receiver_secret],
        t,
        body,
        false,
    );
    unsigned
        .headers
        .retain(|(name, _)| name != "webhook-signature");
    all.push(unsigned);
    all
}

/// Sends every delivery and checks the answers: 200 to accepted ones, 401 to the others.
fn check_server(server: &Server, deliveries: &[Delivery]) {
    let mut failures = Vec::new();
    for d in deliveries {
        let status = server.post(&d.headers, &d.body);
        let expected = if d.accept { 200 } else { 401 };
        if status != expected {
            failures.push(format!(
                "{}: got {status}, expected {expected}; body {}",
                d.what,
                String::from_utf8_lossy(&d.body)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} answered wrongly:\n{}\nits output:\n{}",
        server.name,
        failures.join("\n"),
        server.log()
    );
    println!(
        "{}: {} deliveries answered as expected",
        server.name,
        deliveries.len()
    );
}

// ---------------------------------------------------------------------------------------
// 1. The Express app of the old README

/// Written exactly as the old NexPay README told merchants, plus the two lines that start it
/// on a free loopback port and print that port.
const OLD_README_EXPRESS: &str = r#"
const express = require('express');
const crypto = require('crypto');

const app = express();
app.use(express.json());

const SECRET = process.env.WEBHOOK_SECRET;

app.post('/webhooks/nexpay', (req, res) => {
  const signature = crypto.createHmac('sha256', SECRET).update(JSON.stringify(req.body)).digest('hex');
  if (signature !== req.headers['x-webhook-secret']) return res.status(401).send('Invalid signature');
  // ... handle the event ...
  res.sendStatus(200);
});

const server = app.listen(0, '127.0.0.1', () => console.log(server.address().port));
"#;

#[test]
fn old_readme_express_receiver_accepts_our_legacy_header() {
    let Some(node) = require("old README Express receiver", node()) else {
        return;
    };
    let scratch = Scratch::new("old-readme");
    let script = scratch.write("old-readme.js", OLD_README_EXPRESS);
    let log = scratch.0.join("old-readme.log");
    let mut command = node.command(&script);
    command
        .env("WEBHOOK_SECRET", OLD_SECRET)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(fs::File::create(&log).expect("create the log"));
    let mut child = command.spawn().expect("start node");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut server = Server {
        child,
        port: 0,
        log,
        name: "the old README's Express app".to_owned(),
    };
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the port");
    server.port = line.trim().parse().unwrap_or_else(|_| {
        panic!(
            "node printed {line:?}, not a port; its output:\n{}",
            server.log()
        )
    });
    server.wait_ready();

    let t = now();
    let mut deliveries = Vec::new();
    for (i, body) in bodies().iter().enumerate() {
        deliveries.push(delivery(
            format!("genuine body {i}"),
            OLD_SECRET,
            &[OLD_SECRET],
            t,
            body,
            true,
        ));
        // During a rotation the legacy header stays signed with the old secret.
        deliveries.push(delivery(
            format!("body {i} during a rotation"),
            OLD_SECRET,
            &[NEW_SECRET, OLD_SECRET],
            t,
            body,
            true,
        ));
        let mut tampered = delivery(
            format!("tampered body {i}"),
            OLD_SECRET,
            &[OLD_SECRET],
            t,
            body,
            false,
        );
        tampered.body = tamper(body);
        deliveries.push(tampered);
        deliveries.push(delivery(
            format!("body {i} signed by another secret"),
            OTHER_SECRET,
            &[OLD_SECRET],
            t,
            body,
            false,
        ));
    }
    check_server(&server, &deliveries);
}

// ---------------------------------------------------------------------------------------
// 2. The standardwebhooks libraries (npm and PyPI)

const NPM_VERIFIER: &str = r#"
const { Webhook } = require('standardwebhooks');
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const results = JSON.parse(input).map((c) => {
    try {
      new Webhook(c.secret).verify(Buffer.from(c.body, 'base64'), c.headers);
      return 'ok';
    } catch (e) {
      return `rejected: ${e.name}: ${e.message}`;
    }
  });
  process.stdout.write(JSON.stringify(results));
});
"#;

const PYPI_VERIFIER: &str = r#"
import base64, json, sys
from standardwebhooks import Webhook

results = []
for case in json.load(sys.stdin):
    try:
        Webhook(case["secret"]).verify(base64.b64decode(case["body"]), case["headers"])
        results.append("ok")
    except Exception as e:
        results.append("rejected: %s: %s" % (type(e).__name__, e))
json.dump(results, sys.stdout)
"#;

/// (receiver secret, delivery) pairs for the libraries: each standard delivery for both
/// secrets, so rotated deliveries are checked with either one.
fn library_cases() -> Vec<(&'static str, Delivery)> {
    let mut cases = Vec::new();
    for secret in [OLD_SECRET, NEW_SECRET] {
        for d in standard_deliveries(secret) {
            cases.push((secret, d));
        }
    }
    cases
}

fn check_library(name: &str, run: impl FnOnce(&[u8]) -> String) {
    let cases = library_cases();
    let input: Vec<Value> = cases
        .iter()
        .map(|(secret, d)| {
            let headers: serde_json::Map<String, Value> = d
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            json!({"secret": secret, "headers": headers, "body": STANDARD.encode(&d.body)})
        })
        .collect();
    let output = run(js_compact(&Value::Array(input)).as_bytes());
    let results: Vec<String> = serde_json::from_str(&output)
        .unwrap_or_else(|e| panic!("{name} printed no JSON list ({e}): {output}"));
    assert_eq!(results.len(), cases.len(), "{name}: one result per case");
    let mut failures = Vec::new();
    for ((secret, d), result) in cases.iter().zip(&results) {
        let ok = if d.accept {
            result == "ok"
        } else {
            result.starts_with("rejected: WebhookVerificationError")
        };
        if !ok {
            let secret = if *secret == OLD_SECRET { "old" } else { "new" };
            failures.push(format!(
                "{} (receiver has the {secret} secret): {result}",
                d.what
            ));
        }
    }
    assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
    println!("{name}: {} cases as expected", cases.len());
}

#[test]
fn npm_standardwebhooks_verifies_our_signatures() {
    let Some(node) = require("npm standardwebhooks", node()) else {
        return;
    };
    let scratch = Scratch::new("npm-standardwebhooks");
    let script = scratch.write("verify.js", NPM_VERIFIER);
    check_library("npm standardwebhooks", |input| {
        run_with_input(node.command(&script), input, "node (standardwebhooks)")
    });
}

#[test]
fn pypi_standardwebhooks_verifies_our_signatures() {
    let Some(python) = require("PyPI standardwebhooks", python()) else {
        return;
    };
    check_library("PyPI standardwebhooks", |input| {
        let mut command = Command::new(&python);
        command.args(["-c", PYPI_VERIFIER]);
        run_with_input(command, input, "python (standardwebhooks)")
    });
}

// ---------------------------------------------------------------------------------------
// 3. The snippets of docs/webhooks.md

/// The runnable snippets of the guide, each tested below.
const DOC_SNIPPETS: [&str; 5] = [
    "node-raw",
    "node-standardwebhooks",
    "node-legacy",
    "python-raw",
    "php-raw",
];

fn guide() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/webhooks.md");
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The fence right after `<!-- test: NAME -->`.
fn snippet(name: &str) -> String {
    let guide = guide();
    let marker = format!("<!-- test: {name} -->");
    let mut lines = guide.lines().skip_while(|l| l.trim() != marker);
    assert!(lines.next().is_some(), "docs/webhooks.md has no {marker}");
    let fence = lines.next().unwrap_or_default();
    assert!(
        fence.starts_with("```"),
        "{marker} is not right before a code fence (found {fence:?})"
    );
    let code: Vec<&str> = lines.take_while(|l| !l.starts_with("```")).collect();
    code.join("\n") + "\n"
}

#[test]
fn every_code_snippet_of_the_guide_is_tested() {
    let guide = guide();
    let lines: Vec<&str> = guide.lines().collect();
    let mut marked = BTreeSet::new();
    let mut in_fence = false;
    for (i, line) in lines.iter().enumerate() {
        if !line.starts_with("```") {
            continue;
        }
        if in_fence {
            in_fence = false;
            continue;
        }
        in_fence = true;
        let language = line.trim_start_matches('`').trim();
        let marker = i
            .checked_sub(1)
            .and_then(|p| lines[p].trim().strip_prefix("<!-- test: "))
            .and_then(|m| m.strip_suffix(" -->"));
        match marker {
            Some(name) => {
                assert!(marked.insert(name.to_owned()), "snippet {name} is marked twice");
            }
            None => assert!(
                !["js", "javascript", "python", "php", "sh", "bash"].contains(&language),
                "docs/webhooks.md line {}: a {language} fence without a `<!-- test: NAME -->` marker",
                i + 1
            ),
        }
    }
    let expected: BTreeSet<String> = DOC_SNIPPETS.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(marked, expected, "the marked snippets are the tested ones");
}

fn node_snippet_server(name: &str, env: &[(&str, &str)]) -> Option<(Scratch, Server)> {
    let node = require(&format!("docs/webhooks.md {name}"), node())?;
    let scratch = Scratch::new(name);
    let script = scratch.write(&format!("{name}.js"), &snippet(name));
    let mut command = node.command(&script);
    command.envs(env.iter().copied());
    let server = start_server(&format!("the {name} snippet"), command, &scratch);
    Some((scratch, server))
}

#[test]
fn guide_node_raw_snippet() {
    if let Some((_scratch, server)) =
        node_snippet_server("node-raw", &[("WEBHOOK_SECRET", NEW_SECRET)])
    {
        check_server(&server, &standard_deliveries(NEW_SECRET));
    }
}

#[test]
fn guide_node_standardwebhooks_snippet() {
    if let Some((_scratch, server)) =
        node_snippet_server("node-standardwebhooks", &[("WEBHOOK_SECRET", NEW_SECRET)])
    {
        check_server(&server, &standard_deliveries(NEW_SECRET));
    }
}

#[test]
fn guide_node_legacy_snippet_accepts_either_secret_during_rotation() {
    let env = [
        ("WEBHOOK_SECRET", NEW_SECRET),
        ("WEBHOOK_PREVIOUS_SECRET", OLD_SECRET),
    ];
    let Some((_scratch, server)) = node_snippet_server("node-legacy", &env) else {
        return;
    };
    let t = now();
    let mut deliveries = Vec::new();
    for (i, body) in bodies().iter().enumerate() {
        deliveries.push(delivery(
            format!("body {i}, legacy header by the old secret (grace period)"),
            OLD_SECRET,
            &[NEW_SECRET, OLD_SECRET],
            t,
            body,
            true,
        ));
        deliveries.push(delivery(
            format!("body {i}, legacy header by the new secret (after the grace period)"),
            NEW_SECRET,
            &[NEW_SECRET],
            t,
            body,
            true,
        ));
        deliveries.push(delivery(
            format!("body {i}, unknown secret"),
            OTHER_SECRET,
            &[OTHER_SECRET],
            t,
            body,
            false,
        ));
        let mut tampered = delivery(
            format!("tampered body {i}"),
            OLD_SECRET,
            &[NEW_SECRET, OLD_SECRET],
            t,
            body,
            false,
        );
        tampered.body = tamper(body);
        deliveries.push(tampered);
    }
    let mut unsigned = delivery(
        "no legacy header".into(),
        OLD_SECRET,
        &[OLD_SECRET],
        t,
        &bodies()[0],
        false,
    );
    unsigned.headers.remove(0);
    deliveries.push(unsigned);
    check_server(&server, &deliveries);
}

#[test]
fn guide_python_raw_snippet() {
    let Some(python) = require("docs/webhooks.md python-raw", python()) else {
        return;
    };
    let scratch = Scratch::new("python-raw");
    let script = scratch.write("python-raw.py", &snippet("python-raw"));
    let mut command = Command::new(python);
    command.arg(&script).env("WEBHOOK_SECRET", NEW_SECRET);
    let server = start_server("the python-raw snippet", command, &scratch);
    check_server(&server, &standard_deliveries(NEW_SECRET));
}

#[test]
fn guide_php_raw_snippet() {
    let Some(php) = require("docs/webhooks.md php-raw", php()) else {
        return;
    };
    let scratch = Scratch::new("php-raw");
    let script = scratch.write("php-raw.php", &snippet("php-raw"));
    // The built-in server, as the guide suggests; the port comes from the command line.
    let port = free_port();
    let log = scratch.0.join("php-raw.log");
    let out = fs::File::create(&log).expect("create the log");
    let child = Command::new(php)
        .arg("-S")
        .arg(format!("127.0.0.1:{port}"))
        .arg(&script)
        .env("WEBHOOK_SECRET", NEW_SECRET)
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("clone the log handle"))
        .stderr(out)
        .spawn()
        .expect("start php -S");
    let mut server = Server {
        child,
        port,
        log,
        name: "the php-raw snippet".to_owned(),
    };
    server.wait_ready();
    check_server(&server, &standard_deliveries(NEW_SECRET));
}

// ---------------------------------------------------------------------------------------
// 4. js_compact is what Node's JSON.stringify(JSON.parse(...)) prints

const NODE_FIXED_POINT: &str = r#"
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const failures = [];
  JSON.parse(input).forEach((text, i) => {
    const again = JSON.stringify(JSON.parse(text));
    if (again !== text) failures.push({ i, ours: text, node: again });
  });
  process.stdout.write(JSON.stringify(failures));
});
"#;

/// A small deterministic generator (xorshift64*), enough for varied test values.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).expect("fits")
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn string(&mut self) -> String {
        const PIECES: &[&str] = &[
            "a",
            "Z",
            " ",
            "\"",
            "\\",
            "/",
            "</",
            "&",
            "<",
            ">",
            "\n",
            "\r",
            "\t",
            "\u{8}",
            "\u{c}",
            "\u{0}",
            "\u{1}",
            "\u{1f}",
            "\u{7f}",
            "\u{80}",
            "é",
            "ï",
            "ñ",
            "中",
            "🎉",
            "🇸🇳",
            "\u{2028}",
            "\u{2029}",
            "\u{feff}",
            "ع",
            "محمد",
            "https://x.example/a?b=1&c=<d>",
            "%2F",
            "\u{fffd}",
            "\u{10ffff}",
        ];
        let len = self.below(6);
        (0..len).map(|_| self.pick(PIECES)).collect()
    }

    fn key(&mut self) -> String {
        const KEYS: &[&str] = &[
            "0",
            "1",
            "2",
            "10",
            "01",
            "00",
            "-1",
            "1.5",
            "4294967294",
            "4294967295",
            "99999999999",
            "id",
            "type",
            "",
            "__proto__",
            "constructor",
            "é",
            "🎉",
            "a b",
        ];
        if self.below(3) == 0 {
            self.string()
        } else {
            self.pick(KEYS).to_owned()
        }
    }

    fn number(&mut self) -> Value {
        match self.below(5) {
            0 => json!(self.next() % 1000),
            1 => json!(-i64::try_from(self.next() % (1 << 53)).expect("fits")),
            2 => json!(self.next()),
            3 => {
                let f = f64::from_bits(self.next());
                if f.is_finite() {
                    json!(f)
                } else {
                    json!(0.5)
                }
            }
            _ => {
                let mantissa = i32::try_from(self.next() % 2_000_000).expect("fits") - 1_000_000;
                let exponent = i32::try_from(self.next() % 60).expect("fits") - 30;
                json!(f64::from(mantissa) * 10f64.powi(exponent))
            }
        }
    }

    fn value(&mut self, depth: u32) -> Value {
        let leaf = depth >= 4 || self.below(3) == 0;
        match if leaf {
            self.below(5)
        } else {
            5 + self.below(2)
        } {
            0 => Value::Null,
            1 => Value::Bool(self.below(2) == 0),
            2 => self.number(),
            3 | 4 => Value::String(self.string()),
            5 => Value::Array((0..self.below(4)).map(|_| self.value(depth + 1)).collect()),
            _ => {
                let mut map = serde_json::Map::new();
                for _ in 0..self.below(6) {
                    let key = self.key();
                    let value = self.value(depth + 1);
                    map.insert(key, value);
                }
                Value::Object(map)
            }
        }
    }
}

#[test]
fn js_compact_is_a_fixed_point_of_node_json() {
    let Some(node) = require("js_compact against Node's JSON", node()) else {
        return;
    };
    let mut texts: Vec<Value> = bodies()
        .into_iter()
        .map(|b| Value::String(String::from_utf8(b).expect("UTF-8 body")))
        .collect();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..400 {
        let value = rng.value(0);
        texts.push(Value::String(js_compact(&value)));
    }
    let scratch = Scratch::new("fixed-point");
    let script = scratch.write("fixed-point.js", NODE_FIXED_POINT);
    let count = texts.len();
    let output = run_with_input(
        node.command(&script),
        js_compact(&Value::Array(texts)).as_bytes(),
        "node (JSON round trip)",
    );
    let failures: Value = serde_json::from_str(&output).expect("node prints JSON");
    assert_eq!(
        failures,
        json!([]),
        "bodies that JSON.stringify(JSON.parse(...)) changes"
    );
    println!("{count} bodies unchanged by JSON.stringify(JSON.parse(...))");
}
