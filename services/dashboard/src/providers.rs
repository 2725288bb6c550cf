//! Payment providers of the instance: listing them, switching them on or off, saving
//! their configuration and sending a test payment.
//!
//! The configuration is global to the instance (every project uses it). Secrets are
//! sealed with `ENCRYPTION_KEY` (AES-256-GCM, the provider code as associated data) by
//! the process that holds the key: provider-adapter, asked over the bus, when the
//! dashboard runs as its own service without the key; the process itself in standalone
//! and the CLI. Nothing here ever opens them: only provider-adapter does, to build the
//! live connectors. What this module returns shows a secret as `configured` plus its last
//! four characters, never more.
//!
//! A provider serves LIVE payments when it is enabled, its secrets are complete
//! (`secrets_ok`) and its webhook is set up (`webhook_ok`). Test mode always goes to
//! the built-in simulators, whatever is configured here.

use std::time::Duration;

use chrono::{DateTime, Utc};
use nexpay_config::Config;
use nexpay_contracts::{
    kinds, queues, Caller, Customer, InitiatePayment, PaymentInitiated, SealProviderConfig,
    SealedProviderConfig,
};
use nexpay_security::{Keyring, SealingKey, Secret};
use nexpay_store::{
    OmConfigDoc, OmWebhookDoc, OmWebhookStrategy, ProviderConfigDoc, ProviderConfigUpdate,
    ProviderRow, Store, WaveConfigDoc, WaveWebhookDoc, WaveWebhookStrategy,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::audit;
use crate::error::Issues;
use crate::error::{AdminError, AdminResult};
use crate::utc;

/// The providers every instance knows: (code, name, logo).
pub const BUILT_IN: &[(&str, &str, &str)] = &[
    ("wave", "Wave", "/static/providers/wave.svg"),
    ("om", "Orange Money", "/static/providers/om.svg"),
];

/// Production API of Wave.
pub const WAVE_DEFAULT_BASE_URL: &str = "https://api.wave.com";
/// Production API of Orange Money Sénégal (Sonatel).
pub const OM_DEFAULT_BASE_URL: &str = "https://api.orange-sonatel.com";
/// OAuth token path of the current Sonatel portal.
pub const OM_DEFAULT_TOKEN_PATH: &str = "/oauth/v1/token";
/// Webhook secrets (and the Orange Money callback apiKey) are at least this long.
pub const MIN_WEBHOOK_SECRET_LEN: usize = 20;
/// Length of the callback apiKey generated for Orange Money's auto-configuration.
pub const GENERATED_API_KEY_LEN: usize = 40;
/// Amount of a test payment, in XOF.
pub const TEST_PAYMENT_AMOUNT: i64 = 100;
/// Payer number of a test payment when the admin gives none (whoever scans the QR code
/// or opens the link pays; the number is only recorded).
pub const TEST_PAYMENT_DEFAULT_PHONE: &str = "+221770000000";
/// The last four characters of a secret are shown only when it is at least this long.
const MIN_LEN_FOR_LAST4: usize = 12;
const MAX_SECRET_LEN: usize = 512;
const MAX_MERCHANT_NAME_LEN: usize = 100;

/// Why a provider is not live yet.
pub const MISSING_SECRETS: &str = "secrets";
pub const MISSING_WEBHOOK: &str = "webhook";

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderView {
    pub code: String,
    pub name: String,
    /// Offered to customers (test mode always uses the simulators).
    pub enabled: bool,
    pub logo_url: String,
    /// Serves live payments: enabled, secrets complete and webhook set up.
    pub live: bool,
    /// What keeps the provider from serving live payments once enabled: `secrets`,
    /// `webhook`.
    pub missing: Vec<&'static str>,
    /// The URL to register at the provider for its notifications.
    pub webhook_url: String,
    /// Whether a configuration is saved.
    pub configured: bool,
    /// The non-secret view of the configuration (`null` when none is saved).
    pub config: Value,
    pub test_passed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl ProviderView {
    pub fn from_row(p: ProviderRow, public_url: &str) -> Self {
        let live = is_live(&p);
        let missing = missing(&p);
        let config = match &p.sealed_config {
            Some(_) => serde_json::from_str(&p.config_summary).unwrap_or(Value::Null),
            None => Value::Null,
        };
        ProviderView {
            webhook_url: webhook_url(public_url, &p.code),
            configured: p.sealed_config.is_some(),
            code: p.code,
            name: p.name,
            enabled: p.enabled,
            logo_url: p.logo_url,
            live,
            missing,
            config,
            test_passed_at: p.test_passed_at.map(utc),
            updated_at: utc(p.updated_at),
        }
    }
}

/// Live payments need all three: enabled, complete secrets, webhook set up.
pub fn is_live(p: &ProviderRow) -> bool {
    p.enabled && p.sealed_config.is_some() && p.live_ready()
}

fn missing(p: &ProviderRow) -> Vec<&'static str> {
    let mut out = Vec::new();
    if p.sealed_config.is_none() || !p.secrets_ok {
        out.push(MISSING_SECRETS);
    }
    if p.sealed_config.is_none() || !p.webhook_ok {
        out.push(MISSING_WEBHOOK);
    }
    out
}

/// `{PUBLIC_URL}/api/v1/webhook/{code}`: where provider-adapter receives notifications.
pub fn webhook_url(public_url: &str, code: &str) -> String {
    format!("{}/api/v1/webhook/{code}", public_url.trim_end_matches('/'))
}

/// Inserts the built-in providers that are missing, enabled; rows an admin changed are
/// left as they are.
pub(crate) async fn ensure_built_in(store: &Store) -> AdminResult<()> {
    for (code, name, logo) in BUILT_IN {
        let row = ProviderRow {
            code: (*code).to_owned(),
            name: (*name).to_owned(),
            enabled: true,
            logo_url: (*logo).to_owned(),
            sealed_config: None,
            updated_at: nexpay_store::now(),
            config_summary: "{}".into(),
            secrets_ok: false,
            webhook_ok: false,
            test_passed_at: None,
        };
        store.ensure_provider(&row).await?;
    }
    Ok(())
}

pub async fn list_providers(store: &Store, public_url: &str) -> AdminResult<Vec<ProviderView>> {
    Ok(store
        .list_providers()
        .await?
        .into_iter()
        .map(|p| ProviderView::from_row(p, public_url))
        .collect())
}

pub async fn get_provider(
    store: &Store,
    public_url: &str,
    code: &str,
) -> AdminResult<ProviderView> {
    store
        .get_provider(code)
        .await?
        .map(|p| ProviderView::from_row(p, public_url))
        .ok_or(AdminError::NotFound("provider"))
}

pub async fn set_provider_enabled(
    store: &Store,
    public_url: &str,
    actor: &str,
    code: &str,
    enabled: bool,
) -> AdminResult<ProviderView> {
    if !store.set_provider_enabled(code, enabled).await? {
        return Err(AdminError::NotFound("provider"));
    }
    let action = if enabled {
        "provider.enable"
    } else {
        "provider.disable"
    };
    audit::record(store, actor, action, Some(code), json!({})).await;
    get_provider(store, public_url, code).await
}

// ------------------------------------------------------------------------ configuration

/// `PUT /providers/wave/config`. Every save replaces the whole configuration (secrets
/// are never read back, so they cannot be merged): send them all again.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaveInput {
    #[serde(default)]
    pub api_key: Option<Secret>,
    #[serde(default)]
    pub request_signing_secret: Option<Secret>,
    #[serde(default)]
    pub webhook: Option<WaveWebhookInput>,
    #[serde(default)]
    pub base_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaveWebhookInput {
    /// `shared_secret` or `signing_secret`, as chosen in Wave's Business Portal.
    #[serde(default)]
    pub strategy: Option<String>,
    #[serde(default)]
    pub secret: Option<Secret>,
}

/// `PUT /providers/om/config`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OmInput {
    #[serde(default)]
    pub client_id: Option<Secret>,
    #[serde(default)]
    pub client_secret: Option<Secret>,
    #[serde(default)]
    pub merchant_code: Option<String>,
    #[serde(default)]
    pub merchant_name: Option<String>,
    #[serde(default)]
    pub webhook: Option<OmWebhookInput>,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub token_path: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OmWebhookInput {
    /// `auto` (NexPay generates the apiKey and registers the callback) or `manual`
    /// (the admin registered the callback with their own apiKey).
    #[serde(default)]
    pub strategy: Option<String>,
    #[serde(default)]
    pub api_key: Option<Secret>,
    /// The `X-Sonatel-Signature` endpoint secret, when Sonatel issued one.
    #[serde(default)]
    pub signing_secret: Option<Secret>,
}

impl Issues {
    /// A required secret: trimmed, no inner whitespace, `min`..=512 characters.
    fn secret(&mut self, field: &str, value: Option<&Secret>, min: usize) -> Option<String> {
        let Some(value) = value.map(|s| s.expose().trim()).filter(|s| !s.is_empty()) else {
            self.add(field, "is required");
            return None;
        };
        self.check_secret(field, value, min)
    }

    /// An optional secret: absent or empty means not configured.
    fn optional_secret(
        &mut self,
        field: &str,
        value: Option<&Secret>,
        min: usize,
    ) -> Option<String> {
        let value = value.map(|s| s.expose().trim()).filter(|s| !s.is_empty())?;
        self.check_secret(field, value, min)
    }

    fn check_secret(&mut self, field: &str, value: &str, min: usize) -> Option<String> {
        let len = value.chars().count();
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            self.add(field, "must not contain spaces or control characters");
            None
        } else if len < min {
            self.add(field, format!("must be at least {min} characters"));
            None
        } else if len > MAX_SECRET_LEN {
            self.add(
                field,
                format!("must be at most {MAX_SECRET_LEN} characters"),
            );
            None
        } else {
            Some(value.to_owned())
        }
    }

    /// An http(s) base URL without query or fragment; https in production.
    fn base_url(
        &mut self,
        field: &str,
        value: Option<&str>,
        default: &str,
        production: bool,
    ) -> String {
        let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            return default.to_owned();
        };
        let value = value.trim_end_matches('/');
        match url::Url::parse(value) {
            Ok(u) if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() => {
                self.add(field, "must be an http(s) URL");
            }
            Ok(u) if production && u.scheme() != "https" => {
                self.add(field, "must use https in production");
            }
            Ok(u) if u.query().is_some() || u.fragment().is_some() => {
                self.add(field, "must not have a query string or fragment");
            }
            Ok(_) => {}
            Err(_) => self.add(field, "must be an http(s) URL"),
        }
        value.to_owned()
    }
}

