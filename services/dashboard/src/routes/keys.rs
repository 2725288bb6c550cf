//! `/projects/{id}/keys`: create, list, rotate, revoke. The full key appears in the
//! answer to create and rotate only, marked `no-store` so no cache keeps it.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{AdminError, AdminResult};
use crate::keys::{self, CreatedKey};
use crate::session::Admin;
use crate::DashboardState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBody {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    label: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RotateBody {
    #[serde(default)]
    grace_seconds: Option<i64>,
}

/// The one place a full key is written into a response.
fn created_json(k: &CreatedKey) -> Value {
    json!({
        "id": k.id,
        "key": k.key.expose(),
        "prefix": k.prefix,
        "kind": k.kind.as_str(),
        "mode": k.mode.as_str(),
        "label": k.label,
        "createdAt": k.created_at,
    })
}

fn shown_once(body: Value) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

pub(crate) async fn create(
    state: web::Data<DashboardState>,
    Admin(user): Admin,
    project_id: web::Path<String>,
    body: web::Json<CreateBody>,
) -> AdminResult<HttpResponse> {
    let kind = keys::parse_kind(body.kind.as_deref().unwrap_or_default());
    let mode = keys::parse_mode(body.mode.as_deref().unwrap_or_default());
    let (kind, mode) = match (kind, mode) {
        (Ok(kind), Ok(mode)) => (kind, mode),
        (kind, mode) => {
            let issues = [kind.err(), mode.err()].into_iter().flatten();
            let issues = issues.flat_map(|e| e.details().to_vec()).collect();
            return Err(AdminError::Validation(issues));
        }
    };
    let label = body.label.as_deref();
    let key = keys::create_key(&state.store, &user.id, &project_id, kind, mode, label).await?;
    Ok(shown_once(created_json(&key)))
}

pub(crate) async fn list(
    state: web::Data<DashboardState>,
    _admin: Admin,
    project_id: web::Path<String>,
) -> AdminResult<HttpResponse> {
    let list = keys::list_keys(&state.store, &project_id).await?;
    Ok(HttpResponse::Ok().json(json!({ "data": list })))
}

/// The body is optional (all defaults), so it is parsed by hand: an absent body is
/// fine, a malformed one is still an error rather than silently ignored.
pub(crate) async fn rotate(
    state: web::Data<DashboardState>,
    Admin(user): Admin,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> AdminResult<HttpResponse> {
    let body: RotateBody = if body.iter().all(u8::is_ascii_whitespace) {
        RotateBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| AdminError::BadRequest(format!("invalid JSON body: {e}")))?
    };
    let (project_id, key_id) = path.into_inner();
    let rotation = keys::rotate_key_with_cache(
        &state.store,
        state.cache(),
        &user.id,
        &project_id,
        &key_id,
        body.grace_seconds,
    )
    .await?;
    let mut answer = created_json(&rotation.new_key);
    answer["previousKey"] = json!(rotation.old_key);
    Ok(shown_once(answer))
}

pub(crate) async fn revoke(
    state: web::Data<DashboardState>,
    Admin(user): Admin,
    path: web::Path<(String, String)>,
) -> AdminResult<HttpResponse> {
    let (project_id, key_id) = path.into_inner();
    let key =
        keys::revoke_key_with_cache(&state.store, state.cache(), &user.id, &project_id, &key_id)
            .await?;
    Ok(HttpResponse::Ok().json(key))
}
