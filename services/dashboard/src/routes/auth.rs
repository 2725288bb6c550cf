//! `/auth/*`: login, the signed-in user, password change and logout.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::accounts::{self, Session, UserView};
use crate::error::AdminResult;
use crate::session::{clear_cookie, set_cookie, Admin};
use crate::DashboardState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginBody {
    email: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ChangePasswordBody {
    current_password: String,
    new_password: String,
}

/// The token goes both in the body (for API clients) and in an HttpOnly cookie (for the
/// browser UI, where scripts then never hold it).
fn session_response(state: &DashboardState, session: &Session) -> HttpResponse {
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CACHE_CONTROL, "no-store"));
    set_cookie(&mut res, &session.token, state.config.is_production());
    res.json(json!({
        "token": session.token,
        "mustChangePassword": session.user.must_change_password,
        "user": UserView::from(&session.user),
    }))
}

pub(crate) async fn login(
    state: web::Data<DashboardState>,
    body: web::Json<LoginBody>,
) -> AdminResult<HttpResponse> {
    let session = accounts::login(&state.store, &state.signer, &body.email, &body.password).await?;
    tracing::info!(user = %session.user.id, "admin signed in");
    Ok(session_response(&state, &session))
}

pub(crate) async fn me(Admin(user): Admin) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "user": UserView::from(&user),
        "mustChangePassword": user.must_change_password,
    }))
}

pub(crate) async fn change_password(
    state: web::Data<DashboardState>,
    Admin(user): Admin,
    body: web::Json<ChangePasswordBody>,
) -> AdminResult<HttpResponse> {
    let session = accounts::change_password(
        &state.store,
        &state.signer,
        &user,
        &body.current_password,
        &body.new_password,
    )
    .await?;
    Ok(session_response(&state, &session))
}

/// Removes the browser's cookie. Tokens are stateless: changing the password is what
/// revokes every session at once.
pub(crate) async fn logout(state: web::Data<DashboardState>, _admin: Admin) -> HttpResponse {
    let mut res = HttpResponse::NoContent();
    clear_cookie(&mut res, state.config.is_production());
    res.finish()
}