/// `{"configured": true, "last4": "…"}` (`last4` only for secrets long enough that four
/// characters give little away).
fn secret_summary(value: Option<&str>) -> Value {
    match value {
        Some(s) => {
            let chars: Vec<char> = s.chars().collect();
            let last4 = (chars.len() >= MIN_LEN_FOR_LAST4)
                .then(|| chars[chars.len() - 4..].iter().collect::<String>());
            json!({ "configured": true, "last4": last4 })
        }
        None => json!({ "configured": false, "last4": null }),
    }
}

fn new_version() -> String {
    format!("cfg_{}", nexpay_security::random_hex(8))
}

fn wave_doc(input: &WaveInput, production: bool) -> AdminResult<WaveConfigDoc> {
    let mut issues = Issues::default();
    let api_key = issues.secret("apiKey", input.api_key.as_ref(), MIN_WEBHOOK_SECRET_LEN);
    let request_signing_secret = issues.optional_secret(
        "requestSigningSecret",
        input.request_signing_secret.as_ref(),
        MIN_WEBHOOK_SECRET_LEN,
    );
    let webhook = input.webhook.as_ref().and_then(|w| {
        let strategy = match w.strategy.as_deref().map(str::trim) {
            Some("shared_secret") => Some(WaveWebhookStrategy::SharedSecret),
            Some("signing_secret") => Some(WaveWebhookStrategy::SigningSecret),
            None | Some("") => {
                issues.add(
                    "webhook.strategy",
                    "is required (shared_secret or signing_secret)",
                );
                None
            }
            Some(_) => {
                issues.add(
                    "webhook.strategy",
                    "must be shared_secret or signing_secret",
                );
                None
            }
        };
        let secret = issues.secret("webhook.secret", w.secret.as_ref(), MIN_WEBHOOK_SECRET_LEN);
        Some(WaveWebhookDoc {
            strategy: strategy?,
            secret: secret?,
        })
    });
    let base_url = issues.base_url(
        "baseUrl",
        input.base_url.as_deref(),
        WAVE_DEFAULT_BASE_URL,
        production,
    );
    issues.finish()?;
    let Some(api_key) = api_key else {
        return Err(AdminError::Internal("validated apiKey missing".into()));
    };
    Ok(WaveConfigDoc {
        version: new_version(),
        base_url,
        api_key,
        request_signing_secret,
        webhook,
    })
}

