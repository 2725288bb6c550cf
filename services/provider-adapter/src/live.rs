//! Live connectors, built from the provider configuration the admin saved.
//!
//! The dashboard seals each provider's configuration (`providers.sealed_config`,
//! AES-256-GCM, the provider code as associated data); this module is the only place
//! that opens it. A connector is served for LIVE payments only while its provider is
//! enabled, its secrets are complete and its webhook is set up. The provider row is
//! re-read at most once per second, and the connector rebuilt when the row's
//! `updated_at` (or the sealed value) changes.
//!
//! Orange Money auto-configuration: when the saved configuration asks NexPay to set
//! up the callback (`webhook.strategy = auto`), the callback (our webhook URL and the
//! generated apiKey) is registered at Orange once per saved configuration, then the
//! store is told the webhook is ok. Until then the provider is not live. A background
//! task checks every few seconds, so this happens without waiting for a payment.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::NaiveDateTime;
use nexpay_providers::{
    Connector, OrangeMoneyConfig, OrangeMoneyConnector, TokenCache, WaveConfig, WaveConnector,
    WaveWebhookAuth,
};
use nexpay_security::{Keyring, SealingKey, Secret};
use nexpay_store::{
    OmConfigDoc, OmWebhookStrategy, ProviderConfigDoc, Store, WaveConfigDoc, WaveWebhookStrategy,
};

/// What the live connectors need besides the store and the key.
pub struct LiveSettings {
    /// Public base URL of the instance: Orange Money notifications are sent to
    /// `{public_url}/api/v1/webhook/om`.
    pub public_url: String,
    /// Where Orange Money access tokens are kept (shared by replicas through Redis, or
    /// in memory).
    pub om_token_cache: Arc<dyn TokenCache>,
}

/// The providers that have live connectors.
const CODES: [&str; 2] = ["wave", "om"];
/// The provider row is read again after this long.
const REREAD_AFTER: Duration = Duration::from_secs(1);
/// A failed Orange Money callback registration is tried again after this long.
const REGISTRATION_RETRY: Duration = Duration::from_secs(30);
/// How often the background task looks for a callback to register.
const AUTO_CONFIGURE_EVERY: Duration = Duration::from_secs(5);

/// The keyring that seals and opens provider configurations: `ENCRYPTION_KEY`.
pub fn keyring(config: &nexpay_config::Config) -> anyhow::Result<Keyring> {
    let encoded = config.encryption_key.as_ref().ok_or_else(|| {
        anyhow::anyhow!(
            "ENCRYPTION_KEY is not set: provider-adapter needs it to open provider secrets"
        )
    })?;
    let key = SealingKey::from_base64(encoded.expose())?;
    Ok(Keyring::new(key, Vec::new()))
}

/// Live connectors by provider code, built from the sealed configuration.
pub struct LiveConnectors {
    inner: Arc<Inner>,
    auto_configure: Option<tokio::task::JoinHandle<()>>,
}

struct Inner {
    store: Store,
    keyring: Keyring,
    settings: LiveSettings,
    slots: HashMap<&'static str, tokio::sync::Mutex<Slot>>,
}

/// What is known of one provider.
#[derive(Default)]
struct Slot {
    /// When the row was last read.
    checked_at: Option<Instant>,
    /// The answer until the next read.
    live: Option<Arc<dyn Connector>>,
    /// The connector built from the stored configuration, live or not.
    built: Option<Built>,
    /// The last Orange Money callback registration attempt.
    registration: Option<Registration>,
}

struct Built {
    updated_at: NaiveDateTime,
    sealed: String,
    /// `None` when the configuration could not be opened or used (logged).
    connector: Option<Arc<dyn Connector>>,
    /// The Orange Money connector whose callback NexPay must register itself.
    auto_callback: Option<Arc<OrangeMoneyConnector>>,
}

struct Registration {
    sealed: String,
    at: Instant,
}

