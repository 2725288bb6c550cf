//! Merchant webhook endpoints in the admin API and the CLI: the signing secret shown
//! once and sealed at rest, validation, project scoping, deliveries, resends and the
//! admins' notifications.

use actix_web::http::StatusCode;
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use nexpay_security::{Keyring, SealingKey, Secret};
use nexpay_store::testing::TestDb;
use nexpay_store::{
    AdminNotificationRow, AttemptOutcome, WebhookAttemptRow, WebhookDeliveryRow, WebhookEndpointRow,
};
use nexpay_webhook_signing::secret_aad;
use serde_json::{json, Value};

use crate::common::*;

both_backends!(
    secret_is_shown_once_and_sealed_at_rest,
    endpoint_input_is_validated,
    private_urls_follow_the_configuration,
    endpoints_belong_to_their_project,
    update_and_enabling_clears_the_failure_record,
    delete_fails_pending_deliveries,
    deliveries_listing_detail_and_resend,
    resend_failed_since_a_date,
    notifications_list_and_read,
    webhook_routes_need_a_session,
    cli_manages_webhooks,
);

const OWN_SECRET: &str = "my-own-receiver-secret-0123456789-WXYZ";
const HOOK_URL: &str = "https://shop.example/webhooks/nexpay";

fn hooks(project: &str) -> String {
    format!("/admin/api/v1/projects/{project}/webhooks")
}

fn hook(project: &str, endpoint: &str) -> String {
    format!("{}/{endpoint}", hooks(project))
}

/// Sends a request; returns the status, headers, raw body text (to search it for
/// secrets) and the body as JSON.
macro_rules! call {
    ($app:expr, $method:expr, $path:expr, $token:expr, $body:expr $(,)?) => {{
        let req = crate::common::request($method, $path, $token, $body).to_request();
        let res = actix_web::test::call_service(&$app, req).await;
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = actix_web::test::read_body(res).await;
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, headers, text, json)
    }};
}

fn keyring(ctx: &Ctx) -> Keyring {
    let encoded = ctx.state.config.webhook_secrets_key.as_ref().unwrap();
    Keyring::new(
        SealingKey::from_base64(encoded.expose()).unwrap(),
        Vec::new(),
    )
}

