//! Audit trail of admin mutations. Details carry names, prefixes and flags, never a
//! secret (no key, password or hash).

use nexpay_domain::{base32_lower, random_bytes};
use nexpay_store::{AuditRow, Store};
use serde_json::Value;

/// Who did it: a user id for the HTTP API, fixed names for the other entry points.
pub const ACTOR_CLI: &str = "cli";
pub const ACTOR_SYSTEM: &str = "system";

/// Records one mutation. The change it describes is already committed (the store has no
/// shared transaction for both), so a failed audit write is logged loudly but does not
/// turn a done action into an error: failing here would, for instance, lose a key that
/// is only shown once.
pub(crate) async fn record(
    store: &Store,
    actor: &str,
    action: &str,
    target: Option<&str>,
    detail: Value,
) {
    let row = AuditRow {
        id: format!("aud_{}", base32_lower(&random_bytes::<16>())),
        actor: actor.to_owned(),
        action: action.to_owned(),
        target: target.map(str::to_owned),
        detail: detail.to_string(),
        created_at: nexpay_store::now(),
    };
    if let Err(e) = store.insert_audit(&row).await {
        tracing::error!(%actor, %action, ?target, error = %e, "could not write the audit log");
    }
}