fn wave_summary(doc: &WaveConfigDoc) -> Value {
    json!({
        "version": doc.version,
        "baseUrl": doc.base_url,
        "apiKey": secret_summary(Some(&doc.api_key)),
        "requestSigningSecret": secret_summary(doc.request_signing_secret.as_deref()),
        "webhook": doc.webhook.as_ref().map(|w| json!({
            "strategy": w.strategy.as_str(),
            "secret": secret_summary(Some(&w.secret)),
        })),
    })
}

fn om_doc(input: &OmInput, production: bool) -> AdminResult<OmConfigDoc> {
    let mut issues = Issues::default();
    let client_id = issues.secret("clientId", input.client_id.as_ref(), 1);
    let client_secret = issues.secret("clientSecret", input.client_secret.as_ref(), 1);
    let merchant_code = match input.merchant_code.as_deref().map(str::trim) {
        Some(c) if c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()) => Some(c.to_owned()),
        None | Some("") => {
            issues.add(
                "merchantCode",
                "is required (the 6-digit code issued by Sonatel)",
            );
            None
        }
        Some(_) => {
            issues.add("merchantCode", "must be exactly 6 digits");
            None
        }
    };
    let merchant_name = match input.merchant_name.as_deref().map(str::trim) {
        None | Some("") => {
            issues.add("merchantName", "is required");
            None
        }
        Some(n) if n.chars().count() > MAX_MERCHANT_NAME_LEN => {
            issues.add(
                "merchantName",
                format!("must be at most {MAX_MERCHANT_NAME_LEN} characters"),
            );
            None
        }
        Some(n) if n.chars().any(char::is_control) => {
            issues.add("merchantName", "must not contain control characters");
            None
        }
        Some(n) => Some(n.to_owned()),
    };
    let webhook = input.webhook.as_ref().and_then(|w| {
        let signing_secret =
            issues.optional_secret("webhook.signingSecret", w.signing_secret.as_ref(), 1);
        let given_key = w.api_key.as_ref().filter(|k| !k.expose().trim().is_empty());
        match w.strategy.as_deref().map(str::trim) {
            Some("auto") => {
                if given_key.is_some() {
                    issues.add(
                        "webhook.apiKey",
                        "must be left out with strategy auto (NexPay generates it)",
                    );
                    return None;
                }
                Some(OmWebhookDoc {
                    strategy: OmWebhookStrategy::Auto,
                    api_key: nexpay_security::random_base62(GENERATED_API_KEY_LEN),
                    signing_secret,
                })
            }
            Some("manual") => {
                let api_key =
                    issues.secret("webhook.apiKey", w.api_key.as_ref(), MIN_WEBHOOK_SECRET_LEN)?;
                Some(OmWebhookDoc {
                    strategy: OmWebhookStrategy::Manual,
                    api_key,
                    signing_secret,
                })
            }
            None | Some("") => {
                issues.add("webhook.strategy", "is required (auto or manual)");
                None
            }
            Some(_) => {
                issues.add("webhook.strategy", "must be auto or manual");
                None
            }
        }
    });
    let base_url = issues.base_url(
        "baseUrl",
        input.base_url.as_deref(),
        OM_DEFAULT_BASE_URL,
        production,
    );
    let token_path = match input.token_path.as_deref().map(str::trim) {
        None | Some("") => OM_DEFAULT_TOKEN_PATH.to_owned(),
        Some(p)
            if p.starts_with('/')
                && p.len() <= 200
                && !p
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || c == '?' || c == '#') =>
        {
            p.to_owned()
        }
        Some(_) => {
            issues.add(
                "tokenPath",
                "must be a path starting with / (e.g. /oauth/v1/token)",
            );
            String::new()
        }
    };
    issues.finish()?;
    let (Some(client_id), Some(client_secret), Some(merchant_code), Some(merchant_name)) =
        (client_id, client_secret, merchant_code, merchant_name)
    else {
        return Err(AdminError::Internal("validated fields missing".into()));
    };
    Ok(OmConfigDoc {
        version: new_version(),
        base_url,
        token_path,
        client_id,
        client_secret,
        merchant_code,
        merchant_name,
        webhook,
    })
}