fn fields(json: &Value) -> Vec<String> {
    json["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap().to_owned())
        .collect()
}

fn time(json: &Value) -> DateTime<Utc> {
    json.as_str().unwrap().parse().unwrap()
}

#[track_caller]
fn assert_about(at: DateTime<Utc>, expected: DateTime<Utc>) {
    let off = (at - expected).num_seconds().abs();
    assert!(off <= 60, "{at} is not about {expected}");
}

async fn row(ctx: &Ctx, id: &str) -> WebhookEndpointRow {
    ctx.store().get_webhook_endpoint(id).await.unwrap().unwrap()
}

/// A stored endpoint, written directly (to set what only the dispatcher sets).
fn endpoint_row(ctx: &Ctx, project_id: &str, id: &str) -> WebhookEndpointRow {
    let at = nexpay_store::now();
    WebhookEndpointRow::new(
        id.to_owned(),
        project_id,
        "live",
        HOOK_URL,
        keyring(ctx).seal(OWN_SECRET.as_bytes(), &secret_aad(id)),
        "WXYZ".into(),
        at,
    )
}

fn delivery(
    endpoint: &WebhookEndpointRow,
    n: u32,
    status: &str,
    created_at: NaiveDateTime,
) -> WebhookDeliveryRow {
    let body = format!(
        r#"{{"type":"payment.succeeded","data":{{"reference":"NEXPAY_TX_{n:016}","amount":"100"}},"id":"evt_{n}"}}"#
    );
    WebhookDeliveryRow {
        id: format!("whd_test{n:04}_{}", nexpay_security::random_base62(8)),
        endpoint_id: endpoint.id.clone(),
        project_id: endpoint.project_id.clone(),
        event_id: format!("evt_{n}"),
        event_type: "payment.succeeded".into(),
        aggregate_id: format!("NEXPAY_TX_{n:016}"),
        body,
        status: status.into(),
        attempts: 0,
        next_attempt_at: (status == "pending").then(|| nexpay_store::now() - Duration::seconds(1)),
        locked_until: None,
        last_status_code: None,
        last_error: None,
        created_at,
        updated_at: created_at,
        delivered_at: None,
    }
}

async fn secret_is_shown_once_and_sealed_at_rest(db: TestDb) {
    let ctx = Ctx::new(db);
    let app = app!(ctx.state);
    let (_, raw) = ctx.admin().await;
    let token = Some(raw.as_str());
    let project = project!(app, &raw, "Shop");
    // Every answer but the two that show a secret.
    let mut others: Vec<String> = Vec::new();

    // Generated secret, every default.
    let (status, headers, text, created) = call!(
        app,
        "POST",
        &hooks(&project),
        token,
        Some(json!({"url": HOOK_URL})),
    );
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert_eq!(headers.get("cache-control").unwrap(), "no-store");
    let generated = created["signingSecret"].as_str().unwrap().to_owned();
    assert!(generated.starts_with("whsec_"), "{generated}");
    assert!(generated.len() >= 40, "{generated}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("whe_") && id.len() == 28, "{id}");
    assert!(id[4..].chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
    assert_eq!(created["projectId"], json!(project));
    assert_eq!(created["mode"], "live");
    assert_eq!(created["url"], HOOK_URL);
    assert_eq!(created["headerName"], "x-webhook-secret");
    assert_eq!(created["eventTypes"], json!([]));
    assert_eq!(created["enabled"], true);
    assert_eq!(created["description"], Value::Null);
    assert_eq!(created["disabledReason"], Value::Null);
    assert_eq!(created["failingSince"], Value::Null);
    assert_eq!(created["previousSecretExpiresAt"], Value::Null);
    assert_eq!(
        created["secret"],
        json!({"configured": true, "last4": &generated[generated.len() - 4..]})
    );

    // A given secret is kept as it is.
    let (status, _, text, own) = call!(
        app,
        "POST",
        &hooks(&project),
        token,
        Some(json!({
            "url": "https://other.example/hook",
            "mode": "test",
            "headerName": "X-Shop-Signature",
            "secret": OWN_SECRET,
            "eventTypes": ["payment.failed", "payment.succeeded"],
            "enabled": false,
            "description": "  ERP  ",
        })),
    );
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert_eq!(own["signingSecret"], OWN_SECRET);
    assert!(!text.contains(&generated));
    let own_id = own["id"].as_str().unwrap().to_owned();
    assert_eq!(own["mode"], "test");
    assert_eq!(own["headerName"], "x-shop-signature");
    assert_eq!(
        own["eventTypes"],
        json!(["payment.failed", "payment.succeeded"])
    );
    assert_eq!(own["enabled"], false);
    assert_eq!(own["description"], "ERP");
    assert_eq!(own["secret"]["last4"], "WXYZ");

    // Sealed at rest with WEBHOOK_SECRETS_KEY, bound to the endpoint.
    let keyring = keyring(&ctx);
    let stored = row(&ctx, &id).await;
    assert!(!stored.sealed_secret.contains(&generated));
    assert!(!stored.sealed_secret.contains(&generated[6..]));
    assert_eq!(
        keyring
            .open(&stored.sealed_secret, &secret_aad(&id))
            .unwrap(),
        generated.as_bytes()
    );
    assert!(keyring
        .open(&stored.sealed_secret, &secret_aad(&own_id))
        .is_err());
    let own_stored = row(&ctx, &own_id).await;
    assert_eq!(
        keyring
            .open(&own_stored.sealed_secret, &secret_aad(&own_id))
            .unwrap(),
        OWN_SECRET.as_bytes()
    );
    assert!(keyring
        .open(&own_stored.sealed_secret, &secret_aad(&id))
        .is_err());
    assert_eq!(
        own_stored.event_types,
        r#"["payment.failed","payment.succeeded"]"#
    );
    assert_eq!(stored.event_types, "[]");

    // Rotation: a new secret, shown once; the old sealed value kept for the grace.
    let (status, headers, rotated_text, rotated) = call!(
        app,
        "POST",
        &format!("{}/rotate-secret", hook(&project, &id)),
        token,
        Some(json!({"graceHours": 2})),
    );
    assert_eq!(status, StatusCode::OK, "{rotated_text}");
    assert_eq!(headers.get("cache-control").unwrap(), "no-store");
    let new_secret = rotated["signingSecret"].as_str().unwrap().to_owned();
    assert!(new_secret.starts_with("whsec_") && new_secret != generated);
    assert!(!rotated_text.contains(&generated));
    assert_eq!(
        rotated["secret"]["last4"],
        json!(&new_secret[new_secret.len() - 4..])
    );
    assert_about(
        time(&rotated["previousSecretExpiresAt"]),
        Utc::now() + Duration::hours(2),
    );
    let after = row(&ctx, &id).await;
    assert_eq!(
        after.previous_sealed_secret.as_deref(),
        Some(stored.sealed_secret.as_str()),
        "the previous sealed value is kept as it was"
    );
    assert_about(
        after.previous_secret_expires_at.unwrap().and_utc(),
        Utc::now() + Duration::hours(2),
    );
    assert_eq!(
        keyring
            .open(&after.sealed_secret, &secret_aad(&id))
            .unwrap(),
        new_secret.as_bytes()
    );

    // Without graceHours: WEBHOOK_SECRET_GRACE (24 hours by default); a given secret.
    let (status, _, own_rotated_text, own_rotated) = call!(
        app,
        "POST",
        &format!("{}/rotate-secret", hook(&project, &own_id)),
        token,
        Some(json!({"secret": format!("{OWN_SECRET}-2")})),
    );
    assert_eq!(status, StatusCode::OK, "{own_rotated_text}");
    assert_eq!(own_rotated["signingSecret"], format!("{OWN_SECRET}-2"));
    assert_about(
        time(&own_rotated["previousSecretExpiresAt"]),
        Utc::now() + Duration::hours(24),
    );
    // Grace 0: the old secret stops at once; an empty body is the defaults.
    let (status, _, text, zero) = call!(
        app,
        "POST",
        &format!("{}/rotate-secret", hook(&project, &own_id)),
        token,
        Some(json!({"graceHours": 0})),
    );
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(zero["previousSecretExpiresAt"], Value::Null);
    let own_after = row(&ctx, &own_id).await;
    assert_eq!(own_after.previous_sealed_secret, None);
    assert_eq!(own_after.previous_secret_expires_at, None);
    let third_secret = zero["signingSecret"].as_str().unwrap().to_owned();
    let (status, _, text, _) = call!(
        app,
        "POST",
        &format!("{}/rotate-secret", hook(&project, &own_id)),
        token,
        None,
    );
    assert_eq!(status, StatusCode::OK, "{text}");
    let secrets = [
        generated.clone(),
        new_secret.clone(),
        OWN_SECRET.to_owned(),
        format!("{OWN_SECRET}-2"),
        third_secret,
    ];

    // No other answer shows any of them.
    for (method, path, body) in [
        ("GET", hooks(&project), None),
        ("GET", hook(&project, &id), None),
        ("GET", hook(&project, &own_id), None),
        (
            "PATCH",
            hook(&project, &id),
            Some(json!({"description": "main"})),
        ),
        ("GET", format!("{}/deliveries", hook(&project, &id)), None),
        (
            "POST",
            format!("{}/resend-failed", hook(&project, &id)),
            Some(json!({"since": "2020-01-01T00:00:00Z"})),
        ),
        ("GET", "/admin/api/v1/notifications".to_owned(), None),
        ("DELETE", hook(&project, &own_id), None),
    ] {
        let (status, _, text, _) = call!(app, method, &path, token, body);
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        others.push(text);
    }
    assert!(!others[0].contains("signingSecret"), "{}", others[0]);
    for text in &others {
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "a secret leaked: {text}");
            assert!(
                !text.contains(&secret[6..26]),
                "part of a secret leaked: {text}"
            );
        }
    }
    // Nor the audit trail, which records every change.
    let audit = ctx.store().list_audit(100).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    for action in [
        "webhook_endpoint.create",
        "webhook_endpoint.rotate_secret",
        "webhook_endpoint.update",
        "webhook_endpoint.resend_failed",
        "webhook_endpoint.delete",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    for a in &audit {
        for secret in &secrets {
            assert!(!a.detail.contains(secret.as_str()), "{}", a.detail);
        }
    }
    let create = audit
        .iter()
        .find(|a| a.action == "webhook_endpoint.create" && a.target.as_deref() == Some(&id))
        .unwrap();
    let detail: Value = serde_json::from_str(&create.detail).unwrap();
    assert_eq!(detail["url"], HOOK_URL);
    assert_eq!(detail["generatedSecret"], true);
    ctx.finish().await;
}

async fn endpoint_input_is_validated(db: TestDb) {
    let ctx = Ctx::new(db);
    let app = app!(ctx.state);
    let (_, raw) = ctx.admin().await;
    let token = Some(raw.as_str());
    let project = project!(app, &raw, "Shop");
    let path = hooks(&project);

    let long = |n: usize| "a".repeat(n);
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({}), vec!["url"]),
        (json!({"url": "  "}), vec!["url"]),
        (
            json!({
                "url": "ftp://shop.example/hook",
                "mode": "production",
                "headerName": "Content-Type",
                "secret": "too-short-secret",
                "eventTypes": ["payment.succeeded", "payment.refunded", "payment.succeeded"],
                "description": long(201),
            }),
            vec![
                "url",
                "mode",
                "headerName",
                "secret",
                "eventTypes",
                "eventTypes",
                "description",
            ],
        ),
        (
            json!({"url": "https://user:pw@shop.example/hook", "headerName": "x webhook"}),
            vec!["url", "headerName"],
        ),
        (
            json!({"url": HOOK_URL, "headerName": format!("x-{}", long(63))}),
            vec!["headerName"],
        ),
        (
            json!({"url": HOOK_URL, "headerName": "X-Shop:Sig"}),
            vec!["headerName"],
        ),
        (
            json!({"url": HOOK_URL, "headerName": "Webhook-Signature"}),
            vec!["headerName"],
        ),
        (
            json!({"url": HOOK_URL, "headerName": "authorization"}),
            vec!["headerName"],
        ),
        (
            json!({"url": HOOK_URL, "secret": "a secret with spaces in it"}),
            vec!["secret"],
        ),
        (
            json!({"url": HOOK_URL, "secret": "sécret-non-ascii-0123456789"}),
            vec!["secret"],
        ),
        (
            json!({"url": HOOK_URL, "secret": long(201)}),
            vec!["secret"],
        ),
        (
            json!({"url": HOOK_URL, "secret": "tab\tinside-0123456789abc"}),
            vec!["secret"],
        ),
        (
            json!({"url": HOOK_URL, "eventTypes": ["payment.expired", "*"]}),
            vec!["eventTypes"],
        ),
        (
            json!({"url": HOOK_URL, "description": "two\nlines"}),
            vec!["description"],
        ),
    ];
    for (body, expected) in cases {
        let (status, _, text, json) = call!(app, "POST", &path, token, Some(body.clone()));
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {text}");
        assert_eq!(assert_envelope(status, &json), "validation_error");
        assert_eq!(fields(&json), expected, "{body}: {text}");
        if let Some(secret) = body["secret"].as_str() {
            assert!(!text.contains(secret), "{text}");
        }
    }
    // The URL's own message is the issue.
    let (_, _, _, json) = call!(
        app,
        "POST",
        &path,
        token,
        Some(json!({"url": "https://user:pw@shop.example/hook"})),
    );
    assert!(
        json["error"]["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("credentials"),
        "{json}"
    );
    // Nothing was stored.
    assert!(ctx
        .store()
        .list_webhook_endpoints(&project)
        .await
        .unwrap()
        .is_empty());

    // The limits themselves are fine.
    let (status, _, text, ok) = call!(
        app,
        "POST",
        &path,
        token,
        Some(json!({
            "url": HOOK_URL,
            "headerName": format!("x-{}", long(62)),
            "secret": "!#$%&'*+-.^_`|~0123A",
            "eventTypes": [],
            "description": long(200),
        })),
    );
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert_eq!(ok["signingSecret"], "!#$%&'*+-.^_`|~0123A");
    assert_eq!(ok["eventTypes"], json!([]));
    let id = ok["id"].as_str().unwrap().to_owned();
    let (status, _, text, _) = call!(
        app,
        "POST",
        &path,
        token,
        Some(json!({"url": HOOK_URL, "secret": long(200), "eventTypes": ["payment.pending"]})),
    );
    assert_eq!(status, StatusCode::CREATED, "{text}");

    // Updates and rotations are checked the same way.
    let (status, _, text, json) = call!(
        app,
        "PATCH",
        &hook(&project, &id),
        token,
        Some(json!({
            "url": "not a url",
            "headerName": "Host",
            "eventTypes": ["payment.succeeded", "payment.succeeded"],
            "description": long(201),
        })),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert_eq!(
        fields(&json),
        ["url", "headerName", "eventTypes", "description"]
    );
    for grace in [-1, 169] {
        let (status, _, text, json) = call!(
            app,
            "POST",
            &format!("{}/rotate-secret", hook(&project, &id)),
            token,
            Some(json!({"graceHours": grace, "secret": "short"})),
        );
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
        assert_eq!(fields(&json), ["secret", "graceHours"]);
    }
    let unchanged = row(&ctx, &id).await;
    assert_eq!(unchanged.url, HOOK_URL);
    assert_eq!(unchanged.previous_sealed_secret, None);

    // Malformed bodies: unknown fields, wrong types, nothing to change.
    for (method, path, body) in [
        (
            "POST",
            path.clone(),
            json!({"url": HOOK_URL, "secrets": "x"}),
        ),
        (
            "POST",
            path.clone(),
            json!({"url": HOOK_URL, "eventTypes": "payment.failed"}),
        ),
        ("PATCH", hook(&project, &id), json!({"mode": "test"})),
        ("PATCH", hook(&project, &id), json!({})),
    ] {
        let (status, _, text, json) = call!(app, method, &path, token, Some(body));
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
        assert_eq!(assert_envelope(status, &json), "bad_request");
    }

    // Unknown and archived projects.
    let (status, _, _, json) = call!(
        app,
        "POST",
        &hooks("proj_unknown"),
        token,
        Some(json!({"url": HOOK_URL})),
    );
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(assert_envelope(status, &json), "not_found");
    let archived = project!(app, &raw, "Old shop");
    let (status, _, _, _) = call!(
        app,
        "DELETE",
        &format!("/admin/api/v1/projects/{archived}"),
        token,
        None
    );
    assert_eq!(status, StatusCode::OK);
    let (status, _, text, _) = call!(
        app,
        "POST",
        &hooks(&archived),
        token,
        Some(json!({"url": HOOK_URL})),
    );
    assert_eq!(status, StatusCode::CONFLICT, "{text}");

    // A process without WEBHOOK_SECRETS_KEY cannot seal a secret, and says why.
    let mut config = config_in(&ctx.dir, &[]);
    config.webhook_secrets_key = None;
    let keyless = nexpay_dashboard::DashboardState::new(ctx.store().clone(), config);
    let keyless_app = app!(keyless);
    let (status, _, text, json) = call!(
        keyless_app,
        "POST",
        &path,
        token,
        Some(json!({"url": HOOK_URL})),
    );
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{text}");
    assert_eq!(assert_envelope(status, &json), "internal_error");
    assert_eq!(
        json["message"],
        "WEBHOOK_SECRETS_KEY is not set in this process (the dashboard and webhook-dispatcher hold it)"
    );
    let (status, _, text, json) = call!(
        keyless_app,
        "POST",
        &format!("{}/rotate-secret", hook(&project, &id)),
        token,
        None,
    );
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{text}");
    assert!(json["message"]
        .as_str()
        .unwrap()
        .starts_with("WEBHOOK_SECRETS_KEY is not set"));
    assert_eq!(row(&ctx, &id).await.sealed_secret, unchanged.sealed_secret);
    // Reading needs no key.
    let (status, _, _, list) = call!(keyless_app, "GET", &path, token, None);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    ctx.finish().await;
}

async fn private_urls_follow_the_configuration(db: TestDb) {
    // The development default allows them (local receivers).
    let ctx = Ctx::new(db);
    assert!(ctx.state.config.webhooks.allow_private_urls);
    let app = app!(ctx.state);
    let (_, raw) = ctx.admin().await;
    let token = Some(raw.as_str());
    let project = project!(app, &raw, "Shop");
    let (status, _, text, local) = call!(
        app,
        "POST",
        &hooks(&project),
        token,
        Some(json!({"url": "http://127.0.0.1:3000/hook"})),
    );
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let id = local["id"].as_str().unwrap().to_owned();

    let strict_config = config_in(&ctx.dir, &[("WEBHOOK_ALLOW_PRIVATE_URLS", "false")]);
    assert!(!strict_config.webhooks.allow_private_urls);
    let strict = nexpay_dashboard::DashboardState::new(ctx.store().clone(), strict_config);
    let strict_app = app!(strict);
    for url in [
        "http://127.0.0.1:3000/hook",
        "http://localhost/hook",
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
    ] {
        let (status, _, text, json) = call!(
            strict_app,
            "POST",
            &hooks(&project),
            token,
            Some(json!({"url": url})),
        );
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {text}");
        assert_eq!(fields(&json), ["url"]);
        assert!(
            json["error"]["details"][0]["message"]
                .as_str()
                .unwrap()
                .contains("WEBHOOK_ALLOW_PRIVATE_URLS"),
            "{text}"
        );
    }
    let (status, _, text, json) = call!(
        strict_app,
        "PATCH",
        &hook(&project, &id),
        token,
        Some(json!({"url": "http://192.168.1.10/hook"})),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert_eq!(fields(&json), ["url"]);
    let (status, _, text, _) = call!(
        strict_app,
        "POST",
        &hooks(&project),
        token,
        Some(json!({"url": HOOK_URL})),
    );
    assert_eq!(status, StatusCode::CREATED, "{text}");
    ctx.finish().await;
}

async fn endpoints_belong_to_their_project(db: TestDb) {
    let ctx = Ctx::new(db);
    let app = app!(ctx.state);
    let (_, raw) = ctx.admin().await;
    let token = Some(raw.as_str());
    let mine = project!(app, &raw, "Mine");
    let other = project!(app, &raw, "Other");
    let (_, _, _, created) = call!(
        app,
        "POST",
        &hooks(&mine),
        token,
        Some(json!({"url": HOOK_URL})),
    );
    let id = created["id"].as_str().unwrap().to_owned();
    let (_, _, _, second) = call!(
        app,
        "POST",
        &hooks(&mine),
        token,
        Some(json!({"url": "https://shop.example/test-hook", "mode": "test"})),
    );
    let (_, _, _, list) = call!(app, "GET", &hooks(&mine), token, None);
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str(), second["id"].as_str().unwrap()]);
    let (status, _, _, list) = call!(app, "GET", &hooks(&other), token, None);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["data"], json!([]));
    let (status, _, _, _) = call!(app, "GET", &hooks("proj_unknown"), token, None);
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Through another project's path, the endpoint does not exist.
    let foreign = hook(&other, &id);
    for (method, path, body) in [
        ("GET", foreign.clone(), None),
        ("PATCH", foreign.clone(), Some(json!({"enabled": false}))),
        ("DELETE", foreign.clone(), None),
        ("POST", format!("{foreign}/rotate-secret"), None),
        ("GET", format!("{foreign}/deliveries"), None),
        (
            "POST",
            format!("{foreign}/resend-failed"),
            Some(json!({"since": "2020-01-01T00:00:00Z"})),
        ),
        ("GET", hook(&mine, "whe_unknown"), None),
    ] {
        let (status, _, text, json) = call!(app, method, &path, token, body);
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {text}");
        assert_eq!(assert_envelope(status, &json), "not_found");
    }
    let stored = row(&ctx, &id).await;
    assert!(stored.enabled);
    assert_eq!(stored.previous_sealed_secret, None);
    let (status, _, _, view) = call!(app, "GET", &hook(&mine, &id), token, None);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["id"], json!(id));
    ctx.finish().await;
}

