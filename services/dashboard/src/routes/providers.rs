//! `/providers`: list and switch on or off. No credentials in any answer.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::error::AdminResult;
use crate::providers;
use crate::session::Admin;
use crate::DashboardState;

pub(crate) async fn list(
    state: web::Data<DashboardState>,
    _admin: Admin,
) -> AdminResult<HttpResponse> {
    let list = providers::list_providers(&state.store).await?;
    Ok(HttpResponse::Ok().json(json!({ "data": list })))
}

pub(crate) async fn enable(
    state: web::Data<DashboardState>,
    Admin(user): Admin,
    code: web::Path<String>,
) -> AdminResult<HttpResponse> {
    let p = providers::set_provider_enabled(&state.store, &user.id, &code, true).await?;
    Ok(HttpResponse::Ok().json(p))
}

pub(crate) async fn disable(
    state: web::Data<DashboardState>,
    Admin(user): Admin,
    code: web::Path<String>,
) -> AdminResult<HttpResponse> {
    let p = providers::set_provider_enabled(&state.store, &user.id, &code, false).await?;
    Ok(HttpResponse::Ok().json(p))
}
