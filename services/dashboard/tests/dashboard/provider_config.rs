//! Provider configuration: sealed at rest, never shown back (only "configured" and the
//! last four characters), validated, reflected in `live` / `missing`; the test payment.

use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use nexpay_bus::{handler_fn, Bus, ConsumerOptions, Envelope, HandlerError, InProcessBus};
use nexpay_contracts::{kinds, queues, InitiatePayment};
use nexpay_security::{Keyring, SealingKey};
use nexpay_store::testing::TestDb;
use nexpay_store::{ProviderConfigDoc, ProviderRow};
use serde_json::{json, Value};

use crate::common::*;

both_backends!(
    provider_secrets_are_sealed_and_never_shown,
    provider_config_is_validated,
    live_and_missing_follow_the_configuration,
    test_payment_goes_through_the_bus,
    cli_configures_providers_without_showing_secrets,
);

const WAVE_API_KEY: &str = "wave_sn_prod_k3yMaterial0123456789abcdWXYZ";
const WAVE_SIGNING: &str = "wave_sn_AKS_sign0123456789abcdefghQRST";
const WAVE_WEBHOOK: &str = "wave_sn_WHS_hook0123456789abcdefghLMNO";
const OM_CLIENT_ID: &str = "om-client-id-0123456789CDEF";
const OM_CLIENT_SECRET: &str = "om-client-secret-0123456789GHIJ";
const OM_API_KEY: &str = "my-own-callback-api-key-KLMN";
const OM_SIGNING: &str = "sonatel-endpoint-secret-0123OPQR";

const PROVIDERS: &str = "/admin/api/v1/providers";

fn every_secret() -> [&'static str; 7] {
    [
        WAVE_API_KEY,
        WAVE_SIGNING,
        WAVE_WEBHOOK,
        OM_CLIENT_ID,
        OM_CLIENT_SECRET,
        OM_API_KEY,
        OM_SIGNING,
    ]
}

#[track_caller]
fn assert_no_secret(text: &str) {
    for secret in every_secret() {
        assert!(!text.contains(secret), "a secret leaked: {text}");
        // Not even a large part of it.
        assert!(
            !text.contains(&secret[..16]),
            "part of a secret leaked: {text}"
        );
    }
}

fn wave_body() -> Value {
    json!({
        "apiKey": WAVE_API_KEY,
        "requestSigningSecret": WAVE_SIGNING,
        "webhook": {"strategy": "signing_secret", "secret": WAVE_WEBHOOK},
        "baseUrl": "https://wave.example/",
    })
}

fn om_body(webhook: Value) -> Value {
    json!({
        "clientId": OM_CLIENT_ID,
        "clientSecret": OM_CLIENT_SECRET,
        "merchantCode": "621513",
        "merchantName": "Ma Boutique",
        "webhook": webhook,
    })
}

fn keyring(ctx: &Ctx) -> Keyring {
    let key = SealingKey::from_base64(ctx.state.config.encryption_key.as_ref().unwrap().expose())
        .unwrap();
    Keyring::new(key, Vec::new())
}

/// Opens what the dashboard sealed (only tests and provider-adapter ever do).
fn open(ctx: &Ctx, row: &ProviderRow) -> ProviderConfigDoc {
    let sealed = row
        .sealed_config
        .as_deref()
        .expect("a sealed configuration");
    let plain = keyring(ctx).open(sealed, row.code.as_bytes()).unwrap();
    serde_json::from_slice(&plain).unwrap()
}

async fn row(ctx: &Ctx, code: &str) -> ProviderRow {
    ctx.store().get_provider(code).await.unwrap().unwrap()
}

/// Sends a request; returns the status, headers, raw body text (to check it byte for
/// byte) and the body as JSON.
macro_rules! call {
    ($app:expr, $method:expr, $path:expr, $token:expr, $body:expr $(,)?) => {{
        let req = crate::common::request($method, $path, Some($token), $body).to_request();
        let res = actix_web::test::call_service(&$app, req).await;
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = actix_web::test::read_body(res).await;
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, headers, text, json)
    }};
}