fn om_summary(doc: &OmConfigDoc) -> Value {
    json!({
        "version": doc.version,
        "baseUrl": doc.base_url,
        "tokenPath": doc.token_path,
        "merchantCode": doc.merchant_code,
        "merchantName": doc.merchant_name,
        "clientId": secret_summary(Some(&doc.client_id)),
        "clientSecret": secret_summary(Some(&doc.client_secret)),
        "webhook": doc.webhook.as_ref().map(|w| json!({
            "strategy": w.strategy.as_str(),
            "apiKey": secret_summary(Some(&w.api_key)),
            "signingSecret": secret_summary(w.signing_secret.as_deref()),
        })),
    })
}

/// What seals a configuration: the key itself, when this process holds it, or
/// provider-adapter over the bus.
pub enum Sealer<'a> {
    Key(Box<Keyring>),
    ProviderAdapter {
        bus: &'a dyn nexpay_bus::Bus,
        timeout: Duration,
    },
}

impl<'a> Sealer<'a> {
    /// The key of `config` when it has one, else provider-adapter through `bus`.
    pub fn new(config: &Config, bus: Option<&'a dyn nexpay_bus::Bus>) -> AdminResult<Self> {
        if let Some(encoded) = &config.encryption_key {
            let key = SealingKey::from_base64(encoded.expose())
                .map_err(|e| AdminError::Internal(format!("ENCRYPTION_KEY: {e}")))?;
            return Ok(Sealer::Key(Box::new(Keyring::new(key, Vec::new()))));
        }
        match bus {
            Some(bus) => Ok(Sealer::ProviderAdapter {
                bus,
                timeout: config.rpc_timeout,
            }),
            None => Err(AdminError::Internal(
                "cannot seal provider secrets here: ENCRYPTION_KEY is not set in this process (only provider-adapter holds it); use the admin API, or run the command where ENCRYPTION_KEY is set".into(),
            )),
        }
    }

