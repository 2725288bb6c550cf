//! Liveness and readiness probes.

use crate::support::*;
use serde_json::json;

e2e!(health_probes, |app| {
    let live = get(app, "/health/live", None).await;
    assert_eq!(live.status, 200, "{}", live.text);
    assert_eq!(live.json["status"], json!("ok"));
    assert!(live.header("x-request-id").is_some());
    let ready = get(app, "/health/ready", None).await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    assert_eq!(ready.json, json!({"status": "ok", "database": "ok"}));
    assert!(ready.header("x-request-id").is_some());
});
