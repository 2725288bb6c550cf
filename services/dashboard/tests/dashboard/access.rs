//! Access control of every admin route and the error envelope.

use actix_web::http::StatusCode;
use nexpay_store::testing::TestDb;
use serde_json::json;

use crate::common::*;

both_backends!(
    every_route_refuses_missing_tampered_and_stale_tokens,
    disabled_users_cannot_sign_in,
    request_id_is_echoed_in_errors,
);

/// Every admin route but login, with real ids so only the session decides.
fn routes(project: &str, key: &str) -> Vec<(&'static str, String)> {
    let p = format!("/admin/api/v1/projects/{project}");
    vec![
        ("GET", "/admin/api/v1/auth/me".into()),
        ("POST", "/admin/api/v1/auth/change-password".into()),
        ("POST", "/admin/api/v1/auth/logout".into()),
        ("GET", "/admin/api/v1/projects".into()),
        ("POST", "/admin/api/v1/projects".into()),
        ("GET", p.clone()),
        ("PATCH", p.clone()),
        ("DELETE", p.clone()),
        ("GET", format!("{p}/keys")),
        ("POST", format!("{p}/keys")),
        ("POST", format!("{p}/keys/{key}/rotate")),
        ("POST", format!("{p}/keys/{key}/revoke")),
        ("DELETE", format!("{p}/keys/{key}")),
        ("GET", "/admin/api/v1/providers".into()),
        ("POST", "/admin/api/v1/providers/wave/enable".into()),
        ("POST", "/admin/api/v1/providers/wave/disable".into()),
        ("GET", "/admin/api/v1/no-such-route".into()),
    ]
}
async fn every_route_refuses_missing_tampered_and_stale_tokens(db: TestDb) {
    let ctx = Ctx::new(db);
    nexpay_dashboard::bootstrap::bootstrap(ctx.store(), &ctx.state.config)
        .await
        .unwrap();
    let app = app!(ctx.state);
    let (user, token) = ctx.admin().await;
    let project = ctx.store().default_project().await.unwrap().unwrap();
    let key = ctx
        .store()
        .list_api_keys(&project.id)
        .await
        .unwrap()
        .remove(0);

    // Tampered: the payload of another user's token with this signature.
    let (payload, signature) = token.split_once('.').unwrap();
    let mut flipped = payload.as_bytes().to_vec();
    flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
    let tampered = format!("{}.{signature}", String::from_utf8(flipped).unwrap());
    let other_secret =
        nexpay_security::SessionTokenSigner::new(b"another secret of thirty-two b!!");
    let foreign = other_secret.sign(
        &user.id,
        chrono::Utc::now().timestamp(),
        3600,
        user.session_version,
    );

    // Stale: issued before a password change.
    let (changed, stale) = ctx
        .user("changed@example.com", STRONG_PASSWORD, false)
        .await;
    let hash = nexpay_security::hash_password("Another-Strong-Pass-1").unwrap();
    ctx.store()
        .set_user_password(&changed.id, &hash, false)
        .await
        .unwrap();

    let body = json!({"name": "x", "currentPassword": "a", "newPassword": "b", "kind": "read", "mode": "test"});
    for (method, path) in routes(&project.id, &key.id) {
        for token in [
            None,
            Some(tampered.as_str()),
            Some(foreign.as_str()),
            Some(stale.as_str()),
            Some("garbage"),
        ] {
            let req = request(method, &path, token, Some(body.clone())).to_request();
            let (status, headers, body) = send(&app, req).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {token:?}: {body}"
            );
            assert_eq!(assert_envelope(status, &body), "unauthorized");
            assert_eq!(headers.get("www-authenticate").unwrap(), "Bearer");
        }
    }
    // The valid token works, so the 401s above came from the token alone.
    let (status, _, _) = send(
        &app,
        request("GET", "/admin/api/v1/projects", Some(&token), None).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Nothing was changed by the refused calls.
    assert_eq!(ctx.store().list_projects(true).await.unwrap().len(), 1);
    assert!(ctx
        .store()
        .get_api_key(&key.id)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_none());
    ctx.finish().await;
}
async fn disabled_users_cannot_sign_in(db: TestDb) {
    let ctx = Ctx::new(db);
    let at = nexpay_store::now();
    let user = nexpay_store::UserRow {
        id: nexpay_domain::UserId::generate().into_string(),
        email: "gone@example.com".into(),
        password_hash: nexpay_security::hash_password(STRONG_PASSWORD).unwrap(),
        role: "admin".into(),
        must_change_password: false,
        session_version: 1,
        created_at: at,
        updated_at: at,
        disabled_at: Some(at),
    };
    ctx.store().insert_user(&user).await.unwrap();
    let app = app!(ctx.state);
    let (status, _, body) = send(
        &app,
        login_req("gone@example.com", STRONG_PASSWORD).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["message"], "invalid email or password");
    let token = ctx.token_for(&user);
    let (status, _, _) = send(
        &app,
        request("GET", "/admin/api/v1/auth/me", Some(&token), None).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    ctx.finish().await;
}
async fn request_id_is_echoed_in_errors(db: TestDb) {
    let ctx = Ctx::new(db);
    let app = app!(ctx.state);
    let req = request("GET", "/admin/api/v1/projects", None, None)
        .insert_header(("x-request-id", "req-abc.123"))
        .to_request();
    let (status, headers, body) = send(&app, req).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["requestId"], "req-abc.123");
    assert_eq!(headers.get("x-request-id").unwrap(), "req-abc.123");
    // A hostile id is replaced by a generated one.
    let req = request("GET", "/admin/api/v1/projects", None, None)
        .insert_header(("x-request-id", "a b<script>"))
        .to_request();
    let (_, _, body) = send(&app, req).await;
    assert!(
        body["requestId"].as_str().unwrap().starts_with("req_"),
        "{body}"
    );
    // actix's own errors use the envelope too.
    let (_, token) = ctx.admin().await;
    let (status, _, body) = send(
        &app,
        request("PUT", "/admin/api/v1/projects", Some(&token), None).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(assert_envelope(status, &body), "method_not_allowed");
    let (status, _, body) = send(
        &app,
        request("GET", "/admin/api/v1/nothing-here", Some(&token), None).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(assert_envelope(status, &body), "not_found");
    let req = request("POST", "/admin/api/v1/projects", Some(&token), None)
        .insert_header(("content-type", "application/json"))
        .set_payload("{not json")
        .to_request();
    let (status, _, body) = send(&app, req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(assert_envelope(status, &body), "bad_request");
    ctx.finish().await;
}
