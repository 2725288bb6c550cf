//! Payment providers of the instance: listing and switching them on or off. Their
//! credentials are sealed in the store and never leave it through this module.

use nexpay_store::{ProviderRow, Store};
use serde::Serialize;
use serde_json::json;

use crate::audit;
use crate::error::{AdminError, AdminResult};

/// The providers every instance knows: (code, name, logo).
pub const BUILT_IN: &[(&str, &str, &str)] = &[
    ("wave", "Wave", "/static/providers/wave.svg"),
    ("om", "Orange Money", "/static/providers/om.svg"),
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderView {
    pub code: String,
    pub name: String,
    pub enabled: bool,
    pub logo_url: String,
}

impl From<ProviderRow> for ProviderView {
    fn from(p: ProviderRow) -> Self {
        ProviderView {
            code: p.code,
            name: p.name,
            enabled: p.enabled,
            logo_url: p.logo_url,
        }
    }
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

pub async fn list_providers(store: &Store) -> AdminResult<Vec<ProviderView>> {
    Ok(store
        .list_providers()
        .await?
        .into_iter()
        .map(ProviderView::from)
        .collect())
}

pub async fn set_provider_enabled(
    store: &Store,
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
    let providers = store.list_providers().await?;
    let row = providers.into_iter().find(|p| p.code == code);
    row.map(ProviderView::from)
        .ok_or(AdminError::NotFound("provider"))
}
