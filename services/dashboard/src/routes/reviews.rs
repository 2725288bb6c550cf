//! `/attempts/flagged` and `/providers/{code}/webhooks`: read-only listings for review.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::providers::no_store;
use crate::error::AdminResult;
use crate::reviews;
use crate::session::Admin;
use crate::DashboardState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Listing {
    limit: Option<i64>,
}

/// `GET /attempts/flagged`: newest first.
pub(crate) async fn flagged(
    state: web::Data<DashboardState>,
    _admin: Admin,
    query: web::Query<Listing>,
) -> AdminResult<HttpResponse> {
    let limit = reviews::limit(query.limit)?;
    let data = reviews::flagged_attempts(&state.store, limit).await?;
    Ok(no_store(serde_json::json!({ "data": data })))
}

/// `GET /providers/{code}/webhooks`: the inbound webhooks of one provider, newest first.
pub(crate) async fn provider_webhooks(
    state: web::Data<DashboardState>,
    _admin: Admin,
    code: web::Path<String>,
    query: web::Query<Listing>,
) -> AdminResult<HttpResponse> {
    let limit = reviews::limit(query.limit)?;
    let data = reviews::provider_webhooks(&state.store, &code, limit).await?;
    Ok(no_store(serde_json::json!({ "data": data })))
}
