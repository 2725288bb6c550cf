//! Live connectors built from the sealed configuration, against the Wave and Orange
//! Money simulators on a real port: served only while live, rebuilt when the stored
//! configuration changes, Orange Money callbacks registered once per configuration.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, App, HttpServer};
use nexpay_contracts::CreateCheckout;
use nexpay_provider_adapter::live::{LiveConnectors, LiveSettings};
use nexpay_providers::{Connector, InMemoryTokenCache};
use nexpay_sandbox::orange_money::{OmClient, OmSim, OmSimConfig};
use nexpay_sandbox::wave::{ApiKeyConfig, WaveSim, WaveSimConfig};
use nexpay_security::{Keyring, SealingKey};
use nexpay_store::testing::TestDb;
use nexpay_store::{
    OmConfigDoc, OmWebhookDoc, OmWebhookStrategy, ProviderConfigDoc, ProviderConfigUpdate,
    ProviderRow, Store, WaveConfigDoc, WaveWebhookDoc, WaveWebhookStrategy,
};
use serde_json::Value;

const KEY_1: &str = "wave_sn_prod_first-live-key-0123456789";
const KEY_2: &str = "wave_sn_prod_second-live-key-0123456789";
const OM_CLIENT: &str = "om-live-client";
const OM_SECRET: &str = "om-live-client-secret";
const PUBLIC_URL: &str = "https://pay.example";
/// Longer than the connectors' re-read interval.
const AFTER_REREAD: Duration = Duration::from_millis(1100);

struct Sims {
    wave: WaveSim,
    wave_url: String,
    om_url: String,
}

