//! Merchant webhooks end to end: endpoints created through the admin API, events from
//! real payments, real receivers (small HTTP servers started by the test), signatures
//! checked with the reference verifiers, every attempt in the delivery log.

use std::time::{Duration, Instant};

use crate::journeys::{direct, payer_action, wave_page};
use crate::support::*;
use nexpay_testkit::receiver::{Receiver, Reply};
use nexpay_testkit::TestApp;
use nexpay_webhook_signing::{legacy_signature, verify_standard};
use reqwest::Method;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(15);

/// Creates an endpoint of the test project; returns (endpoint id, secret).
async fn endpoint(app: &TestApp, token: &str, body: Value) -> (String, String) {
    let r = admin(
        app,
        Method::POST,
        &format!("/projects/{}/webhooks", app.project_id),
        Some(token),
        Some(body),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    (
        r.json["id"].as_str().unwrap().to_owned(),
        r.json["signingSecret"].as_str().unwrap().to_owned(),
    )
}

async fn get_admin(app: &TestApp, token: &str, path: &str) -> Value {
    let r = admin(app, Method::GET, path, Some(token), None).await;
    assert_eq!(r.status, 200, "{path}: {}", r.text);
    r.json
}

/// The deliveries of an endpoint, once `ready` holds for them.
async fn deliveries_when(
    app: &TestApp,
    token: &str,
    endpoint_id: &str,
    ready: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let path = format!(
        "/projects/{}/webhooks/{endpoint_id}/deliveries",
        app.project_id
    );
    let mut last = Vec::new();
    let until = Instant::now() + WAIT;
    while Instant::now() < until {
        last = get_admin(app, token, &path).await["data"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if ready(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("deliveries of {endpoint_id} never got there: {last:?}");
}

async fn attempts(app: &TestApp, token: &str, delivery_id: &str) -> Vec<Value> {
    get_admin(app, token, &format!("/webhook-deliveries/{delivery_id}")).await["attempts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Checks both signatures of a received delivery with the reference verifiers.
#[track_caller]
fn assert_signed(got: &nexpay_testkit::receiver::Received, secret: &str) {
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(
        got.header("x-webhook-secret"),
        Some(legacy_signature(secret, &got.body).as_str()),
        "legacy header"
    );
    let id = got.header("webhook-id").expect("webhook-id");
    assert_eq!(json!(id), got.json()["id"], "webhook-id is the event id");
    let now = chrono::Utc::now().timestamp();
    verify_standard(
        &[secret],
        id,
        got.header("webhook-timestamp").unwrap_or_default(),
        got.header("webhook-signature").unwrap_or_default(),
        &got.body,
        now,
        300,
    )
    .expect("Standard Webhooks signature");
    // Another secret does not verify.
    assert!(verify_standard(
        &["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        id,
        got.header("webhook-timestamp").unwrap_or_default(),
        got.header("webhook-signature").unwrap_or_default(),
        &got.body,
        now,
        300,
    )
    .is_err());
}

e2e!(merchant_webhooks_are_signed_filtered_and_logged, |app| {
    let token = admin_token(app).await;
    let all = Receiver::start(vec![]).unwrap();
    let succeeded_only = Receiver::start(vec![]).unwrap();
    let live = Receiver::start(vec![]).unwrap();
    let (all_id, all_secret) = endpoint(app, &token, json!({"url": all.url, "mode": "test"})).await;
    let (filtered_id, filtered_secret) = endpoint(
        app,
        &token,
        json!({"url": succeeded_only.url, "mode": "test", "eventTypes": ["payment.succeeded"],
               "headerName": "X-Shop-Signature"}),
    )
    .await;
    endpoint(app, &token, json!({"url": live.url, "mode": "live"})).await;

    // A test payment with metadata a JSON re-serialiser could change.
    let mut body = payment_body("wave");
    body["customer"]["name"] = json!("Aïssatou Ndiaye ✨");
    body["metadata"] = json!({
        "order_id": "CMD/2026/11/27-0001",
        "return": "https://shop.example/orders?id=1&lang=fr",
        "10": "ten", "2": "two",
        "note": "guillemets \"français\" <b>gras</b>"
    });
    let r = post(app, PAYMENT, Some(&app.write_key), &body, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let data = r.data().clone();
    let reference = data["reference"].as_str().unwrap().to_owned();

    // payment.pending reaches the endpoint that takes every type.
    let got = all.wait_for(1, WAIT).await;
    assert_eq!(got.len(), 1, "one delivery of payment.pending");
    assert_signed(&got[0], &all_secret);
    let event = got[0].json();
    assert_eq!(event["type"], json!("payment.pending"));
    assert_eq!(event["data"]["reference"], json!(reference));
    assert_eq!(event["data"]["status"], json!("PENDING"));
    assert_eq!(
        event["data"]["amount"],
        json!("10000"),
        "amount as a string"
    );
    assert_eq!(event["data"]["currency"], json!("XOF"));
    assert_eq!(event["data"]["project"]["id"], json!(app.project_id));
    assert_eq!(event["data"]["payer"]["name"], json!("Aïssatou Ndiaye ✨"));
    assert_eq!(
        event["data"]["metadata"]["return"],
        json!("https://shop.example/orders?id=1&lang=fr")
    );
    // Compact, non-ASCII as is, integer-like keys first as JSON.stringify prints them.
    let text = String::from_utf8(got[0].body.clone()).unwrap();
    assert!(text.contains("Aïssatou Ndiaye ✨"), "{text}");
    assert!(
        text.contains(r#""metadata":{"2":"two","10":"ten","order_id""#),
        "{text}"
    );
    assert!(!text.contains(": "), "{text}");

    // The customer pays: payment.succeeded reaches both test endpoints.
    payer_action(app, &format!("{}/approve", wave_page(&data)), &[]).await;
    let got = all.wait_for(2, WAIT).await;
    assert_eq!(got.len(), 2, "pending then succeeded");
    assert_eq!(got[1].json()["type"], json!("payment.succeeded"));
    assert_eq!(got[1].json()["data"]["status"], json!("SUCCEEDED"));
    assert_signed(&got[1], &all_secret);
    let only = succeeded_only.wait_for(1, WAIT).await;
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].json()["type"], json!("payment.succeeded"));
    assert_eq!(
        only[0].header("x-shop-signature"),
        Some(legacy_signature(&filtered_secret, &only[0].body).as_str())
    );
    assert_ne!(all_secret, filtered_secret);

    // The delivery log: one attempt each, answered 200.
    let log = deliveries_when(app, &token, &all_id, |d| {
        d.len() == 2 && d.iter().all(|x| x["status"] == json!("succeeded"))
    })
    .await;
    for d in &log {
        assert_eq!(d["attempts"], json!(1), "{d}");
        assert_eq!(d["reference"], json!(reference), "{d}");
        let tries = attempts(app, &token, d["id"].as_str().unwrap()).await;
        assert_eq!(tries.len(), 1, "{tries:?}");
        assert_eq!(tries[0]["statusCode"], json!(200));
        assert_eq!(tries[0]["responseSnippet"], json!("ok"));
    }
    let filtered = deliveries_when(app, &token, &filtered_id, |d| d.len() == 1).await;
    assert_eq!(filtered[0]["eventType"], json!("payment.succeeded"));

    // A live endpoint hears nothing of test payments.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(live.received().is_empty(), "{:?}", live.received());
    // Resending one delivery sends the same event again, with the same webhook-id.
    let first = &log
        .iter()
        .find(|d| d["eventType"] == json!("payment.pending"))
        .unwrap();
    let r = admin(
        app,
        Method::POST,
        &format!(
            "/webhook-deliveries/{}/resend",
            first["id"].as_str().unwrap()
        ),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let got = all.wait_for(3, WAIT).await;
    assert_eq!(got.len(), 3);
    assert_eq!(got[2].header("webhook-id"), got[0].header("webhook-id"));
    assert_eq!(got[2].body, got[0].body, "the same bytes");
    assert_signed(&got[2], &all_secret);
});

// Every sending slot busy with due deliveries to a receiver that takes 3 s to answer:
// a new event still reaches a healthy receiver at once (the fan-out sends what it just
// wrote through the dispatcher's fast lane instead of queueing it behind them), and the
// backlog is delivered too.
e2e!(
    new_events_do_not_wait_behind_due_deliveries,
    env = [("WEBHOOK_CONCURRENCY", "2"), ("WEBHOOK_TIMEOUT", "10s")],
    |app| {
        let token = admin_token(app).await;
        let slow = Receiver::start(vec![Reply::Hang(Duration::from_secs(3)); 12]).unwrap();
        let healthy = Receiver::start(vec![]).unwrap();
        let (slow_id, _) = endpoint(
            app,
            &token,
            json!({"url": slow.url, "mode": "test", "eventTypes": ["payment.succeeded"]}),
        )
        .await;
        endpoint(app, &token, json!({"url": healthy.url, "mode": "test"})).await;
        // A backlog (as after a resend): 8 due deliveries to the slow receiver, enough
        // to fill the 2 slots of each dispatcher replica.
        let slow_row = app
            .store
            .get_webhook_endpoint(&slow_id)
            .await
            .unwrap()
            .unwrap();
        let at = nexpay_store::now();
        let backlog: Vec<nexpay_store::WebhookDeliveryRow> = (0..8)
            .map(|i| {
                nexpay_store::WebhookDeliveryRow::due(
                    format!("whd_backlog{i}"),
                    &slow_row,
                    format!("evt_backlog{i}"),
                    "payment.succeeded",
                    format!("ref_backlog{i}"),
                    format!(r#"{{"id":"evt_backlog{i}"}}"#),
                    at,
                )
            })
            .collect();
        assert_eq!(
            app.store.insert_webhook_deliveries(&backlog).await.unwrap(),
            8
        );
        // Wait until the slots are taken.
        slow.wait_for(2, WAIT).await;

        let created = Instant::now();
        direct(app, "wave").await;
        let got = healthy.wait_for(1, WAIT).await;
        assert_eq!(got.len(), 1);
        let latency = got[0].at.duration_since(created);
        assert!(
            latency < Duration::from_millis(1500),
            "the new event waited {latency:?} behind the backlog"
        );
        // The backlog goes out too.
        let got = slow.wait_for(8, Duration::from_secs(30)).await;
        assert_eq!(got.len(), 8);
    }
);

e2e!(
    failing_receivers_are_retried_and_never_slow_the_others,
    env = [
        ("WEBHOOK_RETRY_SCHEDULE", "300ms"),
        ("WEBHOOK_SLOWDOWN_FLOOR", "1s"),
        ("WEBHOOK_TIMEOUT", "800ms"),
        ("WEBHOOK_DISABLE_AFTER", "1500ms"),
    ],
    |app| {
        let token = admin_token(app).await;
        let down = Receiver::start(vec![Reply::Status(503), Reply::Status(503)]).unwrap();
        let busy = Receiver::start(vec![Reply::With(
            429,
            vec![("Retry-After".into(), "2".into())],
        )])
        .unwrap();
        let elsewhere = Receiver::start(vec![]).unwrap();
        let moved = Receiver::start(vec![Reply::With(
            302,
            vec![("Location".into(), elsewhere.url.clone())],
        )])
        .unwrap();
        let hanging = Receiver::start(vec![Reply::Hang(Duration::from_secs(5))]).unwrap();
        let gone = Receiver::start(vec![Reply::Status(410)]).unwrap();
        let dead = Receiver::start(vec![Reply::Status(500); 50]).unwrap();
        let healthy = Receiver::start(vec![]).unwrap();
        let mut ids = std::collections::HashMap::new();
        for (name, r) in [
            ("down", &down),
            ("busy", &busy),
            ("moved", &moved),
            ("hanging", &hanging),
            ("gone", &gone),
            ("dead", &dead),
            ("healthy", &healthy),
        ] {
            let (id, _) = endpoint(app, &token, json!({"url": r.url, "mode": "test"})).await;
            ids.insert(name, id);
        }

        let created = Instant::now();
        let data = direct(app, "wave").await;
        let reference = data["reference"].as_str().unwrap().to_owned();

        // The healthy receiver gets its copy at once, whatever the others do.
        let got = healthy.wait_for(1, WAIT).await;
        assert_eq!(got.len(), 1);
        let latency = got[0].at.duration_since(created);
        assert!(latency < Duration::from_millis(1500), "{latency:?}");

        // Down twice, then back: delivered at the third attempt, each one logged.
        let got = down.wait_for(3, WAIT).await;
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].header("webhook-id"), got[2].header("webhook-id"));
        let log = deliveries_when(app, &token, &ids["down"], |d| {
            d.first().is_some_and(|x| x["status"] == json!("succeeded"))
        })
        .await;
        assert_eq!(log[0]["attempts"], json!(3));
        let tries = attempts(app, &token, log[0]["id"].as_str().unwrap()).await;
        let codes: Vec<Value> = tries.iter().map(|t| t["statusCode"].clone()).collect();
        assert_eq!(codes, vec![json!(503), json!(503), json!(200)]);
        assert_eq!(tries[0]["error"], json!("HTTP 503"));
        assert!(tries[0]["nextAttemptAt"].is_string());
        assert_eq!(tries[0]["responseSnippet"], json!("scripted 503"));

        // 429 with Retry-After: 2 s: the next attempt waits for it.
        let got = busy.wait_for(2, WAIT).await;
        assert_eq!(got.len(), 2);
        let gap = got[1].at.duration_since(got[0].at);
        assert!(gap >= Duration::from_millis(1900), "{gap:?}");

        // A redirect is a failure and is not followed.
        let got = moved.wait_for(2, WAIT).await;
        assert_eq!(got.len(), 2);
        assert!(elsewhere.received().is_empty(), "the redirect was followed");
        let log = deliveries_when(app, &token, &ids["moved"], |d| {
            d.first().is_some_and(|x| x["status"] == json!("succeeded"))
        })
        .await;
        let tries = attempts(app, &token, log[0]["id"].as_str().unwrap()).await;
        assert!(
            tries[0]["error"].as_str().unwrap().contains("not followed"),
            "{tries:?}"
        );

        // A hanging receiver times out, then gets the event after the slowdown floor.
        let got = hanging.wait_for(2, WAIT).await;
        assert_eq!(got.len(), 2);
        let gap = got[1].at.duration_since(got[0].at);
        assert!(
            gap >= Duration::from_millis(1700),
            "timeout + floor: {gap:?}"
        );
        let log = deliveries_when(app, &token, &ids["hanging"], |d| {
            d.first().is_some_and(|x| x["status"] == json!("succeeded"))
        })
        .await;
        let tries = attempts(app, &token, log[0]["id"].as_str().unwrap()).await;
        assert!(
            tries[0]["error"]
                .as_str()
                .unwrap()
                .contains("no answer within 800 ms"),
            "{tries:?}"
        );
        assert!(tries[0]["statusCode"].is_null());

        // 410 Gone: given up at once, the endpoint disabled, the admin told.
        let log = deliveries_when(app, &token, &ids["gone"], |d| {
            d.first().is_some_and(|x| x["status"] == json!("failed"))
        })
        .await;
        assert_eq!(log[0]["attempts"], json!(1));
        let ep = get_admin(
            app,
            &token,
            &format!("/projects/{}/webhooks/{}", app.project_id, ids["gone"]),
        )
        .await;
        assert_eq!(ep["enabled"], json!(false), "{ep}");
        assert!(
            ep["disabledReason"].as_str().unwrap().contains("410"),
            "{ep}"
        );
        let feed = get_admin(app, &token, "/notifications").await;
        assert!(
            feed["data"].as_array().unwrap().iter().any(|n| {
                n["kind"] == json!("webhook_endpoint.disabled")
                    && n["subjectId"] == json!(ids["gone"])
            }),
            "{feed}"
        );
        // An endpoint that keeps failing is disabled once it has failed for longer than
        // WEBHOOK_DISABLE_AFTER (1.5 s here; 3 days by default), and the admin is told.
        let log = deliveries_when(app, &token, &ids["dead"], |d| {
            d.first().is_some_and(|x| x["status"] == json!("failed"))
        })
        .await;
        let tries = log[0]["attempts"].as_i64().unwrap();
        assert!((3..=12).contains(&tries), "{}", log[0]);
        assert!(
            log[0]["lastError"]
                .as_str()
                .unwrap()
                .contains("more than 1500 ms"),
            "{}",
            log[0]
        );
        let ep = get_admin(
            app,
            &token,
            &format!("/projects/{}/webhooks/{}", app.project_id, ids["dead"]),
        )
        .await;
        assert_eq!(ep["enabled"], json!(false), "{ep}");
        assert!(
            ep["disabledReason"]
                .as_str()
                .unwrap()
                .contains("no successful delivery since"),
            "{ep}"
        );
        let feed = get_admin(app, &token, "/notifications").await;
        assert!(
            feed["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["subjectId"] == json!(ids["dead"])),
            "{feed}"
        );
        // Later events do not go to either.
        direct(app, "wave").await;
        healthy.wait_for(2, WAIT).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(gone.received().len(), 1);
        let dead_calls = dead.received().len();
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(dead.received().len(), dead_calls);
        // Every delivery of the first event names its payment.
        assert_eq!(log[0]["reference"], json!(reference));
    }
);

/// The receiver the old NexPay README told merchants to write: Express with
/// `express.json()`, then the HMAC of `JSON.stringify(req.body)` compared with the
/// `x-webhook-secret` header. It answers 401 when they differ.
const OLD_README_EXPRESS: &str = r#"
const express = require('express');
const crypto = require('crypto');

const app = express();
app.use(express.json());

const SECRET = process.env.WEBHOOK_SECRET;

app.post('/webhooks/nexpay', (req, res) => {
  const signature = crypto.createHmac('sha256', SECRET).update(JSON.stringify(req.body)).digest('hex');
  if (signature !== req.headers['x-webhook-secret']) return res.status(401).send('Invalid signature');
  res.sendStatus(200);
});

const server = app.listen(0, '127.0.0.1', () => console.log(server.address().port));
"#;

/// A running `node` process, killed on drop.
struct NodeApp(std::process::Child);

impl Drop for NodeApp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the old README's Express app with `secret`; returns its URL. Node and the npm
/// package `express` come from `.ci/webhook-receivers-setup` (NODE_PATH under
/// `NEXPAY_RECEIVERS_DIR`); without them the test fails under CI and is skipped with a
/// note elsewhere.
fn start_express(secret: &str) -> Option<(NodeApp, String)> {
    use std::io::BufRead;
    let dir = std::env::var_os("NEXPAY_RECEIVERS_DIR")
        .filter(|d| !d.is_empty())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(&std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join(".cache/nexpay-receivers")
        });
    let modules = dir.join("node_modules");
    if !modules.join("express/package.json").is_file() {
        let message = format!(
            "express is not installed under {}; run `bash .ci/webhook-receivers-setup`",
            modules.display()
        );
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
        assert!(!ci, "{message}");
        eprintln!("SKIPPED (not in CI): {message}");
        return None;
    }
    let script = std::env::temp_dir().join(format!(
        "nexpay-old-readme-{}.js",
        nexpay_security::random_hex(6)
    ));
    std::fs::write(&script, OLD_README_EXPRESS).unwrap();
    let mut child = std::process::Command::new("node")
        .arg(&script)
        .env("NODE_PATH", &modules)
        .env("WEBHOOK_SECRET", secret)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().parse().expect("node printed its port");
    // Node has read the script by the time it listens.
    let _ = std::fs::remove_file(&script);
    Some((
        NodeApp(child),
        format!("http://127.0.0.1:{port}/webhooks/nexpay"),
    ))
}

e2e!(
    the_old_readme_express_receiver_accepts_real_deliveries,
    |app| {
        let secret = "whsec_an-existing-integration-secret-0123";
        let Some((_node, url)) = start_express(secret) else {
            return;
        };
        let token = admin_token(app).await;
        let (id, shown) = endpoint(
            app,
            &token,
            json!({"url": url, "mode": "test", "secret": secret}),
        )
        .await;
        assert_eq!(shown, secret, "the merchant's own secret is kept");
        // Metadata and names that a re-serialiser could change: non-ASCII, slashes, URLs,
        // escapes, integer-like keys.
        let mut body = payment_body("wave");
        body["customer"]["name"] = json!("Séverine Diop — محمد ✨");
        body["metadata"] = json!({
            "order_id": "CMD/2026/11/27-0002",
            "callback": "https://shop.example/a/b?x=1&y=<2>",
            "3": "three", "1": "one",
            "note": "line\nbreak \\ \"quoted\" \u{2028}",
            "nested": {"items": ["A/1", "B/2"], "21": true, "qty": 2}
        });
        let r = post(app, PAYMENT, Some(&app.write_key), &body, &[]).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let data = r.data().clone();
        payer_action(app, &format!("{}/approve", wave_page(&data)), &[]).await;
        // Express answered 200 to both events: it recomputed our exact bytes.
        let log = deliveries_when(app, &token, &id, |d| {
            d.len() == 2
                && d.iter()
                    .all(|x| x["status"] != json!("pending") || x["attempts"] != json!(0))
        })
        .await;
        for d in &log {
            let tries = attempts(app, &token, d["id"].as_str().unwrap()).await;
            assert_eq!(tries[0]["statusCode"], json!(200), "{d} {tries:?}");
            assert_eq!(d["status"], json!("succeeded"), "{d}");
        }
    }
);
