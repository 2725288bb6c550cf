//! `/projects` and `/projects/{id}`.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::error::AdminResult;
use crate::project_input::ProjectInput;
use crate::projects::{self, ARCHIVE_NOTICE};
use crate::session::Admin;
use crate::DashboardState;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListQuery {
    #[serde(default)]
    include_archived: bool,
}

pub(crate) async fn list(
    state: web::Data<DashboardState>,
    _admin: Admin,
    query: web::Query<ListQuery>,
) -> AdminResult<HttpResponse> {
    let list = projects::list_projects(&state.store, query.include_archived).await?;
    Ok(HttpResponse::Ok().json(json!({ "data": list })))
}

pub(crate) async fn create(
    state: web::Data<DashboardState>,
    Admin(user): Admin,
    body: web::Json<ProjectInput>,
) -> AdminResult<HttpResponse> {
    let https = state.config.is_production();
    let project = projects::create_project(&state.store, &user.id, &body, https).await?;
    Ok(HttpResponse::Created().json(project))
}

pub(crate) async fn get(
    state: web::Data<DashboardState>,
    _admin: Admin,
    id: web::Path<String>,
) -> AdminResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(projects::get_project(&state.store, &id).await?))
}

pub(crate) async fn update(
    state: web::Data<DashboardState>,
    Admin(user): Admin,
    id: web::Path<String>,
    body: web::Json<ProjectInput>,
) -> AdminResult<HttpResponse> {
    let https = state.config.is_production();
    let project = projects::update_project(&state.store, &user.id, &id, &body, https).await?;
    Ok(HttpResponse::Ok().json(project))
}

/// DELETE archives: the answer says so, since "deleted" payments would be a lie.
pub(crate) async fn archive(
    state: web::Data<DashboardState>,
    Admin(user): Admin,
    id: web::Path<String>,
) -> AdminResult<HttpResponse> {
    let project =
        projects::archive_project_with_cache(&state.store, state.cache(), &user.id, &id).await?;
    Ok(HttpResponse::Ok().json(json!({
        "archived": true,
        "message": ARCHIVE_NOTICE,
        "project": project,
    })))
}
