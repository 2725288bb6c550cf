#![forbid(unsafe_code)]
//! provider-adapter: the only service that talks to providers. It serves the
//! `provider-adapter.commands` queue with one connector per provider and mode.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use nexpay_bus::{Bus, BusError, ConsumerHandle, ConsumerOptions, Envelope, Handler, HandlerError};
use nexpay_contracts::{kinds, queues, CreateCheckout};
use nexpay_providers::{Connector, ConnectorError, SandboxConnector};

/// Connectors by `(mode, provider code)`. Test mode always goes to the simulators, whatever
/// the live configuration.
#[derive(Clone, Default)]
pub struct Connectors {
    by_key: HashMap<(String, String), Arc<dyn Connector>>,
}

impl Connectors {
    /// Test-mode connectors answered by this instance's own simulators at `public_url`.
    pub fn sandbox(public_url: &str) -> Self {
        let mut c = Connectors::default();
        c.insert("test", Arc::new(SandboxConnector::wave(public_url)));
        c.insert("test", Arc::new(SandboxConnector::orange_money(public_url)));
        c
    }

    pub fn insert(&mut self, mode: &str, connector: Arc<dyn Connector>) {
        self.by_key
            .insert((mode.to_owned(), connector.code().to_owned()), connector);
    }

    pub fn get(&self, mode: &str, code: &str) -> Option<Arc<dyn Connector>> {
        self.by_key
            .get(&(mode.to_owned(), code.to_owned()))
            .cloned()
    }
}

pub struct ProviderAdapter {
    connectors: Connectors,
}

impl ProviderAdapter {
    pub fn new(connectors: Connectors) -> Self {
        ProviderAdapter { connectors }
    }

    pub async fn serve(
        self,
        bus: &dyn Bus,
        opts: ConsumerOptions,
    ) -> Result<ConsumerHandle, BusError> {
        bus.serve(queues::PROVIDERS, Arc::new(self), opts).await
    }

    async fn create_checkout(
        &self,
        cmd: CreateCheckout,
    ) -> Result<serde_json::Value, HandlerError> {
        let Some(connector) = self.connectors.get(&cmd.mode, &cmd.provider_code) else {
            return Err(HandlerError::rejected(
                422,
                "provider_not_configured",
                format!(
                    "{} has no {} credentials configured on this instance",
                    cmd.provider_code, cmd.mode
                ),
            ));
        };
        match connector.create_checkout(&cmd).await {
            Ok(created) => {
                serde_json::to_value(created).map_err(|e| HandlerError::Permanent(e.to_string()))
            }
            Err(ConnectorError::Rejected { code, message, .. }) => {
                Err(HandlerError::rejected(502, code, message))
            }
            // Unavailable is answered, not retried here: the caller owns the deadline and
            // the merchant retries with the same Idempotency-Key.
            Err(ConnectorError::Unavailable { provider, message }) => Err(HandlerError::rejected(
                503,
                "provider_unavailable",
                format!("{provider}: {message}"),
            )),
            Err(e @ ConnectorError::Unsupported { .. }) => Err(HandlerError::rejected(
                422,
                "provider_not_configured",
                e.to_string(),
            )),
        }
    }
}

#[async_trait]
impl Handler for ProviderAdapter {
    async fn handle(&self, msg: Envelope) -> Result<serde_json::Value, HandlerError> {
        match msg.kind.as_str() {
            kinds::CREATE_CHECKOUT => {
                let cmd: CreateCheckout = msg
                    .decode()
                    .map_err(|e| HandlerError::Permanent(e.to_string()))?;
                self.create_checkout(cmd).await
            }
            other => Err(HandlerError::Permanent(format!("unknown command {other}"))),
        }
    }
}