async fn provider_secrets_are_sealed_and_never_shown(db: TestDb) {
    let ctx = Ctx::new(db);
    nexpay_dashboard::bootstrap::bootstrap(ctx.store(), &ctx.state.config)
        .await
        .unwrap();
    let app = app!(ctx.state);
    let (_, token) = ctx.admin().await;
    let public_url = ctx.state.config.public_url.clone();

    let (status, headers, text, wave) = call!(
        app,
        "PUT",
        &format!("{PROVIDERS}/wave/config"),
        &token,
        Some(wave_body()),
    );
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_no_secret(&text);
    assert_eq!(headers.get("cache-control").unwrap(), "no-store");
    assert_eq!(wave["live"], true, "{wave}");
    assert_eq!(wave["missing"], json!([]));
    assert_eq!(wave["configured"], true);
    assert_eq!(
        wave["webhookUrl"],
        json!(format!("{public_url}/api/v1/webhook/wave"))
    );
    let config = &wave["config"];
    assert_eq!(config["baseUrl"], "https://wave.example");
    assert_eq!(
        config["apiKey"],
        json!({"configured": true, "last4": "WXYZ"})
    );
    assert_eq!(
        config["requestSigningSecret"],
        json!({"configured": true, "last4": "QRST"})
    );
    assert_eq!(config["webhook"]["strategy"], "signing_secret");
    assert_eq!(
        config["webhook"]["secret"],
        json!({"configured": true, "last4": "LMNO"})
    );

    // At rest: sealed, bound to the provider, nothing in clear.
    let stored = row(&ctx, "wave").await;
    let sealed = stored.sealed_config.clone().unwrap();
    assert!(sealed.starts_with("v1."), "{sealed}");
    assert_no_secret(&sealed);
    assert_no_secret(&stored.config_summary);
    assert!(stored.secrets_ok && stored.webhook_ok);
    assert_eq!(stored.test_passed_at, None);
    let ProviderConfigDoc::Wave(doc) = open(&ctx, &stored) else {
        panic!("a Wave configuration")
    };
    assert_eq!(doc.api_key, WAVE_API_KEY);
    assert_eq!(doc.request_signing_secret.as_deref(), Some(WAVE_SIGNING));
    assert_eq!(doc.webhook.unwrap().secret, WAVE_WEBHOOK);
    assert!(
        keyring(&ctx).open(&sealed, b"om").is_err(),
        "the sealed value only opens as the Wave configuration"
    );

    // Orange Money, auto-configured webhook: NexPay generates the apiKey.
    let (status, _, text, om) = call!(
        app,
        "PUT",
        &format!("{PROVIDERS}/om/config"),
        &token,
        Some(om_body(
            json!({"strategy": "auto", "signingSecret": OM_SIGNING}),
        )),
    );
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_no_secret(&text);
    assert_eq!(om["live"], false);
    assert_eq!(
        om["missing"],
        json!(["webhook"]),
        "until provider-adapter registers it"
    );
    let config = &om["config"];
    assert_eq!(config["merchantCode"], "621513");
    assert_eq!(config["merchantName"], "Ma Boutique");
    assert_eq!(config["baseUrl"], "https://api.orange-sonatel.com");
    assert_eq!(config["tokenPath"], "/oauth/v1/token");
    assert_eq!(config["clientId"]["last4"], "CDEF");
    assert_eq!(config["clientSecret"]["last4"], "GHIJ");
    assert_eq!(config["webhook"]["strategy"], "auto");
    assert_eq!(config["webhook"]["signingSecret"]["last4"], "OPQR");
    let stored = row(&ctx, "om").await;
    assert!(stored.secrets_ok && !stored.webhook_ok);
    let ProviderConfigDoc::Om(doc) = open(&ctx, &stored) else {
        panic!("an Orange Money configuration")
    };
    let generated = doc.webhook.unwrap().api_key;
    assert!(generated.len() >= 32, "{generated}");
    assert!(!text.contains(&generated));
    assert!(!stored.sealed_config.unwrap().contains(&generated));
    assert!(!stored.config_summary.contains(&generated));
    assert_eq!(
        config["webhook"]["apiKey"]["last4"],
        json!(&generated[generated.len() - 4..])
    );

    // The admin's own apiKey: the callback is theirs, the webhook is ready.
    let (status, _, text, om) = call!(
        app,
        "PUT",
        &format!("{PROVIDERS}/om/config"),
        &token,
        Some(om_body(json!({"strategy": "manual", "apiKey": OM_API_KEY}))),
    );
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_no_secret(&text);
    assert_eq!(om["live"], true);
    assert_eq!(om["config"]["webhook"]["apiKey"]["last4"], "KLMN");
    assert_eq!(
        om["config"]["webhook"]["signingSecret"],
        json!({"configured": false, "last4": null})
    );

    // Nothing else shows them either: list, one provider, the audit log.
    for path in [PROVIDERS.to_owned(), format!("{PROVIDERS}/wave")] {
        let (status, _, text, _) = call!(app, "GET", &path, &token, None);
        assert_eq!(status, StatusCode::OK, "{text}");
        assert_no_secret(&text);
    }
    let audit = ctx.store().list_audit(50).await.unwrap();
    let configured: Vec<_> = audit
        .iter()
        .filter(|a| a.action == "provider.configure")
        .collect();
    assert_eq!(configured.len(), 3);
    for a in configured {
        assert_no_secret(&a.detail);
    }
    ctx.finish().await;
}

