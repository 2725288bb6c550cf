#![forbid(unsafe_code)]
//! provider-adapter: the only service that talks to providers. It serves the
//! `provider-adapter.commands` queue (open a checkout, check a status, expire a
//! checkout, seal a provider configuration) with one connector per provider and mode,
//! and receives the providers' webhooks on `/api/v1/webhook/{code}` ([`inbox`]). It is
//! the only service that holds `ENCRYPTION_KEY`.

pub mod inbox;
pub mod live;
mod tokens;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use nexpay_bus::{Bus, BusError, ConsumerHandle, ConsumerOptions, Envelope, Handler, HandlerError};
use nexpay_contracts::{
    kinds, queues, sandbox, CreateCheckout, ExpireCheckout, FetchStatus, SealProviderConfig,
    SealedProviderConfig,
};
use nexpay_providers::{
    Connector, ConnectorError, OrangeMoneyConfig, OrangeMoneyConnector, TokenCache, WaveConfig,
    WaveConnector, WaveWebhookAuth,
};

use nexpay_security::Keyring;
use nexpay_store::ProviderConfigDoc;

pub use inbox::{WebhookInbox, WebhookProcessor};
pub use tokens::SharedTokenCache;

/// The live connectors of the instance, built from the configuration the admin saved.
#[async_trait]
pub trait LiveSource: Send + Sync + 'static {
    async fn get(&self, code: &str) -> Option<Arc<dyn Connector>>;
}

/// Connectors by mode and provider code. Test mode always goes to the simulators,
/// whatever the live configuration; live mode asks the [`LiveSource`].
#[derive(Clone, Default)]
pub struct Connectors {
    test: HashMap<String, Arc<dyn Connector>>,
    live: Option<Arc<dyn LiveSource>>,
}

impl Connectors {
    /// Test-mode connectors: the real Wave and Orange Money connectors, pointed at the
    /// simulators under `sandbox_base` with the simulators' credentials; Orange Money
    /// notifications are asked for at `callback_base` + `/api/v1/webhook/om`.
    pub fn test_mode(
        sandbox_base: &str,
        callback_base: &str,
        om_tokens: Arc<dyn TokenCache>,
    ) -> anyhow::Result<Self> {
        let sandbox_base = sandbox_base.trim_end_matches('/');
        let callback_base = callback_base.trim_end_matches('/');
        let mut wave = WaveConfig::new(
            format!("{sandbox_base}{}", sandbox::WAVE_PATH),
            sandbox::WAVE_API_KEY,
        );
        wave.webhook = WaveWebhookAuth::SigningSecret(sandbox::WAVE_WEBHOOK_SECRET.into());
        // The simulator accepts http redirect URLs only on an instance without https.
        wave.allow_http_redirect_urls = true;
        let mut om = OrangeMoneyConfig::new(
            format!("{sandbox_base}{}", sandbox::OM_PATH),
            sandbox::OM_CLIENT_ID,
            sandbox::OM_CLIENT_SECRET,
            sandbox::OM_MERCHANT_CODE,
            sandbox::OM_MERCHANT_NAME,
            sandbox::OM_WEBHOOK_API_KEY,
        );
        om.callback_url = Some(format!("{callback_base}{}", sandbox::OM_WEBHOOK_PATH));
        let mut c = Connectors::default();
        c.insert_test(Arc::new(
            WaveConnector::new(wave).map_err(|e| anyhow::anyhow!("test-mode Wave: {e}"))?,
        ));
        c.insert_test(Arc::new(
            OrangeMoneyConnector::with_token_cache(om, om_tokens)
                .map_err(|e| anyhow::anyhow!("test-mode Orange Money: {e}"))?,
        ));
        Ok(c)
    }

    pub fn with_live(mut self, live: Arc<dyn LiveSource>) -> Self {
        self.live = Some(live);
        self
    }

    pub fn insert_test(&mut self, connector: Arc<dyn Connector>) {
        self.test.insert(connector.code().to_owned(), connector);
    }

    pub async fn get(&self, mode: &str, code: &str) -> Option<Arc<dyn Connector>> {
        match mode {
            "test" => self.test.get(code).cloned(),
            "live" => match &self.live {
                Some(live) => live.get(code).await,
                None => None,
            },
            _ => None,
        }
    }

    /// The connectors that may have sent a webhook of `code`, each with its mode: the
    /// live one first.
    pub async fn for_webhook(&self, code: &str) -> Vec<(&'static str, Arc<dyn Connector>)> {
        let mut out = Vec::with_capacity(2);
        if let Some(c) = self.get("live", code).await {
            out.push(("live", c));
        }
        if let Some(c) = self.test.get(code) {
            out.push(("test", c.clone()));
        }
        out
    }
}