async fn update_and_enabling_clears_the_failure_record(db: TestDb) {
    let ctx = Ctx::new(db);
    let app = app!(ctx.state);
    let (_, raw) = ctx.admin().await;
    let token = Some(raw.as_str());
    let project = project!(app, &raw, "Shop");

    // Disabled by the dispatcher: a reason and a failure record.
    let id = "whe_disabledByDispatcher0001";
    let failing = nexpay_store::now() - Duration::days(3);
    let mut stored = endpoint_row(&ctx, &project, id);
    stored.enabled = false;
    stored.disabled_reason = Some("the receiver answered 410 Gone".into());
    stored.failing_since = Some(failing);
    ctx.store().insert_webhook_endpoint(&stored).await.unwrap();
    let (_, _, _, view) = call!(app, "GET", &hook(&project, id), token, None);
    assert_eq!(view["enabled"], false);
    assert_eq!(view["disabledReason"], "the receiver answered 410 Gone");
    assert_eq!(time(&view["failingSince"]), failing.and_utc());

    let (status, _, text, view) = call!(
        app,
        "PATCH",
        &hook(&project, id),
        token,
        Some(json!({"enabled": true})),
    );
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(view["enabled"], true);
    assert_eq!(view["disabledReason"], Value::Null);
    assert_eq!(view["failingSince"], Value::Null);
    let after = row(&ctx, id).await;
    assert!(after.enabled);
    assert_eq!((after.disabled_reason, after.failing_since), (None, None));

    // Every other field, each alone.
    let (status, _, text, view) = call!(
        app,
        "PATCH",
        &hook(&project, id),
        token,
        Some(json!({
            "url": "https://shop.example/v2/hook",
            "headerName": "X-Signature",
            "eventTypes": ["payment.succeeded"],
            "description": "v2",
        })),
    );
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(view["url"], "https://shop.example/v2/hook");
    assert_eq!(view["headerName"], "x-signature");
    assert_eq!(view["eventTypes"], json!(["payment.succeeded"]));
    assert_eq!(view["description"], "v2");
    assert_eq!(view["enabled"], true);
    assert_eq!(view["mode"], "live");
    let (_, _, _, view) = call!(
        app,
        "PATCH",
        &hook(&project, id),
        token,
        Some(json!({"description": null, "eventTypes": [], "enabled": false})),
    );
    assert_eq!(view["description"], Value::Null);
    assert_eq!(view["eventTypes"], json!([]));
    assert_eq!(view["enabled"], false);
    assert_eq!(view["disabledReason"], Value::Null);
    assert_eq!(view["url"], "https://shop.example/v2/hook");
    assert_eq!(view["headerName"], "x-signature");
    // The secret is untouched by updates.
    let after = row(&ctx, id).await;
    assert_eq!(after.sealed_secret, stored.sealed_secret);
    let audit = ctx.store().list_audit(10).await.unwrap();
    let updates: Vec<Value> = audit
        .iter()
        .filter(|a| a.action == "webhook_endpoint.update")
        .map(|a| serde_json::from_str(&a.detail).unwrap())
        .collect();
    assert_eq!(updates.len(), 3);
    assert_eq!(
        updates[0]["fields"],
        json!(["eventTypes", "enabled", "description"])
    );
    ctx.finish().await;
}