async fn provider_config_is_validated(db: TestDb) {
    let ctx = Ctx::new(db);
    nexpay_dashboard::bootstrap::bootstrap(ctx.store(), &ctx.state.config)
        .await
        .unwrap();
    let app = app!(ctx.state);
    let (_, token) = ctx.admin().await;
    let wave_path = format!("{PROVIDERS}/wave/config");
    let om_path = format!("{PROVIDERS}/om/config");

    let short = "wave_sn_WHS_short19c"; // 20 characters would pass
    let short = &short[..19];
    let cases: Vec<(&str, Value, &[&str])> = vec![
        (
            &wave_path,
            json!({"apiKey": WAVE_API_KEY, "webhook": {"strategy": "shared_secret", "secret": short}}),
            &["webhook.secret"],
        ),
        (
            &wave_path,
            json!({"webhook": {"strategy": "hmac", "secret": WAVE_WEBHOOK}, "baseUrl": "ftp://wave.example"}),
            &["apiKey", "webhook.strategy", "baseUrl"],
        ),
        (
            &om_path,
            {
                let mut b = om_body(json!({"strategy": "auto"}));
                b["merchantCode"] = json!("12345");
                b
            },
            &["merchantCode"],
        ),
        (
            &om_path,
            {
                let mut b = om_body(json!({"strategy": "auto"}));
                b["merchantCode"] = json!("12a456");
                b
            },
            &["merchantCode"],
        ),
        (
            &om_path,
            om_body(json!({"strategy": "manual", "apiKey": "too-short-key"})),
            &["webhook.apiKey"],
        ),
        (
            &om_path,
            json!({"merchantCode": "621513", "webhook": {"strategy": "auto", "apiKey": OM_API_KEY}}),
            &["clientId", "clientSecret", "merchantName", "webhook.apiKey"],
        ),
    ];
    for (path, body, expected) in cases {
        let (status, _, text, json) = call!(app, "PUT", path, &token, Some(body));
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
        assert_eq!(assert_envelope(status, &json), "validation_error");
        let fields: Vec<&str> = json["error"]["details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, expected, "{text}");
        assert!(!text.contains(short), "{text}");
        assert_no_secret(&text);
    }
    // Nothing was stored.
    for code in ["wave", "om"] {
        let stored = row(&ctx, code).await;
        assert_eq!(stored.sealed_config, None);
        assert!(!stored.secrets_ok && !stored.webhook_ok);
    }
    assert!(ctx
        .store()
        .list_audit(50)
        .await
        .unwrap()
        .iter()
        .all(|a| a.action != "provider.configure"));

    // Malformed bodies and unknown providers.
    let (status, _, text, _) = call!(
        app,
        "PUT",
        &wave_path,
        &token,
        Some(json!({"apiKey": WAVE_API_KEY, "secretKey": "x"})),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    let (status, _, text, json) = call!(
        app,
        "PUT",
        &format!("{PROVIDERS}/paypal/config"),
        &token,
        Some(json!({})),
    );
    assert_eq!(status, StatusCode::NOT_FOUND, "{text}");
    assert_eq!(assert_envelope(status, &json), "not_found");
    // Anonymous callers are turned away before the body is looked at.
    let req = request("PUT", &wave_path, None, Some(wave_body())).to_request();
    let (status, _, _) = send(&app, req).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    ctx.finish().await;
}

async fn live_and_missing_follow_the_configuration(db: TestDb) {
    let ctx = Ctx::new(db);
    nexpay_dashboard::bootstrap::bootstrap(ctx.store(), &ctx.state.config)
        .await
        .unwrap();
    let app = app!(ctx.state);
    let (_, token) = ctx.admin().await;
    let wave = format!("{PROVIDERS}/wave");
    let view = |json: &Value| (json["live"].clone(), json["missing"].clone());

    let (_, _, _, list) = call!(app, "GET", PROVIDERS, &token, None);
    for p in list["data"].as_array().unwrap() {
        assert_eq!(
            view(p),
            (json!(false), json!(["secrets", "webhook"])),
            "{p}"
        );
        assert_eq!(p["configured"], false);
        assert_eq!(p["config"], Value::Null);
        assert!(p["webhookUrl"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/api/v1/webhook/{}", p["code"].as_str().unwrap())));
    }
    let (_, _, _, p) = call!(app, "GET", &format!("{PROVIDERS}/om"), &token, None);
    assert_eq!(
        p["webhookUrl"].as_str().unwrap(),
        format!("{}/api/v1/webhook/om", ctx.state.config.public_url)
    );

    // Secrets but no webhook yet.
    let (status, _, text, p) = call!(
        app,
        "PUT",
        &format!("{wave}/config"),
        &token,
        Some(json!({"apiKey": WAVE_API_KEY})),
    );
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(view(&p), (json!(false), json!(["webhook"])));
    assert_eq!(p["config"]["webhook"], Value::Null);
    assert_eq!(p["config"]["baseUrl"], "https://api.wave.com");

    let (_, _, _, p) = call!(
        app,
        "PUT",
        &format!("{wave}/config"),
        &token,
        Some(wave_body())
    );
    assert_eq!(view(&p), (json!(true), json!([])));

    // Disabled: configured but not live.
    let (_, _, _, p) = call!(app, "POST", &format!("{wave}/disable"), &token, None);
    assert_eq!(p["enabled"], false);
    assert_eq!(view(&p), (json!(false), json!([])));
    let (_, _, _, p) = call!(app, "POST", &format!("{wave}/enable"), &token, None);
    assert_eq!(view(&p), (json!(true), json!([])));

    // Removed.
    let (status, _, _, p) = call!(app, "DELETE", &format!("{wave}/config"), &token, None);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view(&p), (json!(false), json!(["secrets", "webhook"])));
    assert_eq!(p["configured"], false);
    assert_eq!(row(&ctx, "wave").await.sealed_config, None);
    ctx.finish().await;
}

/// A payments service on an in-process bus that records what it is asked and answers
/// like the real one.
async fn fake_payments(bus: &InProcessBus, seen: Arc<Mutex<Vec<Envelope>>>) {
    let handler = handler_fn(move |msg: Envelope| {
        let seen = seen.clone();
        async move {
            seen.lock().unwrap().push(msg.clone());
            let cmd: InitiatePayment = msg
                .decode()
                .map_err(|e| HandlerError::Permanent(e.to_string()))?;
            if cmd.provider_code == "om" {
                return Err(HandlerError::rejected(
                    502,
                    "provider_error",
                    "Orange Money refused the request",
                ));
            }
            Ok(json!({
                "amount": cmd.amount_minor,
                "currency": cmd.currency,
                "provider": {"id": "wave", "name": "Wave", "code": "wave", "logoUrl": "/static/providers/wave.svg"},
                "reference": "NEXPAY_TX_0123456789ABCDEF",
                "payer": {"userId": "u", "email": null, "phone": cmd.customer.phone, "name": null},
                "checkout_urls": [{"name": "Wave", "url": "https://pay.wave.com/c/cos-test", "thumb": "/t.svg"}],
                "qr_code": {"data": "iVBORw0KGgo="},
                "expiration": "2030-01-01T00:00:00Z",
                "status": "PENDING",
                "client_reference": null,
            }))
        }
    });
    let _ = bus
        .serve(
            queues::PAYMENTS,
            handler,
            ConsumerOptions {
                prefetch: 8,
                max_deliveries: 1,
                concurrency: 2,
            },
        )
        .await
        .unwrap();
}

async fn test_payment_goes_through_the_bus(db: TestDb) {
    let ctx = Ctx::new(db);
    nexpay_dashboard::bootstrap::bootstrap(ctx.store(), &ctx.state.config)
        .await
        .unwrap();
    let (_, token) = ctx.admin().await;
    let wave_test = format!("{PROVIDERS}/wave/test-payment");

    // Not configured: refused before anything is sent.
    let app = app!(ctx.state);
    let (status, _, text, json) = call!(app, "POST", &wave_test, &token, None);
    assert_eq!(status, StatusCode::CONFLICT, "{text}");
    assert_eq!(assert_envelope(status, &json), "provider_not_live");
    let (_, _, _, _) = call!(
        app,
        "PUT",
        &format!("{PROVIDERS}/wave/config"),
        &token,
        Some(wave_body())
    );

    // Live, but this process has no bus.
    let (status, _, text, json) = call!(app, "POST", &wave_test, &token, None);
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    assert_eq!(assert_envelope(status, &json), "service_unavailable");
    assert!(json["message"].as_str().unwrap().contains("bus"), "{json}");

    let bus = InProcessBus::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    fake_payments(&bus, seen.clone()).await;
    let state = ctx.state.clone().with_bus(Arc::new(bus));
    let app = app!(state);
    let (status, headers, text, json) = call!(
        app,
        "POST",
        &wave_test,
        &token,
        Some(json!({"phone": "77 123 45 67"})),
    );
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert_eq!(headers.get("cache-control").unwrap(), "no-store");
    assert_eq!(json["reference"], "NEXPAY_TX_0123456789ABCDEF");
    assert_eq!(json["qrCode"], "iVBORw0KGgo=");
    assert_eq!(json["checkoutUrl"], "https://pay.wave.com/c/cos-test");
    assert_eq!(json["expiresAt"], "2030-01-01T00:00:00Z");
    assert_eq!(
        (json["amount"].clone(), json["currency"].clone()),
        (json!(100), json!("XOF"))
    );
    assert_no_secret(&text);

    // What the payments service was asked: a live 100 XOF payment of the default project.
    let project = ctx.store().default_project().await.unwrap().unwrap();
    let msgs = seen.lock().unwrap().clone();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].kind, kinds::INITIATE_PAYMENT);
    let cmd: InitiatePayment = msgs[0].decode().unwrap();
    assert_eq!(cmd.caller.project_id, project.id);
    assert_eq!(cmd.caller.mode, "live");
    assert_eq!((cmd.amount_minor, cmd.currency.as_str()), (100, "XOF"));
    assert_eq!(cmd.provider_code, "wave");
    assert_eq!(cmd.customer.phone, "+221771234567");

    let stored = row(&ctx, "wave").await;
    let passed = stored.test_passed_at.expect("test_passed_at is set");
    let (_, _, _, view) = call!(app, "GET", &format!("{PROVIDERS}/wave"), &token, None);
    assert!(view["testPassedAt"].is_string(), "{view}");
    assert!(passed <= nexpay_store::now());

    // A refusal is passed on as it is, and records nothing.
    let (_, _, _, _) = call!(
        app,
        "PUT",
        &format!("{PROVIDERS}/om/config"),
        &token,
        Some(om_body(json!({"strategy": "manual", "apiKey": OM_API_KEY}))),
    );
    let (status, _, text, json) = call!(
        app,
        "POST",
        &format!("{PROVIDERS}/om/test-payment"),
        &token,
        None
    );
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{text}");
    assert_eq!(assert_envelope(status, &json), "provider_error");
    assert_eq!(row(&ctx, "om").await.test_passed_at, None);

    // A new configuration has not been tested.
    let (_, _, _, _) = call!(
        app,
        "PUT",
        &format!("{PROVIDERS}/wave/config"),
        &token,
        Some(wave_body())
    );
    assert_eq!(row(&ctx, "wave").await.test_passed_at, None);
    let (status, _, _, json) = call!(
        app,
        "POST",
        &wave_test,
        &token,
        Some(json!({"phone": "not a phone"})),
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{json}");
    assert_eq!(json["error"]["details"][0]["field"], "phone");
    ctx.finish().await;
}

async fn cli_configures_providers_without_showing_secrets(db: TestDb) {
    use nexpay_dashboard::cli::{self, CliError};
    use nexpay_dashboard::providers::{OmInput, OmWebhookInput, WaveInput, WaveWebhookInput};
    use nexpay_security::Secret;

    let ctx = Ctx::new(db);
    nexpay_dashboard::bootstrap::bootstrap(ctx.store(), &ctx.state.config)
        .await
        .unwrap();
    let (store, config) = (ctx.store(), &ctx.state.config);
    let mut out = Vec::new();

    // Secrets come from a variable or from standard input, never from the arguments.
    let var = format!("NEXPAY_TEST_SECRET_{}", std::process::id());
    std::env::set_var(&var, format!("  {WAVE_API_KEY}\n"));
    let mut prompt = Vec::new();
    let secret = cli::read_secret("Wave API key", Some(&var), &mut &b""[..], &mut prompt).unwrap();
    assert_eq!(secret.expose(), WAVE_API_KEY);
    assert!(prompt.is_empty());
    let mut stdin = format!("{WAVE_WEBHOOK}\n").into_bytes();
    let secret = cli::read_secret("Webhook secret", None, &mut &stdin[..], &mut prompt).unwrap();
    assert_eq!(secret.expose(), WAVE_WEBHOOK);
    assert_eq!(
        String::from_utf8(prompt.clone()).unwrap(),
        "Webhook secret: "
    );
    stdin.clear();
    let err = cli::read_secret("Webhook secret", None, &mut &stdin[..], &mut prompt).unwrap_err();
    assert!(matches!(err, CliError::Input(_)), "{err:?}");
    let err = cli::read_secret(
        "API key",
        Some("NEXPAY_TEST_UNSET_VARIABLE"),
        &mut &b""[..],
        &mut prompt,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("NEXPAY_TEST_UNSET_VARIABLE"),
        "{err}"
    );

    let input = WaveInput {
        api_key: Some(Secret::new(WAVE_API_KEY)),
        request_signing_secret: None,
        webhook: Some(WaveWebhookInput {
            strategy: Some("shared_secret".into()),
            secret: Some(Secret::new(WAVE_WEBHOOK)),
        }),
        base_url: None,
    };
    let p = cli::provider_configure_wave(store, config, &input, &mut out)
        .await
        .unwrap();
    assert!(p.live);
    let text = String::from_utf8(std::mem::take(&mut out)).unwrap();
    assert_no_secret(&text);
    assert!(
        text.contains("apiKey: configured (ends with WXYZ)"),
        "{text}"
    );
    assert!(text.contains("strategy: shared_secret"), "{text}");
    assert!(text.contains("live: yes"), "{text}");

    let bad = OmInput {
        client_id: Some(Secret::new(OM_CLIENT_ID)),
        client_secret: Some(Secret::new(OM_CLIENT_SECRET)),
        merchant_code: Some("62151".into()),
        merchant_name: Some("Ma Boutique".into()),
        webhook: Some(OmWebhookInput {
            strategy: Some("auto".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = cli::provider_configure_om(store, config, &bad, &mut out)
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("merchantCode: "), "{err}");
    assert!(out.is_empty());
    let good = OmInput {
        merchant_code: Some("621513".into()),
        ..bad
    };
    cli::provider_configure_om(store, config, &good, &mut out)
        .await
        .unwrap();
    let text = String::from_utf8(std::mem::take(&mut out)).unwrap();
    assert_no_secret(&text);
    assert!(text.contains("missing: webhook"), "{text}");

    cli::providers_list(store, config, &mut out).await.unwrap();
    let text = String::from_utf8(std::mem::take(&mut out)).unwrap();
    assert_no_secret(&text);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[1].starts_with("om ") && lines[1].contains("webhook"),
        "{text}"
    );
    assert!(
        lines[2].starts_with("wave ") && lines[2].contains(" yes "),
        "{text}"
    );
    assert!(lines[2].contains("/api/v1/webhook/wave"), "{text}");

    cli::provider_show(store, config, "om", &mut out)
        .await
        .unwrap();
    let text = String::from_utf8(std::mem::take(&mut out)).unwrap();
    assert_no_secret(&text);
    assert!(text.contains("merchantCode: 621513"), "{text}");
    assert!(
        text.contains("clientSecret: configured (ends with GHIJ)"),
        "{text}"
    );

    let p = cli::provider_set_enabled(store, config, "wave", false, &mut out)
        .await
        .unwrap();
    assert!(!p.live);
    assert_eq!(
        String::from_utf8(std::mem::take(&mut out)).unwrap(),
        "Wave is disabled.\n"
    );

    // The test payment needs the bus; with one, it prints what is needed to pay.
    cli::provider_set_enabled(store, config, "wave", true, &mut out)
        .await
        .unwrap();
    out.clear();
    let err = cli::provider_test_payment(store, config, None, "wave", None, &mut out)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("AMQP_URL"), "{err}");
    let bus = InProcessBus::new();
    fake_payments(&bus, Arc::new(Mutex::new(Vec::new()))).await;
    let payment = cli::provider_test_payment(store, config, Some(&bus), "wave", None, &mut out)
        .await
        .unwrap();
    assert_eq!(payment.reference, "NEXPAY_TX_0123456789ABCDEF");
    let text = String::from_utf8(std::mem::take(&mut out)).unwrap();
    assert!(text.contains("NEXPAY_TX_0123456789ABCDEF"), "{text}");
    assert!(text.contains("https://pay.wave.com/c/cos-test"), "{text}");
    assert!(text.contains("2030-01-01T00:00:00Z"), "{text}");
    assert!(row(&ctx, "wave").await.test_passed_at.is_some());
    let audit = store.list_audit(50).await.unwrap();
    assert!(audit
        .iter()
        .any(|a| a.actor == "cli" && a.action == "provider.test_payment"));
    std::env::remove_var(&var);
    ctx.finish().await;
}
