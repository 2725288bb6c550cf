//! The instance's provider configuration: the row of each provider and the document
//! sealed into `providers.sealed_config`.
//!
//! The dashboard seals a [`ProviderConfigDoc`] (AES-256-GCM, associated data = the
//! provider code) and stores it with a non-secret summary and two flags:
//! `secrets_ok` (every credential the connector needs is there) and `webhook_ok`
//! (inbound notifications can be authenticated). provider-adapter, the only service
//! that opens the document, builds the live connector from it.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};

use crate::db::{read, transaction};
use crate::error::StoreResult;
use crate::models::ProviderRow;
use crate::schema::providers;
use crate::{now, Store};

/// What a save writes: everything but the provider's identity and `enabled`.
pub struct ProviderConfigUpdate<'a> {
    /// `None` removes the configuration.
    pub sealed_config: Option<&'a str>,
    /// Non-secret view (JSON), shown by the admin API.
    pub config_summary: &'a str,
    pub secrets_ok: bool,
    pub webhook_ok: bool,
}

impl Store {
    pub async fn get_provider(&self, code: &str) -> StoreResult<Option<ProviderRow>> {
        read!(self, |c| Ok(providers::table
            .find(code)
            .select(ProviderRow::as_select())
            .get_result(c)
            .await
            .optional()?))
    }

    /// Replaces the provider's configuration. A new configuration has not been tested
    /// yet, so `test_passed_at` is cleared. Returns false when there is no such provider.
    pub async fn save_provider_config(
        &self,
        code: &str,
        update: &ProviderConfigUpdate<'_>,
    ) -> StoreResult<bool> {
        let at = now();
        transaction!(self, |c| {
            let n = diesel::update(providers::table.find(code))
                .set((
                    providers::sealed_config.eq(update.sealed_config),
                    providers::config_summary.eq(update.config_summary),
                    providers::secrets_ok.eq(update.secrets_ok),
                    providers::webhook_ok.eq(update.webhook_ok),
                    providers::test_passed_at.eq(None::<NaiveDateTime>),
                    providers::updated_at.eq(at),
                ))
                .execute(c)
                .await?;
            Ok(n == 1)
        })
    }

    /// Records that the webhook of the configuration sealed as `sealed_config` is set up
    /// (e.g. the Orange Money callback was registered). Applies only while that exact
    /// configuration is still the stored one, so a registration made for a configuration
    /// the admin has since replaced never marks the new one. Returns whether it applied.
    pub async fn mark_provider_webhook_ok(
        &self,
        code: &str,
        sealed_config: &str,
    ) -> StoreResult<bool> {
        transaction!(self, |c| {
            let n = diesel::update(providers::table.find(code))
                .filter(providers::sealed_config.eq(sealed_config))
                .set(providers::webhook_ok.eq(true))
                .execute(c)
                .await?;
            Ok(n == 1)
        })
    }

    /// Records a successful test payment. Returns false when there is no such provider.
    pub async fn mark_provider_test_passed(
        &self,
        code: &str,
        at: NaiveDateTime,
    ) -> StoreResult<bool> {
        transaction!(self, |c| {
            let n = diesel::update(providers::table.find(code))
                .set(providers::test_passed_at.eq(Some(at)))
                .execute(c)
                .await?;
            Ok(n == 1)
        })
    }
}

/// The plaintext of `providers.sealed_config` (JSON), sealed with the provider code as
/// associated data. Secrets are plain strings here: this type never derives `Debug`,
/// and only the dashboard (to seal) and provider-adapter (to open) handle it.
#[derive(Clone, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "snake_case")]
pub enum ProviderConfigDoc {
    Wave(WaveConfigDoc),
    Om(OmConfigDoc),
}

impl ProviderConfigDoc {
    /// `wave` or `om`, also the associated data of the sealed value.
    pub fn code(&self) -> &'static str {
        match self {
            ProviderConfigDoc::Wave(_) => "wave",
            ProviderConfigDoc::Om(_) => "om",
        }
    }

    /// Random id of this saved configuration, also in the summary.
    pub fn version(&self) -> &str {
        match self {
            ProviderConfigDoc::Wave(w) => &w.version,
            ProviderConfigDoc::Om(o) => &o.version,
        }
    }
}

/// Wave Checkout credentials.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WaveConfigDoc {
    pub version: String,
    /// `https://api.wave.com` unless the admin chose another.
    pub base_url: String,
    /// `wave_<cc>_prod_…`.
    pub api_key: String,
    /// `wave_<cc>_AKS_…`, when the API key was created with request signing.
    #[serde(default)]
    pub request_signing_secret: Option<String>,
    /// How Wave's webhooks are authenticated; `None` until configured.
    #[serde(default)]
    pub webhook: Option<WaveWebhookDoc>,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WaveWebhookDoc {
    pub strategy: WaveWebhookStrategy,
    /// `wave_<cc>_WHS_…`.
    pub secret: String,
}

/// The security strategy chosen when the webhook was registered in Wave's portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaveWebhookStrategy {
    /// `Authorization: Bearer <secret>`.
    SharedSecret,
    /// `Wave-Signature: t=…,v1=…` (HMAC-SHA256).
    SigningSecret,
}

impl WaveWebhookStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            WaveWebhookStrategy::SharedSecret => "shared_secret",
            WaveWebhookStrategy::SigningSecret => "signing_secret",
        }
    }
}

/// Orange Money (Sonatel) credentials and merchant account.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OmConfigDoc {
    pub version: String,
    /// `https://api.orange-sonatel.com` unless the admin chose another.
    pub base_url: String,
    /// OAuth token path, `/oauth/v1/token` by default.
    pub token_path: String,
    pub client_id: String,
    pub client_secret: String,
    /// The 6-digit merchant code issued by Sonatel.
    pub merchant_code: String,
    pub merchant_name: String,
    /// The merchant callback; `None` until configured.
    #[serde(default)]
    pub webhook: Option<OmWebhookDoc>,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OmWebhookDoc {
    pub strategy: OmWebhookStrategy,
    /// The callback `apiKey`, sent back by Sonatel as `Authorization: Basic <apiKey>`.
    pub api_key: String,
    /// Endpoint secret issued by Sonatel for `X-Sonatel-Signature`.
    #[serde(default)]
    pub signing_secret: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OmWebhookStrategy {
    /// NexPay generated the apiKey and registers the callback itself (provider-adapter
    /// does it once per saved configuration, then marks the webhook ok).
    Auto,
    /// The admin registered the callback with their own apiKey.
    Manual,
}

impl OmWebhookStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            OmWebhookStrategy::Auto => "auto",
            OmWebhookStrategy::Manual => "manual",
        }
    }
}