async fn delete_fails_pending_deliveries(db: TestDb) {
    let ctx = Ctx::new(db);
    let app = app!(ctx.state);
    let (_, raw) = ctx.admin().await;
    let token = Some(raw.as_str());
    let project = project!(app, &raw, "Shop");
    let (_, _, _, created) = call!(
        app,
        "POST",
        &hooks(&project),
        token,
        Some(json!({"url": HOOK_URL})),
    );
    let id = created["id"].as_str().unwrap().to_owned();
    let endpoint = row(&ctx, &id).await;
    let pending = delivery(&endpoint, 1, "pending", nexpay_store::now());
    let done = delivery(&endpoint, 2, "succeeded", nexpay_store::now());
    ctx.store()
        .insert_webhook_deliveries(&[pending.clone(), done.clone()])
        .await
        .unwrap();

    let (status, _, text, _) = call!(app, "DELETE", &hook(&project, &id), token, None);
    assert_eq!(status, StatusCode::NO_CONTENT, "{text}");
    assert!(text.is_empty());
    let failed = ctx
        .store()
        .get_webhook_delivery(&pending.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.status, "failed");
    assert_eq!(failed.next_attempt_at, None);
    assert!(failed.last_error.is_some());
    let kept = ctx
        .store()
        .get_webhook_delivery(&done.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.status, "succeeded");

    // Gone from the API, its deliveries still readable, but not resendable.
    let (status, _, _, _) = call!(app, "GET", &hook(&project, &id), token, None);
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _, _) = call!(app, "DELETE", &hook(&project, &id), token, None);
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, _, _, list) = call!(app, "GET", &hooks(&project), token, None);
    assert_eq!(list["data"], json!([]));
    let delivery_path = format!("/admin/api/v1/webhook-deliveries/{}", pending.id);
    let (status, _, _, detail) = call!(app, "GET", &delivery_path, token, None);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["status"], "failed");
    let (status, _, text, json) =
        call!(app, "POST", &format!("{delivery_path}/resend"), token, None);
    assert_eq!(status, StatusCode::CONFLICT, "{text}");
    assert_eq!(assert_envelope(status, &json), "conflict");
    let audit = ctx.store().list_audit(10).await.unwrap();
    assert!(audit
        .iter()
        .any(|a| a.action == "webhook_endpoint.delete" && a.target.as_deref() == Some(&id)));
    ctx.finish().await;
}