/// Both simulators served on a free loopback port.
fn start_sims() -> Sims {
    let wave = WaveSim::new(WaveSimConfig {
        api_keys: vec![
            ApiKeyConfig::new(KEY_1, "Ma Boutique"),
            ApiKeyConfig::new(KEY_2, "Ma Boutique"),
        ],
        ..WaveSimConfig::default()
    });
    let om = OmSim::new(OmSimConfig {
        clients: vec![OmClient::new(OM_CLIENT, OM_SECRET)],
        ..OmSimConfig::default()
    });
    let (w, o) = (wave.clone(), om.clone());
    let server = HttpServer::new(move || {
        App::new()
            .service(
                web::scope("/sandbox/wave").configure(nexpay_sandbox::wave::configure(w.clone())),
            )
            .service(
                web::scope("/sandbox/om")
                    .configure(nexpay_sandbox::orange_money::configure(o.clone())),
            )
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    tokio::spawn(server.run());
    Sims {
        wave,
        wave_url: format!("http://{addr}/sandbox/wave"),
        om_url: format!("http://{addr}/sandbox/om"),
    }
}

async fn with_providers(db: &TestDb) -> Store {
    let store = db.store().clone();
    for code in ["wave", "om"] {
        store
            .ensure_provider(&ProviderRow {
                code: code.into(),
                name: code.into(),
                enabled: true,
                logo_url: String::new(),
                sealed_config: None,
                updated_at: nexpay_store::now(),
                config_summary: "{}".into(),
                secrets_ok: false,
                webhook_ok: false,
                test_passed_at: None,
            })
            .await
            .unwrap();
    }
    store
}

fn connectors(store: &Store, keyring: &Keyring) -> LiveConnectors {
    LiveConnectors::new(
        store.clone(),
        keyring.clone(),
        LiveSettings {
            public_url: PUBLIC_URL.into(),
            om_token_cache: Arc::new(InMemoryTokenCache::new()),
        },
    )
}

/// Seals and stores `doc` as the dashboard does; returns the sealed value.
async fn save(
    store: &Store,
    keyring: &Keyring,
    doc: &ProviderConfigDoc,
    webhook_ok: bool,
) -> String {
    let code = doc.code();
    let sealed = keyring.seal(&serde_json::to_vec(doc).unwrap(), code.as_bytes());
    let update = ProviderConfigUpdate {
        sealed_config: Some(&sealed),
        config_summary: "{}",
        secrets_ok: true,
        webhook_ok,
    };
    assert!(store.save_provider_config(code, &update).await.unwrap());
    sealed
}

fn wave_doc(base_url: &str, api_key: &str, webhook: bool) -> ProviderConfigDoc {
    ProviderConfigDoc::Wave(WaveConfigDoc {
        version: format!("cfg_{api_key}"),
        base_url: base_url.into(),
        api_key: api_key.into(),
        request_signing_secret: None,
        webhook: webhook.then(|| WaveWebhookDoc {
            strategy: WaveWebhookStrategy::SigningSecret,
            secret: "wave_sn_WHS_0123456789abcdefghij".into(),
        }),
    })
}

fn om_doc(base_url: &str, client_id: &str, api_key: &str) -> ProviderConfigDoc {
    ProviderConfigDoc::Om(OmConfigDoc {
        version: format!("cfg_{api_key}"),
        base_url: base_url.into(),
        token_path: "/oauth/v1/token".into(),
        client_id: client_id.into(),
        client_secret: OM_SECRET.into(),
        merchant_code: "621513".into(),
        merchant_name: "Ma Boutique".into(),
        webhook: Some(OmWebhookDoc {
            strategy: OmWebhookStrategy::Auto,
            api_key: api_key.into(),
            signing_secret: None,
        }),
    })
}

fn checkout(attempt: &str) -> CreateCheckout {
    CreateCheckout {
        provider_code: "wave".into(),
        mode: "live".into(),
        attempt_id: attempt.into(),
        provider_reference: format!("ref-{attempt}"),
        amount_minor: 100,
        currency: "XOF".into(),
        payer_phone: "+221761110001".into(),
        merchant_name: "Ma Boutique".into(),
        success_url: "https://shop.example/ok".into(),
        error_url: "https://shop.example/ko".into(),
    }
}

fn same(a: &Arc<dyn Connector>, b: &Arc<dyn Connector>) -> bool {
    Arc::ptr_eq(a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_connectors_follow_the_stored_configuration() {
    let db = TestDb::sqlite().await.unwrap();
    let store = with_providers(&db).await;
    let sims = start_sims();
    let keyring = Keyring::new(SealingKey::generate().0, Vec::new());
    let live = connectors(&store, &keyring);

    // Nothing configured, or not a provider.
    assert!(live.get("wave").await.is_none());
    assert!(live.get("om").await.is_none());
    assert!(live.get("paypal").await.is_none());

    // Configured: built from the sealed secrets, it talks to the provider.
    save(
        &store,
        &keyring,
        &wave_doc(&sims.wave_url, KEY_1, true),
        true,
    )
    .await;
    tokio::time::sleep(AFTER_REREAD).await;
    let first = live.get("wave").await.expect("Wave is live");
    assert_eq!(first.code(), "wave");
    first.create_checkout(&checkout("att-1")).await.unwrap();
    // Cached while the row does not change, also after it is read again.
    assert!(same(&first, &live.get("wave").await.unwrap()));
    tokio::time::sleep(AFTER_REREAD).await;
    assert!(same(&first, &live.get("wave").await.unwrap()));

    // A new configuration (another key) gives a new connector, with the new key.
    save(
        &store,
        &keyring,
        &wave_doc(&sims.wave_url, KEY_2, true),
        true,
    )
    .await;
    tokio::time::sleep(AFTER_REREAD).await;
    let second = live.get("wave").await.expect("still live");
    assert!(!same(&first, &second), "rebuilt after the change");
    assert!(sims.wave.revoke_api_key(KEY_1));
    second.create_checkout(&checkout("att-2")).await.unwrap();
    assert!(
        first.create_checkout(&checkout("att-3")).await.is_err(),
        "the old connector used the old key"
    );

    // Not live: disabled, then webhook missing, then secrets incomplete.
    store.set_provider_enabled("wave", false).await.unwrap();
    tokio::time::sleep(AFTER_REREAD).await;
    assert!(live.get("wave").await.is_none(), "disabled");
    store.set_provider_enabled("wave", true).await.unwrap();
    tokio::time::sleep(AFTER_REREAD).await;
    assert!(live.get("wave").await.is_some(), "enabled again");
    save(
        &store,
        &keyring,
        &wave_doc(&sims.wave_url, KEY_2, false),
        false,
    )
    .await;
    tokio::time::sleep(AFTER_REREAD).await;
    assert!(live.get("wave").await.is_none(), "no webhook");
    let sealed = save(
        &store,
        &keyring,
        &wave_doc(&sims.wave_url, KEY_2, true),
        true,
    )
    .await;
    let update = ProviderConfigUpdate {
        sealed_config: Some(&sealed),
        config_summary: "{}",
        secrets_ok: false,
        webhook_ok: true,
    };
    store.save_provider_config("wave", &update).await.unwrap();
    tokio::time::sleep(AFTER_REREAD).await;
    assert!(live.get("wave").await.is_none(), "secrets incomplete");

    // A sealed value moved to another provider's row, or sealed with another key,
    // does not open.
    let moved = ProviderConfigUpdate {
        sealed_config: Some(&sealed),
        config_summary: "{}",
        secrets_ok: true,
        webhook_ok: true,
    };
    store.save_provider_config("om", &moved).await.unwrap();
    assert!(live.get("om").await.is_none());
    let other_key = Keyring::new(SealingKey::generate().0, Vec::new());
    save(
        &store,
        &other_key,
        &wave_doc(&sims.wave_url, KEY_2, true),
        true,
    )
    .await;
    tokio::time::sleep(AFTER_REREAD).await;
    assert!(live.get("wave").await.is_none(), "unknown sealing key");
    db.cleanup().await;
}

/// The callbacks the Orange Money simulator has for the merchant code.
async fn registered_callbacks(om_url: &str) -> Value {
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{om_url}/oauth/v1/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", OM_CLIENT),
            ("client_secret", OM_SECRET),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap();
    http.get(format!(
        "{om_url}/api/notification/v1/merchantcallback?code=621513"
    ))
    .bearer_auth(token)
    .header("content-type", "application/json")
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orange_money_callback_is_registered_once_per_configuration() {
    let db = TestDb::sqlite().await.unwrap();
    let store = with_providers(&db).await;
    let sims = start_sims();
    let keyring = Keyring::new(SealingKey::generate().0, Vec::new());
    let live = connectors(&store, &keyring);
    let callback_url = format!("{PUBLIC_URL}/api/v1/webhook/om");

    // Auto mode: not live until the callback is registered, which the first lookup does.
    let first_key = "generated-callback-key-0123456789abcdef";
    let first = save(
        &store,
        &keyring,
        &om_doc(&sims.om_url, OM_CLIENT, first_key),
        false,
    )
    .await;
    // (The background task may have read the row just before the save.)
    tokio::time::sleep(AFTER_REREAD).await;
    let om = live.get("om").await.expect("live once registered");
    assert_eq!(om.code(), "om");
    let row = store.get_provider("om").await.unwrap().unwrap();
    assert!(row.webhook_ok, "the registration is recorded");
    let callbacks = registered_callbacks(&sims.om_url).await;
    assert_eq!(callbacks.as_array().unwrap().len(), 1, "{callbacks}");
    assert_eq!(callbacks[0]["callbackUrl"], callback_url.as_str());
    assert_eq!(callbacks[0]["apiKey"], first_key);

    // A failing registration (an application Orange does not know) leaves the provider
    // not live.
    let unknown = om_doc(&sims.om_url, "unknown-client", "other-key-0123456789abcdef");
    save(&store, &keyring, &unknown, false).await;
    tokio::time::sleep(AFTER_REREAD).await;
    assert!(live.get("om").await.is_none());
    assert!(!store.get_provider("om").await.unwrap().unwrap().webhook_ok);
    // ... and a registration made for a replaced configuration never marks the new one.
    assert!(!store.mark_provider_webhook_ok("om", &first).await.unwrap());

    // A new configuration is registered by the background task, without any lookup.
    let second_key = "second-generated-key-0123456789abcdef";
    let fresh = connectors(&store, &keyring);
    save(
        &store,
        &keyring,
        &om_doc(&sims.om_url, OM_CLIENT, second_key),
        false,
    )
    .await;
    let registered = eventually(Duration::from_secs(12), || {
        let store = store.clone();
        async move { store.get_provider("om").await.unwrap().unwrap().webhook_ok }
    })
    .await;
    assert!(registered, "registered in the background");
    let callbacks = registered_callbacks(&sims.om_url).await;
    assert_eq!(callbacks[0]["apiKey"], second_key);
    assert!(fresh.get("om").await.is_some());
    drop(live);
    db.cleanup().await;
}

/// Polls `check` every 100 ms until it is true or `deadline` passes.
async fn eventually<F, Fut>(deadline: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = tokio::time::Instant::now() + deadline;
    while tokio::time::Instant::now() < until {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}