    async fn seal(&self, doc: &ProviderConfigDoc) -> AdminResult<String> {
        let code = doc.code();
        match self {
            Sealer::Key(keyring) => {
                let plaintext = serde_json::to_vec(doc).map_err(|e| {
                    AdminError::Internal(format!("cannot encode the configuration: {e}"))
                })?;
                Ok(keyring.seal(&plaintext, code.as_bytes()))
            }
            Sealer::ProviderAdapter { bus, timeout } => {
                let cmd = SealProviderConfig {
                    code: code.to_owned(),
                    config: serde_json::to_value(doc).map_err(|e| {
                        AdminError::Internal(format!("cannot encode the configuration: {e}"))
                    })?,
                };
                let payload = serde_json::to_value(&cmd)
                    .map_err(|e| AdminError::Internal(format!("cannot encode the command: {e}")))?;
                let correlation = format!("seal_{}", nexpay_security::random_hex(8));
                let envelope =
                    nexpay_bus::Envelope::new(kinds::SEAL_PROVIDER_CONFIG, correlation, payload);
                let reply = bus
                    .request(queues::PROVIDERS, envelope, *timeout)
                    .await
                    .map_err(|e| {
                        tracing::error!(error = %e, "sealing a provider configuration failed");
                        AdminError::Unavailable(
                            "provider-adapter, which seals provider secrets, did not answer; nothing was saved, try again".into(),
                        )
                    })?;
                let sealed: SealedProviderConfig = serde_json::from_value(reply).map_err(|e| {
                    AdminError::Internal(format!("unexpected provider-adapter reply: {e}"))
                })?;
                Ok(sealed.sealed)
            }
        }
    }
}

