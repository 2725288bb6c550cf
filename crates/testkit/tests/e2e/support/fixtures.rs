//! Objects written straight into the store (keys, a second project) and admin API calls.

use chrono::NaiveDateTime;
use nexpay_security::{generate_api_key, KeyKind, KeyMode};
use nexpay_store::{ApiKeyRow, ProjectRow};
use nexpay_testkit::TestApp;
use serde_json::{json, Value};

use super::{send, Resp, ADMIN};

pub fn kind_mode(kind: &str, mode: &str) -> (KeyKind, KeyMode) {
    (
        KeyKind::parse(kind).expect("kind"),
        KeyMode::parse(mode).expect("mode"),
    )
}

/// Stores a new key of `project_id`; returns `(key id, full key)`.
pub async fn insert_key(
    app: &TestApp,
    project_id: &str,
    kind: &str,
    mode: &str,
    expires_at: Option<NaiveDateTime>,
) -> (String, String) {
    let (kind, mode) = kind_mode(kind, mode);
    let generated = generate_api_key(kind, mode);
    let row = ApiKeyRow {
        id: nexpay_domain::ApiKeyId::generate().into_string(),
        project_id: project_id.to_owned(),
        kind: kind.as_str().to_owned(),
        mode: mode.as_str().to_owned(),
        prefix: generated.prefix.clone(),
        key_hash: generated.hash.clone(),
        label: Some("e2e".to_owned()),
        created_at: nexpay_store::now(),
        last_used_at: None,
        expires_at,
        revoked_at: None,
    };
    app.store.insert_api_key(&row).await.expect("insert key");
    (row.id, generated.full.expose().to_owned())
}

pub struct OtherProject {
    pub id: String,
    pub write_key: String,
    pub read_key: String,
}

/// A second project with test keys, written through the store.
pub async fn other_project(app: &TestApp) -> OtherProject {
    let at = nexpay_store::now();
    let row = ProjectRow {
        id: nexpay_domain::ProjectId::generate().into_string(),
        name: "Other shop".to_owned(),
        success_url: None,
        failure_url: None,
        cancel_url: None,
        settings: "{}".to_owned(),
        is_default: false,
        created_at: at,
        updated_at: at,
        archived_at: None,
    };
    app.store
        .insert_project(&row)
        .await
        .expect("insert project");
    let (_, write_key) = insert_key(app, &row.id, "write", "test", None).await;
    let (_, read_key) = insert_key(app, &row.id, "read", "test", None).await;
    OtherProject {
        id: row.id,
        write_key,
        read_key,
    }
}

/// A call to the admin API with an optional bearer token.
pub async fn admin(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Resp {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| ("authorization", a))
        .into_iter()
        .collect();
    let body = body.map(|b| {
        (
            Some("application/json"),
            serde_json::to_vec(&b).expect("json"),
        )
    });
    send(app, method, &format!("{ADMIN}{path}"), None, body, &headers).await
}

pub const NEW_ADMIN_PASSWORD: &str = "Brand-new-Secr3t-for-e2e";

/// Signs in and changes the initial password; returns a token that passes every gate.
pub async fn admin_token(app: &TestApp) -> String {
    let login = admin(
        app,
        reqwest::Method::POST,
        "/auth/login",
        None,
        Some(json!({"email": app.admin_email, "password": app.admin_password})),
    )
    .await;
    assert_eq!(login.status, 200, "{}", login.text);
    let token = login.json["token"].as_str().expect("token").to_owned();
    let body = json!({"currentPassword": app.admin_password, "newPassword": NEW_ADMIN_PASSWORD});
    let changed = admin(
        app,
        reqwest::Method::POST,
        "/auth/change-password",
        Some(&token),
        Some(body),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    changed.json["token"]
        .as_str()
        .expect("fresh token")
        .to_owned()
}