async fn deliveries_listing_detail_and_resend(db: TestDb) {
    let ctx = Ctx::new(db);
    let app = app!(ctx.state);
    let (_, raw) = ctx.admin().await;
    let token = Some(raw.as_str());
    let project = project!(app, &raw, "Shop");
    let (_, _, _, created) = call!(
        app,
        "POST",
        &hooks(&project),
        token,
        Some(json!({"url": HOOK_URL})),
    );
    let id = created["id"].as_str().unwrap().to_owned();
    let endpoint = row(&ctx, &id).await;
    let base = nexpay_store::now() - Duration::minutes(10);
    let rows: Vec<WebhookDeliveryRow> = (1..=3)
        .map(|n| {
            delivery(
                &endpoint,
                n,
                "pending",
                base + Duration::minutes(i64::from(n)),
            )
        })
        .collect();
    ctx.store().insert_webhook_deliveries(&rows).await.unwrap();

    // Through the store as the dispatcher does: one given up, one delivered.
    let claimed = ctx
        .store()
        .claim_webhook_deliveries(10, chrono::Duration::seconds(60))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    let attempt = |d: &WebhookDeliveryRow, code: i32, error: Option<&str>| WebhookAttemptRow {
        id: format!("wha_{}", nexpay_security::random_base62(20)),
        delivery_id: d.id.clone(),
        number: 1,
        attempted_at: nexpay_store::now(),
        duration_ms: 321,
        status_code: Some(code),
        response_snippet: Some(format!("answer {code}")),
        error: error.map(str::to_owned),
        next_attempt_at: None,
    };
    for c in &claimed {
        let (a, outcome) = if c.id == rows[0].id {
            (attempt(c, 500, Some("HTTP 500")), AttemptOutcome::GaveUp)
        } else if c.id == rows[1].id {
            (attempt(c, 200, None), AttemptOutcome::Delivered)
        } else {
            continue;
        };
        assert!(ctx
            .store()
            .record_webhook_attempt(&a, c.locked_until, &outcome, None)
            .await
            .unwrap());
    }

    let deliveries = format!("{}/deliveries", hook(&project, &id));
    let (status, headers, text, list) = call!(app, "GET", &deliveries, token, None);
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(headers.get("cache-control").unwrap(), "no-store");
    let data = list["data"].as_array().unwrap();
    let ids: Vec<&str> = data.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [&rows[2].id, &rows[1].id, &rows[0].id], "newest first");
    let statuses: Vec<&str> = data.iter().map(|d| d["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["pending", "succeeded", "failed"]);
    let failed = &data[2];
    assert_eq!(failed["eventId"], "evt_1");
    assert_eq!(failed["eventType"], "payment.succeeded");
    assert_eq!(failed["reference"], json!(rows[0].aggregate_id));
    assert_eq!(failed["attempts"], 1);
    assert_eq!(failed["lastStatusCode"], 500);
    assert_eq!(failed["lastError"], "HTTP 500");
    assert_eq!(failed["nextAttemptAt"], Value::Null);
    assert_eq!(failed["deliveredAt"], Value::Null);
    assert_eq!(time(&failed["createdAt"]), rows[0].created_at.and_utc());
    assert!(failed["updatedAt"].is_string());
    assert!(failed.get("body").is_none(), "bodies only in the detail");
    assert!(data[1]["deliveredAt"].is_string());
    assert!(data[0]["nextAttemptAt"].is_string());

    for (query, expected) in [
        ("?status=failed", vec![rows[0].id.as_str()]),
        ("?status=succeeded", vec![rows[1].id.as_str()]),
        ("?status=pending&limit=5", vec![rows[2].id.as_str()]),
        ("?limit=2", vec![rows[2].id.as_str(), rows[1].id.as_str()]),
    ] {
        let (status, _, text, list) =
            call!(app, "GET", &format!("{deliveries}{query}"), token, None);
        assert_eq!(status, StatusCode::OK, "{text}");
        let ids: Vec<&str> = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, expected, "{query}");
    }
    for (query, field) in [
        ("?status=lost", "status"),
        ("?limit=0", "limit"),
        ("?limit=501", "limit"),
    ] {
        let (status, _, text, json) =
            call!(app, "GET", &format!("{deliveries}{query}"), token, None);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {text}");
        assert_eq!(fields(&json), [field]);
    }
    let (status, _, _, _) = call!(app, "GET", &format!("{deliveries}?page=2"), token, None);
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // One delivery: the exact body and its attempts.
    let detail_path = format!("/admin/api/v1/webhook-deliveries/{}", rows[0].id);
    let (status, _, text, detail) = call!(app, "GET", &detail_path, token, None);
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(detail["body"], json!(rows[0].body));
    assert_eq!(detail["status"], "failed");
    assert_eq!(detail["reference"], json!(rows[0].aggregate_id));
    let attempts = detail["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1);
    let a = &attempts[0];
    assert_eq!(a["number"], 1);
    assert_eq!(a["durationMs"], 321);
    assert_eq!(a["statusCode"], 500);
    assert_eq!(a["responseSnippet"], "answer 500");
    assert_eq!(a["error"], "HTTP 500");
    assert_eq!(a["nextAttemptAt"], Value::Null);
    assert!(a["attemptedAt"].is_string());
    let (_, _, _, pending) = call!(
        app,
        "GET",
        &format!("/admin/api/v1/webhook-deliveries/{}", rows[2].id),
        token,
        None
    );
    assert_eq!(pending["attempts"], json!([]));
    let (status, _, _, _) = call!(
        app,
        "GET",
        "/admin/api/v1/webhook-deliveries/whd_unknown",
        token,
        None
    );
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Resend: pending again, attempts back to 0, due now; the history stays.
    let (status, _, text, resent) =
        call!(app, "POST", &format!("{detail_path}/resend"), token, None);
    assert_eq!(status, StatusCode::ACCEPTED, "{text}");
    assert_eq!(resent["id"], json!(rows[0].id));
    assert_eq!(resent["status"], "pending");
    assert_eq!(resent["attempts"], 0);
    assert_about(time(&resent["nextAttemptAt"]), Utc::now());
    let stored = ctx
        .store()
        .get_webhook_delivery(&rows[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((stored.status.as_str(), stored.attempts), ("pending", 0));
    assert_eq!(stored.locked_until, None);
    assert_eq!(
        ctx.store()
            .list_webhook_attempts(&rows[0].id)
            .await
            .unwrap()
            .len(),
        1
    );
    let (status, _, _, _) = call!(
        app,
        "POST",
        "/admin/api/v1/webhook-deliveries/whd_unknown/resend",
        token,
        None
    );
    assert_eq!(status, StatusCode::NOT_FOUND);
    let audit = ctx.store().list_audit(10).await.unwrap();
    let resend = audit
        .iter()
        .find(|a| a.action == "webhook_delivery.resend")
        .unwrap();
    assert_eq!(resend.target.as_deref(), Some(rows[0].id.as_str()));

    // A disabled endpoint gets nothing resent until it is enabled again.
    let (_, _, _, _) = call!(
        app,
        "PATCH",
        &hook(&project, &id),
        token,
        Some(json!({"enabled": false})),
    );
    let (status, _, text, _) = call!(
        app,
        "POST",
        &format!("/admin/api/v1/webhook-deliveries/{}/resend", rows[1].id),
        token,
        None
    );
    assert_eq!(status, StatusCode::CONFLICT, "{text}");
    assert!(text.contains("disabled"), "{text}");
    ctx.finish().await;
}

async fn resend_failed_since_a_date(db: TestDb) {
    let ctx = Ctx::new(db);
    let app = app!(ctx.state);
    let (_, raw) = ctx.admin().await;
    let token = Some(raw.as_str());
    let project = project!(app, &raw, "Shop");
    let (_, _, _, created) = call!(
        app,
        "POST",
        &hooks(&project),
        token,
        Some(json!({"url": HOOK_URL})),
    );
    let id = created["id"].as_str().unwrap().to_owned();
    let endpoint = row(&ctx, &id).await;
    let now = nexpay_store::now();
    let old = delivery(&endpoint, 1, "failed", now - Duration::days(3));
    let recent = delivery(&endpoint, 2, "failed", now - Duration::hours(1));
    let recent_too = delivery(&endpoint, 3, "failed", now - Duration::minutes(5));
    let succeeded = delivery(&endpoint, 4, "succeeded", now - Duration::minutes(5));
    ctx.store()
        .insert_webhook_deliveries(&[
            old.clone(),
            recent.clone(),
            recent_too.clone(),
            succeeded.clone(),
        ])
        .await
        .unwrap();
    // Another endpoint's failures are not touched.
    let (_, _, _, other) = call!(
        app,
        "POST",
        &hooks(&project),
        token,
        Some(json!({"url": "https://other.example/hook"})),
    );
    let other = row(&ctx, other["id"].as_str().unwrap()).await;
    let foreign = delivery(&other, 5, "failed", now - Duration::minutes(5));
    ctx.store()
        .insert_webhook_deliveries(std::slice::from_ref(&foreign))
        .await
        .unwrap();

    let path = format!("{}/resend-failed", hook(&project, &id));
    for body in [
        None,
        Some(json!({})),
        Some(json!({"since": "yesterday"})),
        Some(json!({"since": "2025-10-30 00:00:00"})),
    ] {
        let (status, _, text, json) = call!(app, "POST", &path, token, body);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
        assert_eq!(fields(&json), ["since"]);
    }
    let since = (Utc::now() - Duration::days(1)).to_rfc3339();
    let (status, _, text, json) = call!(app, "POST", &path, token, Some(json!({"since": since})));
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(json, json!({"resent": 2}));
    let status_of = |id: String| {
        let store = ctx.store().clone();
        async move { store.get_webhook_delivery(&id).await.unwrap().unwrap() }
    };
    assert_eq!(status_of(old.id.clone()).await.status, "failed");
    for d in [&recent, &recent_too] {
        let d = status_of(d.id.clone()).await;
        assert_eq!((d.status.as_str(), d.attempts), ("pending", 0));
        assert!(d.next_attempt_at.is_some());
    }
    assert_eq!(status_of(succeeded.id.clone()).await.status, "succeeded");
    assert_eq!(status_of(foreign.id.clone()).await.status, "failed");

    // With an offset, the same instant.
    let since = (Utc::now() - Duration::days(4))
        .with_timezone(&chrono::FixedOffset::east_opt(3600).unwrap())
        .to_rfc3339();
    let (_, _, _, json) = call!(app, "POST", &path, token, Some(json!({"since": since})));
    assert_eq!(json, json!({"resent": 1}));
    assert_eq!(status_of(old.id.clone()).await.status, "pending");
    let audit = ctx.store().list_audit(10).await.unwrap();
    let logged: Vec<Value> = audit
        .iter()
        .filter(|a| a.action == "webhook_endpoint.resend_failed")
        .map(|a| serde_json::from_str(&a.detail).unwrap())
        .collect();
    assert_eq!(logged.len(), 2);
    assert_eq!(logged[0]["resent"], 1);
    ctx.finish().await;
}

async fn notifications_list_and_read(db: TestDb) {
    let ctx = Ctx::new(db);
    let app = app!(ctx.state);
    let (_, raw) = ctx.admin().await;
    let token = Some(raw.as_str());
    let now = nexpay_store::now();
    let notice = |id: &str, at: NaiveDateTime| AdminNotificationRow {
        id: id.to_owned(),
        kind: "webhook_endpoint_disabled".into(),
        subject_id: Some("whe_someEndpoint".into()),
        message: format!("endpoint disabled ({id})"),
        detail: json!({"url": HOOK_URL, "reason": "410 Gone"}).to_string(),
        created_at: at,
        read_at: None,
    };
    let older = notice("ntf_older", now - Duration::hours(2));
    let newer = notice("ntf_newer", now - Duration::minutes(1));
    for n in [&older, &newer] {
        ctx.store().insert_admin_notification(n).await.unwrap();
    }

    let (status, _, text, list) = call!(app, "GET", "/admin/api/v1/notifications", token, None);
    assert_eq!(status, StatusCode::OK, "{text}");
    let data = list["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["id"], "ntf_newer");
    assert_eq!(data[1]["id"], "ntf_older");
    let n = &data[0];
    assert_eq!(n["kind"], "webhook_endpoint_disabled");
    assert_eq!(n["subjectId"], "whe_someEndpoint");
    assert_eq!(n["message"], "endpoint disabled (ntf_newer)");
    assert_eq!(n["detail"], json!({"url": HOOK_URL, "reason": "410 Gone"}));
    assert_eq!(time(&n["createdAt"]), newer.created_at.and_utc());
    assert_eq!(n["readAt"], Value::Null);
    let (_, _, _, list) = call!(
        app,
        "GET",
        "/admin/api/v1/notifications?limit=1",
        token,
        None
    );
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let (status, _, _, json) = call!(
        app,
        "GET",
        "/admin/api/v1/notifications?limit=0",
        token,
        None
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(fields(&json), ["limit"]);

    let (status, _, text, _) = call!(
        app,
        "POST",
        "/admin/api/v1/notifications/ntf_older/read",
        token,
        None
    );
    assert_eq!(status, StatusCode::NO_CONTENT, "{text}");
    let (_, _, _, list) = call!(app, "GET", "/admin/api/v1/notifications", token, None);
    assert_eq!(list["data"][0]["readAt"], Value::Null);
    assert_about(time(&list["data"][1]["readAt"]), Utc::now());
    // Read already, or unknown: 404.
    for id in ["ntf_older", "ntf_unknown"] {
        let (status, _, text, json) = call!(
            app,
            "POST",
            &format!("/admin/api/v1/notifications/{id}/read"),
            token,
            None
        );
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}: {text}");
        assert_eq!(assert_envelope(status, &json), "not_found");
    }
    ctx.finish().await;
}

async fn webhook_routes_need_a_session(db: TestDb) {
    let ctx = Ctx::new(db);
    let app = app!(ctx.state);
    let (_, token) = ctx.admin().await;
    let project = project!(app, &token, "Shop");
    let (_, _, _, created) = call!(
        app,
        "POST",
        &hooks(&project),
        Some(token.as_str()),
        Some(json!({"url": HOOK_URL})),
    );
    let id = created["id"].as_str().unwrap().to_owned();
    let endpoint = hook(&project, &id);
    for (method, path, body) in [
        ("GET", hooks(&project), None),
        ("POST", hooks(&project), Some(json!({"url": HOOK_URL}))),
        ("GET", endpoint.clone(), None),
        ("PATCH", endpoint.clone(), Some(json!({"enabled": false}))),
        ("DELETE", endpoint.clone(), None),
        ("POST", format!("{endpoint}/rotate-secret"), None),
        ("GET", format!("{endpoint}/deliveries"), None),
        (
            "POST",
            format!("{endpoint}/resend-failed"),
            Some(json!({"since": "2020-01-01T00:00:00Z"})),
        ),
        ("GET", "/admin/api/v1/webhook-deliveries/whd_x".into(), None),
        (
            "POST",
            "/admin/api/v1/webhook-deliveries/whd_x/resend".into(),
            None,
        ),
        ("GET", "/admin/api/v1/notifications".into(), None),
        (
            "POST",
            "/admin/api/v1/notifications/ntf_x/read".into(),
            None,
        ),
    ] {
        let (status, _, text, json) = call!(app, method, &path, None, body.clone());
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {text}");
        assert_eq!(assert_envelope(status, &json), "unauthorized");
        let (status, _, _, _) = call!(app, method, &path, Some("not-a-token"), body);
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    // Nothing changed.
    let stored = row(&ctx, &id).await;
    assert!(stored.enabled && stored.previous_sealed_secret.is_none());
    assert_eq!(
        ctx.store()
            .list_webhook_endpoints(&project)
            .await
            .unwrap()
            .len(),
        1
    );
    ctx.finish().await;
}

async fn cli_manages_webhooks(db: TestDb) {
    use nexpay_dashboard::cli;
    use nexpay_dashboard::webhooks::{CreateEndpointInput, RotateSecretInput, UpdateEndpointInput};

    let ctx = Ctx::new(db);
    let (store, config) = (ctx.store(), &ctx.state.config);
    let mut out = Vec::new();
    let text = |out: &mut Vec<u8>| String::from_utf8(std::mem::take(out)).unwrap();
    let project = cli::project_create(store, config, "Shop", None, None, None, &mut out)
        .await
        .unwrap()
        .id;
    out.clear();

    // A generated secret, printed once with the warning to store it.
    let input = CreateEndpointInput {
        url: Some(HOOK_URL.into()),
        mode: Some("test".into()),
        event_types: Some(vec!["payment.succeeded".into(), "payment.failed".into()]),
        description: Some("ERP".into()),
        ..Default::default()
    };
    let created = cli::webhooks_create(store, config, &project, &input, &mut out)
        .await
        .unwrap();
    let secret = created.signing_secret.expose().to_owned();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(format!("{:?}", created.signing_secret), "[REDACTED]");
    let id = created.endpoint.id.clone();
    let printed = text(&mut out);
    assert_eq!(printed.matches(&secret).count(), 1, "{printed}");
    assert!(printed.contains("shown only this once"), "{printed}");
    assert!(
        printed.contains(&format!("test webhook endpoint {id}")),
        "{printed}"
    );
    assert!(
        printed.contains("events: payment.succeeded,payment.failed"),
        "{printed}"
    );
    let stored = row(&ctx, &id).await;
    assert_eq!(
        keyring(&ctx)
            .open(&stored.sealed_secret, &secret_aad(&id))
            .unwrap(),
        secret.as_bytes()
    );

    // A secret of the operator's (the binary reads it from --secret-env).
    let var = format!("NEXPAY_TEST_WEBHOOK_SECRET_{}", std::process::id());
    std::env::set_var(&var, format!("{OWN_SECRET}\n"));
    let own =
        cli::read_secret("Webhook secret", Some(&var), &mut &b""[..], &mut Vec::new()).unwrap();
    std::env::remove_var(&var);
    let input = CreateEndpointInput {
        url: Some("https://other.example/hook".into()),
        secret: Some(own),
        ..Default::default()
    };
    let own_created = cli::webhooks_create(store, config, &project, &input, &mut out)
        .await
        .unwrap();
    assert_eq!(own_created.signing_secret.expose(), OWN_SECRET);
    assert_eq!(own_created.endpoint.mode, "live");
    assert!(text(&mut out).contains(OWN_SECRET));

    // Same validation as the API.
    let bad = CreateEndpointInput {
        url: Some("shop.example/hook".into()),
        header_name: Some("cookie".into()),
        ..Default::default()
    };
    let err = cli::webhooks_create(store, config, &project, &bad, &mut out)
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("url: "), "{err}");
    assert!(err.to_string().contains("headerName: "), "{err}");
    assert!(out.is_empty());
    let mut keyless = config_in(&ctx.dir, &[]);
    keyless.webhook_secrets_key = None;
    let err = cli::webhooks_create(
        store,
        &keyless,
        &project,
        &CreateEndpointInput {
            url: Some(HOOK_URL.into()),
            ..Default::default()
        },
        &mut out,
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("WEBHOOK_SECRETS_KEY is not set in this process"),
        "{err}"
    );

    let list = cli::webhooks_list(store, &project, &mut out).await.unwrap();
    assert_eq!(list.len(), 2);
    let listed = text(&mut out);
    assert!(
        !listed.contains(&secret) && !listed.contains(OWN_SECRET),
        "{listed}"
    );
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 3, "{listed}");
    // The URL column is as wide as the longest URL; the event types come last.
    let header_end = format!("  {:<width$}  EVENTS", "URL", width = HOOK_URL.len());
    assert!(lines[0].ends_with(&header_end), "{listed}");
    assert!(
        lines[1].starts_with(&id)
            && lines[1].contains(&format!("{HOOK_URL}  "))
            && lines[1].ends_with("  payment.succeeded,payment.failed"),
        "{listed}"
    );
    assert!(
        lines[2].contains("https://other.example/hook ") && lines[2].ends_with("  all"),
        "{listed}"
    );

    let update = UpdateEndpointInput {
        enabled: Some(false),
        description: Some(None),
        ..Default::default()
    };
    let updated = cli::webhooks_update(store, config, &project, &id, &update, &mut out)
        .await
        .unwrap();
    assert!(!updated.enabled);
    assert_eq!(updated.description, None);
    let printed = text(&mut out);
    assert!(printed.contains("enabled: no"), "{printed}");
    assert!(!printed.contains(&secret));
    let err = cli::webhooks_update(
        store,
        config,
        &project,
        &id,
        &UpdateEndpointInput::default(),
        &mut out,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("nothing to change"), "{err}");

    // Rotation: the new secret once, and until when the old one signs.
    let rotated = cli::webhooks_rotate_secret(
        store,
        config,
        &project,
        &id,
        &RotateSecretInput {
            secret: None,
            grace_hours: Some(6),
        },
        &mut out,
    )
    .await
    .unwrap();
    let new_secret = rotated.signing_secret.expose().to_owned();
    let printed = text(&mut out);
    assert_eq!(printed.matches(&new_secret).count(), 1, "{printed}");
    assert!(!printed.contains(&secret), "{printed}");
    assert!(
        printed.contains("keeps signing deliveries until"),
        "{printed}"
    );
    assert_about(
        rotated.endpoint.previous_secret_expires_at.unwrap(),
        Utc::now() + Duration::hours(6),
    );
    let err = cli::webhooks_rotate_secret(
        store,
        config,
        &project,
        &id,
        &RotateSecretInput {
            secret: Some(Secret::new("short")),
            grace_hours: Some(500),
        },
        &mut out,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "secret: must be 20 to 200 characters long; graceHours: must be between 0 and 168"
    );

    // Deliveries, resend, resend-failed.
    let endpoint = row(&ctx, &id).await;
    let now = nexpay_store::now();
    let failed = delivery(&endpoint, 1, "failed", now - Duration::hours(1));
    let pending = delivery(&endpoint, 2, "pending", now);
    store
        .insert_webhook_deliveries(&[failed.clone(), pending.clone()])
        .await
        .unwrap();
    let list = cli::webhooks_deliveries(store, &project, &id, Some("failed"), None, &mut out)
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    let printed = text(&mut out);
    assert_eq!(printed.lines().count(), 2, "{printed}");
    assert!(
        printed.lines().nth(1).unwrap().starts_with(&failed.id),
        "{printed}"
    );
    let err = cli::webhooks_deliveries(store, &project, &id, Some("done"), None, &mut out)
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("status: "), "{err}");

    // The endpoint is disabled: enable it first.
    let err = cli::webhooks_resend(store, &failed.id, &mut out)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("disabled"), "{err}");
    let enable = UpdateEndpointInput {
        enabled: Some(true),
        ..Default::default()
    };
    cli::webhooks_update(store, config, &project, &id, &enable, &mut out)
        .await
        .unwrap();
    out.clear();
    let since = (Utc::now() - Duration::days(1)).to_rfc3339();
    let n = cli::webhooks_resend_failed(store, &project, &id, &since, &mut out)
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        text(&mut out),
        "1 failed delivery will be sent again shortly.\n"
    );
    let err = cli::webhooks_resend_failed(store, &project, &id, "last week", &mut out)
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("since: "), "{err}");
    let d = cli::webhooks_resend(store, &failed.id, &mut out)
        .await
        .unwrap();
    assert_eq!((d.status.as_str(), d.attempts), ("pending", 0));
    assert!(text(&mut out).contains(&failed.aggregate_id));

    cli::webhooks_delete(store, &project, &id, &mut out)
        .await
        .unwrap();
    assert!(text(&mut out).starts_with(&format!("Deleted webhook endpoint {id}")));
    let d = store
        .get_webhook_delivery(&pending.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.status, "failed");
    let err = cli::webhooks_delete(store, &project, &id, &mut out)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");

    // Every change is audited as the CLI's, without a secret.
    let audit = store.list_audit(100).await.unwrap();
    for action in [
        "webhook_endpoint.create",
        "webhook_endpoint.update",
        "webhook_endpoint.rotate_secret",
        "webhook_endpoint.resend_failed",
        "webhook_delivery.resend",
        "webhook_endpoint.delete",
    ] {
        assert!(
            audit.iter().any(|a| a.action == action && a.actor == "cli"),
            "{action}"
        );
    }
    for a in &audit {
        for s in [secret.as_str(), new_secret.as_str(), OWN_SECRET] {
            assert!(!a.detail.contains(s), "{}", a.detail);
        }
    }
    ctx.finish().await;
}