/// Seals and stores `doc`. `webhook_ok` is true when the webhook needs nothing more
/// (Wave's secret is known; an Orange Money callback the admin registered); an Orange
/// Money auto-configuration becomes ok once provider-adapter has registered it.
async fn save(
    store: &Store,
    config: &Config,
    sealer: &Sealer<'_>,
    actor: &str,
    doc: ProviderConfigDoc,
    webhook_ok: bool,
    (summary, audit_detail): (Value, Value),
) -> AdminResult<ProviderView> {
    let code = doc.code();
    if store.get_provider(code).await?.is_none() {
        return Err(AdminError::NotFound("provider"));
    }
    let sealed = sealer.seal(&doc).await?;
    let summary = summary.to_string();
    let update = ProviderConfigUpdate {
        sealed_config: Some(&sealed),
        config_summary: &summary,
        secrets_ok: true,
        webhook_ok,
    };
    if !store.save_provider_config(code, &update).await? {
        return Err(AdminError::NotFound("provider"));
    }
    audit::record(store, actor, "provider.configure", Some(code), audit_detail).await;
    get_provider(store, &config.public_url, code).await
}

/// Validates, seals and stores the Wave configuration.
pub async fn configure_wave(
    store: &Store,
    config: &Config,
    sealer: &Sealer<'_>,
    actor: &str,
    input: &WaveInput,
) -> AdminResult<ProviderView> {
    let doc = wave_doc(input, config.is_production())?;
    let summary = wave_summary(&doc);
    let webhook_ok = doc.webhook.is_some();
    let detail = json!({
        "baseUrl": doc.base_url,
        "webhook": doc.webhook.as_ref().map(|w| w.strategy.as_str()),
        "requestSigning": doc.request_signing_secret.is_some(),
    });
    save(
        store,
        config,
        sealer,
        actor,
        ProviderConfigDoc::Wave(doc),
        webhook_ok,
        (summary, detail),
    )
    .await
}

/// Validates, seals and stores the Orange Money configuration.
pub async fn configure_om(
    store: &Store,
    config: &Config,
    sealer: &Sealer<'_>,
    actor: &str,
    input: &OmInput,
) -> AdminResult<ProviderView> {
    let doc = om_doc(input, config.is_production())?;
    let summary = om_summary(&doc);
    let webhook_ok = doc
        .webhook
        .as_ref()
        .is_some_and(|w| w.strategy == OmWebhookStrategy::Manual);
    let detail = json!({
        "baseUrl": doc.base_url,
        "merchantCode": doc.merchant_code,
        "webhook": doc.webhook.as_ref().map(|w| w.strategy.as_str()),
    });
    save(
        store,
        config,
        sealer,
        actor,
        ProviderConfigDoc::Om(doc),
        webhook_ok,
        (summary, detail),
    )
    .await
}