impl LiveConnectors {
    /// Inside a Tokio runtime this also starts the background task that registers
    /// Orange Money callbacks (stopped when the value is dropped).
    pub fn new(store: Store, keyring: Keyring, settings: LiveSettings) -> Self {
        let slots = CODES
            .iter()
            .map(|code| (*code, tokio::sync::Mutex::new(Slot::default())))
            .collect();
        let inner = Arc::new(Inner {
            store,
            keyring,
            settings,
            slots,
        });
        let auto_configure = tokio::runtime::Handle::try_current()
            .ok()
            .map(|rt| rt.spawn(auto_configure(Arc::downgrade(&inner))));
        LiveConnectors {
            inner,
            auto_configure,
        }
    }

    /// The live connector for `code` ("wave" | "om"), built from the sealed
    /// configuration; `None` when the provider is not live (not enabled, or secrets or
    /// webhook missing, or a configuration that cannot be used).
    pub async fn get(&self, code: &str) -> Option<Arc<dyn Connector>> {
        self.inner.get(code).await
    }
}

impl Drop for LiveConnectors {
    fn drop(&mut self) {
        if let Some(task) = self.auto_configure.take() {
            task.abort();
        }
    }
}

#[async_trait]
impl crate::LiveSource for LiveConnectors {
    async fn get(&self, code: &str) -> Option<Arc<dyn Connector>> {
        LiveConnectors::get(self, code).await
    }
}

async fn auto_configure(inner: Weak<Inner>) {
    let mut tick = tokio::time::interval(AUTO_CONFIGURE_EVERY);
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        inner.get("om").await;
    }
}

impl Inner {
    async fn get(&self, code: &str) -> Option<Arc<dyn Connector>> {
        let mut slot = self.slots.get(code)?.lock().await;
        if slot
            .checked_at
            .is_some_and(|at| at.elapsed() < REREAD_AFTER)
        {
            return slot.live.clone();
        }
        let live = self.refresh(code, &mut slot).await;
        slot.checked_at = Some(Instant::now());
        slot.live = live.clone();
        live
    }

    /// Reads the row, rebuilds the connector if the configuration changed, registers
    /// a pending Orange Money callback, and says whether the provider is live.
    async fn refresh(&self, code: &str, slot: &mut Slot) -> Option<Arc<dyn Connector>> {
        let row = match self.store.get_provider(code).await {
            Ok(row) => row,
            Err(e) => {
                // A database hiccup does not take a working provider offline.
                tracing::warn!(provider = code, error = %e, "cannot read the provider configuration");
                return slot.live.clone();
            }
        };
        let Some(row) = row else {
            slot.built = None;
            return None;
        };
        let Some(sealed) = row.sealed_config else {
            slot.built = None;
            return None;
        };
        let stale = slot
            .built
            .as_ref()
            .is_none_or(|b| b.updated_at != row.updated_at || b.sealed != sealed);
        if stale {
            slot.built = Some(self.build(code, sealed.clone(), row.updated_at));
        }
        let Slot {
            built,
            registration,
            ..
        } = slot;
        let built = built.as_ref()?;
        let connector = built.connector.clone()?;
        if !row.secrets_ok {
            return None;
        }
        let mut webhook_ok = row.webhook_ok;
        if !webhook_ok {
            if let Some(om) = &built.auto_callback {
                webhook_ok = self
                    .register_callback(code, om, &sealed, registration)
                    .await;
            }
        }
        (row.enabled && webhook_ok).then_some(connector)
    }

    /// Registers the Orange Money callback of the configuration sealed as `sealed`, at
    /// most once per [`REGISTRATION_RETRY`], and records the success.
    async fn register_callback(
        &self,
        code: &str,
        om: &OrangeMoneyConnector,
        sealed: &str,
        last: &mut Option<Registration>,
    ) -> bool {
        let recent = last
            .as_ref()
            .is_some_and(|r| r.sealed == sealed && r.at.elapsed() < REGISTRATION_RETRY);
        if recent {
            return false;
        }
        *last = Some(Registration {
            sealed: sealed.to_owned(),
            at: Instant::now(),
        });
        if let Err(e) = om.register_callback().await {
            tracing::warn!(
                provider = code,
                error = %e,
                "Orange Money callback registration failed; retrying in {}s",
                REGISTRATION_RETRY.as_secs()
            );
            return false;
        }
        match self.store.mark_provider_webhook_ok(code, sealed).await {
            Ok(true) => {
                tracing::info!(provider = code, "Orange Money callback registered");
                true
            }
            // The admin saved another configuration meanwhile: it gets its own turn.
            Ok(false) => false,
            Err(e) => {
                tracing::warn!(provider = code, error = %e, "cannot record the callback registration");
                false
            }
        }
    }