pub struct ProviderAdapter {
    connectors: Connectors,
    /// `ENCRYPTION_KEY`: seals the configurations admins save (the dashboard does not
    /// hold it).
    keyring: Keyring,
}

impl ProviderAdapter {
    pub fn new(connectors: Connectors, keyring: Keyring) -> Self {
        ProviderAdapter {
            connectors,
            keyring,
        }
    }

    pub async fn serve(
        self,
        bus: &dyn Bus,
        opts: ConsumerOptions,
    ) -> Result<ConsumerHandle, BusError> {
        bus.serve(queues::PROVIDERS, Arc::new(self), opts).await
    }

    async fn connector(&self, mode: &str, code: &str) -> Result<Arc<dyn Connector>, HandlerError> {
        self.connectors.get(mode, code).await.ok_or_else(|| {
            HandlerError::rejected(
                422,
                "provider_not_configured",
                format!("{code} has no {mode} credentials configured on this instance"),
            )
        })
    }

    async fn create_checkout(
        &self,
        cmd: CreateCheckout,
    ) -> Result<serde_json::Value, HandlerError> {
        let connector = self.connector(&cmd.mode, &cmd.provider_code).await?;
        let created = connector
            .create_checkout(&cmd)
            .await
            .map_err(connector_error)?;
        serde_json::to_value(created).map_err(|e| HandlerError::Permanent(e.to_string()))
    }

    async fn fetch_status(&self, cmd: FetchStatus) -> Result<serde_json::Value, HandlerError> {
        let connector = self.connector(&cmd.mode, &cmd.provider_code).await?;
        let status = connector
            .fetch_status(
                cmd.provider_id.as_deref().unwrap_or_default(),
                &cmd.provider_reference,
            )
            .await
            .map_err(connector_error)?;
        serde_json::to_value(status).map_err(|e| HandlerError::Permanent(e.to_string()))
    }

    async fn expire(&self, cmd: ExpireCheckout) -> Result<serde_json::Value, HandlerError> {
        let connector = self.connector(&cmd.mode, &cmd.provider_code).await?;
        connector
            .expire(&cmd.provider_id)
            .await
            .map_err(connector_error)?;
        Ok(serde_json::json!({}))
    }

    /// Seals a provider configuration: only a well-formed document of a known provider,
    /// under its own code as associated data.
    fn seal_config(&self, cmd: SealProviderConfig) -> Result<serde_json::Value, HandlerError> {
        let invalid =
            |message: String| HandlerError::rejected(422, "invalid_provider_config", message);
        let doc: ProviderConfigDoc = serde_json::from_value(cmd.config)
            .map_err(|e| invalid(format!("not a provider configuration: {e}")))?;
        if doc.code() != cmd.code {
            return Err(invalid(format!(
                "a {} configuration cannot be sealed for {}",
                doc.code(),
                cmd.code
            )));
        }
        let plaintext =
            serde_json::to_vec(&doc).map_err(|e| HandlerError::Permanent(e.to_string()))?;
        let sealed = self.keyring.seal(&plaintext, doc.code().as_bytes());
        serde_json::to_value(SealedProviderConfig { sealed })
            .map_err(|e| HandlerError::Permanent(e.to_string()))
    }
}

/// Provider errors are answered, not retried here: the caller owns the deadline (and
/// the merchant retries with the same Idempotency-Key).
fn connector_error(e: ConnectorError) -> HandlerError {
    match e {
        ConnectorError::Rejected { code, message, .. } => {
            HandlerError::rejected(502, code, message)
        }
        ConnectorError::Unavailable { provider, message } => HandlerError::rejected(
            503,
            "provider_unavailable",
            format!("{provider}: {message}"),
        ),
        e @ ConnectorError::Unsupported { .. } => {
            HandlerError::rejected(422, "provider_unsupported", e.to_string())
        }
    }
}

#[async_trait]
impl Handler for ProviderAdapter {
    async fn handle(&self, msg: Envelope) -> Result<serde_json::Value, HandlerError> {
        let bad = |e: BusError| HandlerError::Permanent(format!("bad {} message: {e}", msg.kind));
        match msg.kind.as_str() {
            kinds::CREATE_CHECKOUT => self.create_checkout(msg.decode().map_err(bad)?).await,
            kinds::FETCH_STATUS => self.fetch_status(msg.decode().map_err(bad)?).await,
            kinds::EXPIRE_CHECKOUT => self.expire(msg.decode().map_err(bad)?).await,
            kinds::SEAL_PROVIDER_CONFIG => self.seal_config(msg.decode().map_err(bad)?),
            other => Err(HandlerError::Permanent(format!("unknown command {other}"))),
        }
    }
}