/// Parses a configuration body for `code` and saves it.
pub async fn configure(
    store: &Store,
    config: &Config,
    sealer: &Sealer<'_>,
    actor: &str,
    code: &str,
    body: Value,
) -> AdminResult<ProviderView> {
    let bad = |e: serde_json::Error| AdminError::BadRequest(format!("invalid JSON body: {e}"));
    match code {
        "wave" => {
            let input: WaveInput = serde_json::from_value(body).map_err(bad)?;
            configure_wave(store, config, sealer, actor, &input).await
        }
        "om" => {
            let input: OmInput = serde_json::from_value(body).map_err(bad)?;
            configure_om(store, config, sealer, actor, &input).await
        }
        _ => Err(AdminError::NotFound("provider")),
    }
}

/// Deletes the configuration: the provider can no longer serve live payments.
pub async fn remove_config(
    store: &Store,
    public_url: &str,
    actor: &str,
    code: &str,
) -> AdminResult<ProviderView> {
    let update = ProviderConfigUpdate {
        sealed_config: None,
        config_summary: "{}",
        secrets_ok: false,
        webhook_ok: false,
    };
    if !store.save_provider_config(code, &update).await? {
        return Err(AdminError::NotFound("provider"));
    }
    audit::record(store, actor, "provider.unconfigure", Some(code), json!({})).await;
    get_provider(store, public_url, code).await
}

// ------------------------------------------------------------------------- test payment

/// A live test payment, as the admin needs it to pay: QR code, link, reference, expiry.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestPayment {
    pub provider: String,
    pub reference: String,
    pub amount: i64,
    pub currency: String,
    pub status: String,
    /// Base64 PNG (no `data:` prefix).
    pub qr_code: Option<String>,
    /// The first checkout link (open it on the phone that pays).
    pub checkout_url: Option<String>,
    pub checkout_urls: Vec<nexpay_contracts::CheckoutLink>,
    pub expires_at: Option<String>,
}

/// Why a test payment could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TestPaymentError {
    #[error("{0}")]
    Admin(#[from] AdminError),
    /// The provider is not live (disabled or configuration incomplete).
    #[error("{provider} cannot take live payments yet ({})", describe_missing(.missing, *.enabled))]
    NotLive {
        provider: String,
        enabled: bool,
        missing: Vec<&'static str>,
    },
    /// The dashboard has no message bus to reach the payments service.
    #[error("test payments need the message bus (AMQP_URL), which this process does not have")]
    NoBus,
    /// The payments service or the provider refused it.
    #[error("{message}")]
    Rejected {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the payments service did not answer in time")]
    Timeout,
    #[error("the payments service is unavailable: {0}")]
    Unavailable(String),
}

fn describe_missing(missing: &[&str], enabled: bool) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !enabled {
        parts.push("it is disabled".into());
    }
    if !missing.is_empty() {
        parts.push(format!("missing: {}", missing.join(", ")));
    }
    parts.join("; ")
}

impl TestPaymentError {
    pub fn status(&self) -> u16 {
        match self {
            TestPaymentError::Admin(e) => actix_web::ResponseError::status_code(e).as_u16(),
            TestPaymentError::NotLive { .. } => 409,
            TestPaymentError::NoBus | TestPaymentError::Unavailable(_) => 503,
            TestPaymentError::Rejected { status, .. } => *status,
            TestPaymentError::Timeout => 504,
        }
    }

    pub fn code(&self) -> &str {
        match self {
            TestPaymentError::Admin(e) => e.code(),
            TestPaymentError::NotLive { .. } => "provider_not_live",
            TestPaymentError::NoBus | TestPaymentError::Unavailable(_) => "service_unavailable",
            TestPaymentError::Rejected { code, .. } => code,
            TestPaymentError::Timeout => "timeout",
        }
    }