    fn build(&self, code: &str, sealed: String, updated_at: NaiveDateTime) -> Built {
        let mut built = Built {
            updated_at,
            sealed,
            connector: None,
            auto_callback: None,
        };
        let doc = match self.open(code, &built.sealed) {
            Ok(doc) => doc,
            Err(reason) => {
                tracing::error!(provider = code, %reason, "the provider configuration cannot be used");
                return built;
            }
        };
        match doc {
            ProviderConfigDoc::Wave(w) if code == "wave" => match wave_connector(w) {
                Ok(c) => built.connector = Some(Arc::new(c)),
                Err(reason) => {
                    tracing::error!(provider = code, %reason, "invalid Wave configuration")
                }
            },
            ProviderConfigDoc::Om(o) if code == "om" => {
                let auto = o
                    .webhook
                    .as_ref()
                    .is_some_and(|w| w.strategy == OmWebhookStrategy::Auto);
                match self.om_connector(o) {
                    Ok(Some(c)) => {
                        let c = Arc::new(c);
                        if auto {
                            built.auto_callback = Some(c.clone());
                        }
                        built.connector = Some(c);
                    }
                    Ok(None) => {}
                    Err(reason) => {
                        tracing::error!(provider = code, %reason, "invalid Orange Money configuration")
                    }
                }
            }
            other => tracing::error!(
                provider = code,
                sealed_for = other.code(),
                "the stored configuration belongs to another provider"
            ),
        }
        built
    }

    /// Opens and parses the sealed configuration. Errors name no secret.
    fn open(&self, code: &str, sealed: &str) -> Result<ProviderConfigDoc, String> {
        let plaintext = self
            .keyring
            .open(sealed, code.as_bytes())
            .map_err(|e| e.to_string())?;
        serde_json::from_slice(&plaintext).map_err(|e| {
            format!(
                "the decrypted configuration is not valid: {}",
                e.classify_name()
            )
        })
    }

    /// `None` while the webhook is not configured: the connector needs its apiKey.
    fn om_connector(&self, o: OmConfigDoc) -> Result<Option<OrangeMoneyConnector>, String> {
        let Some(webhook) = o.webhook else {
            return Ok(None);
        };
        let mut config = OrangeMoneyConfig::new(
            o.base_url,
            o.client_id,
            Secret::new(o.client_secret),
            o.merchant_code,
            o.merchant_name,
            Secret::new(webhook.api_key),
        );
        config.token_path = o.token_path;
        config.callback_url = Some(format!(
            "{}/api/v1/webhook/om",
            self.settings.public_url.trim_end_matches('/')
        ));
        config.webhook_signing_secret = webhook.signing_secret.map(Secret::new);
        OrangeMoneyConnector::with_token_cache(config, self.settings.om_token_cache.clone())
            .map(Some)
            .map_err(|e| e.to_string())
    }
}

fn wave_connector(w: WaveConfigDoc) -> Result<WaveConnector, String> {
    let mut config = WaveConfig::new(w.base_url, Secret::new(w.api_key));
    config.request_signing_secret = w.request_signing_secret.map(Secret::new);
    config.webhook = match w.webhook {
        Some(hook) => match hook.strategy {
            WaveWebhookStrategy::SharedSecret => {
                WaveWebhookAuth::SharedSecret(Secret::new(hook.secret))
            }
            WaveWebhookStrategy::SigningSecret => {
                WaveWebhookAuth::SigningSecret(Secret::new(hook.secret))
            }
        },
        None => WaveWebhookAuth::Disabled,
    };
    WaveConnector::new(config).map_err(|e| e.to_string())
}

/// Names used in `classify_name`: serde_json's category, never the input.
trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "io",
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Data => "unexpected fields or values",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}