    /// What an HTTP client may read (bus failures are logged, not shown).
    pub fn public_message(&self) -> String {
        match self {
            TestPaymentError::Admin(e) => e.public_message(),
            TestPaymentError::Unavailable(_) => {
                "the payments service is unavailable; try again".into()
            }
            other => other.to_string(),
        }
    }

    fn from_bus(e: nexpay_bus::BusError) -> Self {
        use nexpay_bus::{BusError, HandlerError};
        match e {
            BusError::Handler(HandlerError::Rejected {
                status,
                code,
                message,
                ..
            }) => TestPaymentError::Rejected {
                status,
                code,
                message,
            },
            BusError::Timeout => TestPaymentError::Timeout,
            other => TestPaymentError::Unavailable(other.to_string()),
        }
    }
}

/// Creates a small LIVE payment (100 XOF, default project) through the payments
/// service, the same way the merchant API does, and records the success.
pub async fn test_payment(
    store: &Store,
    bus: Option<&dyn nexpay_bus::Bus>,
    timeout: Duration,
    actor: &str,
    code: &str,
    phone: Option<&str>,
    correlation_id: &str,
) -> Result<TestPayment, TestPaymentError> {
    let provider = store
        .get_provider(code)
        .await
        .map_err(AdminError::from)?
        .ok_or(AdminError::NotFound("provider"))?;
    if !is_live(&provider) {
        return Err(TestPaymentError::NotLive {
            provider: provider.name.clone(),
            enabled: provider.enabled,
            missing: missing(&provider),
        });
    }
    let phone = match phone.map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => nexpay_domain::PhoneNumber::parse(p)
            .map_err(|e| AdminError::invalid("phone", e.to_string()))?
            .as_str()
            .to_owned(),
        None => TEST_PAYMENT_DEFAULT_PHONE.to_owned(),
    };
    let Some(bus) = bus else {
        return Err(TestPaymentError::NoBus);
    };
    let project = store
        .default_project()
        .await
        .map_err(AdminError::from)?
        .ok_or(AdminError::NotFound("default project"))?;
    let cmd = InitiatePayment {
        caller: Caller {
            project_id: project.id.clone(),
            mode: "live".into(),
            request_key: None,
        },
        amount_minor: TEST_PAYMENT_AMOUNT,
        currency: "XOF".into(),
        provider_code: provider.code.clone(),
        customer: Customer {
            name: Some("NexPay test payment".into()),
            email: None,
            phone,
        },
        metadata: json!({ "nexpay_test_payment": "true" }),
        client_reference: None,
        urls: Default::default(),
    };
    let payload = serde_json::to_value(&cmd)
        .map_err(|e| AdminError::Internal(format!("cannot encode the command: {e}")))?;
    let envelope =
        nexpay_bus::Envelope::new(kinds::INITIATE_PAYMENT, correlation_id.to_owned(), payload);
    let reply = bus
        .request(queues::PAYMENTS, envelope, timeout)
        .await
        .map_err(TestPaymentError::from_bus)?;
    let initiated: PaymentInitiated = serde_json::from_value(reply)
        .map_err(|e| AdminError::Internal(format!("unexpected payments reply: {e}")))?;
    store
        .mark_provider_test_passed(code, nexpay_store::now())
        .await
        .map_err(AdminError::from)?;
    audit::record(
        store,
        actor,
        "provider.test_payment",
        Some(code),
        json!({ "reference": initiated.reference }),
    )
    .await;
    Ok(TestPayment {
        provider: provider.code,
        reference: initiated.reference,
        amount: TEST_PAYMENT_AMOUNT,
        currency: initiated.currency,
        status: initiated.status,
        qr_code: initiated.qr_code.map(|q| q.data),
        checkout_url: initiated.checkout_urls.first().map(|l| l.url.clone()),
        checkout_urls: initiated.checkout_urls,
        expires_at: initiated.expiration,
    })
}
