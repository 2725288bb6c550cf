//! Login, sessions, the password-change gate and the error envelope.

use actix_web::http::StatusCode;
use nexpay_store::testing::TestDb;
use serde_json::json;

use crate::common::*;

both_backends!(
    every_route_refuses_missing_tampered_and_stale_tokens,
    login_returns_a_session_and_a_strict_cookie,
    login_never_reveals_whether_an_email_exists,
    password_change_is_required_first,
    disabled_users_cannot_sign_in,
    request_id_is_echoed_in_errors,
    production_cookie_is_secure_and_urls_need_https,
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

fn login_req(email: &str, password: &str) -> actix_web::test::TestRequest {
    request(
        "POST",
        "/admin/api/v1/auth/login",
        None,
        Some(json!({"email": email, "password": password})),
    )
}

fn cookie_of(headers: &actix_web::http::header::HeaderMap) -> String {
    headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

async fn login_returns_a_session_and_a_strict_cookie(db: TestDb) {
    let ctx = Ctx::new(db);
    nexpay_dashboard::bootstrap::bootstrap(ctx.store(), &ctx.state.config)
        .await
        .unwrap();
    let app = app!(ctx.state);
    // Email matching ignores case and surrounding spaces.
    let (status, headers, body) = send(
        &app,
        login_req(" ADMIN@example.com ", ADMIN_PASSWORD).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["mustChangePassword"], true);
    assert_eq!(body["user"]["email"], ADMIN_EMAIL);
    assert_eq!(body["user"]["role"], "admin");
    assert!(body["user"]["id"].as_str().unwrap().starts_with("usr_"));
    assert_eq!(
        body["user"].as_object().unwrap().len(),
        3,
        "only id, email, role: {body}"
    );
    assert!(
        !body.to_string().contains("argon2"),
        "no hash in answers: {body}"
    );
    let token = body["token"].as_str().unwrap().to_owned();

    let cookie = cookie_of(&headers);
    assert!(
        cookie.starts_with(&format!("nexpay_admin={token};")),
        "{cookie}"
    );
    for attr in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/admin",
        "Max-Age=43200",
    ] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    assert!(
        !cookie.contains("Secure"),
        "no Secure outside production: {cookie}"
    );
    assert_eq!(headers.get("cache-control").unwrap(), "no-store");

    // The claims carry 12 hours and the current session version.
    let claims = ctx
        .state
        .signer
        .verify(&token, chrono::Utc::now().timestamp())
        .unwrap();
    assert_eq!(claims.exp - claims.iat, 12 * 3600);
    assert_eq!(claims.ver, 1);

    // The cookie alone authenticates too.
    let req = request("GET", "/admin/api/v1/auth/me", None, None)
        .insert_header(("Cookie", format!("theme=dark; nexpay_admin={token}")))
        .to_request();
    let (status, _, me) = send(&app, req).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["user"]["email"], ADMIN_EMAIL);
    assert_eq!(me["mustChangePassword"], true);

    // Logout clears the cookie.
    let (status, headers, _) = send(
        &app,
        request("POST", "/admin/api/v1/auth/logout", Some(&token), None).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(cookie_of(&headers).starts_with("nexpay_admin=; "));
    ctx.finish().await;
}

async fn login_never_reveals_whether_an_email_exists(db: TestDb) {
    let ctx = Ctx::new(db);
    nexpay_dashboard::bootstrap::bootstrap(ctx.store(), &ctx.state.config)
        .await
        .unwrap();
    let app = app!(ctx.state);
    let (s1, h1, wrong_password) = send(
        &app,
        login_req(ADMIN_EMAIL, "Wrong-Password-123").to_request(),
    )
    .await;
    let (s2, h2, unknown_email) = send(
        &app,
        login_req("nobody@example.com", "Wrong-Password-123").to_request(),
    )
    .await;
    let (s3, _, empty) = send(&app, login_req("", "").to_request()).await;
    for (status, body) in [(s1, &wrong_password), (s2, &unknown_email), (s3, &empty)] {
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(assert_envelope(status, body), "unauthorized");
    }
    assert_eq!(wrong_password["message"], unknown_email["message"]);
    assert_eq!(wrong_password["message"], "invalid email or password");
    assert!(h1.get("set-cookie").is_none() && h2.get("set-cookie").is_none());
    ctx.finish().await;
}

async fn password_change_is_required_first(db: TestDb) {
    let ctx = Ctx::new(db);
    nexpay_dashboard::bootstrap::bootstrap(ctx.store(), &ctx.state.config)
        .await
        .unwrap();
    let app = app!(ctx.state);
    let (_, _, body) = send(&app, login_req(ADMIN_EMAIL, ADMIN_PASSWORD).to_request()).await;
    let token = body["token"].as_str().unwrap().to_owned();

    for (method, path) in [
        ("GET", "/admin/api/v1/projects"),
        ("GET", "/admin/api/v1/providers"),
        ("POST", "/admin/api/v1/projects"),
    ] {
        let (status, _, body) = send(
            &app,
            request(method, path, Some(&token), Some(json!({"name": "x"}))).to_request(),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(assert_envelope(status, &body), "password_change_required");
    }
    assert_eq!(
        ctx.store().list_projects(true).await.unwrap().len(),
        1,
        "the refused POST created nothing"
    );
    let (status, _, _) = send(
        &app,
        request("GET", "/admin/api/v1/auth/me", Some(&token), None).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let change = |current: &str, new: &str| {
        request(
            "POST",
            "/admin/api/v1/auth/change-password",
            Some(&token),
            Some(json!({"currentPassword": current, "newPassword": new})),
        )
        .to_request()
    };
    let (status, _, body) = send(&app, change(ADMIN_PASSWORD, "short")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(assert_envelope(status, &body), "validation_error");
    assert_eq!(body["error"]["details"][0]["field"], "newPassword");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("at least 12 characters"),
        "the rule is spelled out: {body}"
    );
    let (status, _, body) = send(&app, change("Not-The-Password-1", STRONG_PASSWORD)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["details"][0]["field"], "currentPassword");
    let (status, _, body) = send(&app, change(ADMIN_PASSWORD, ADMIN_PASSWORD)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let (status, headers, body) = send(&app, change(ADMIN_PASSWORD, STRONG_PASSWORD)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["mustChangePassword"], false);
    assert!(headers.get("set-cookie").is_some());
    let fresh = body["token"].as_str().unwrap().to_owned();

    // The old token died with the change; the fresh one opens every route.
    let (status, _, _) = send(
        &app,
        request("GET", "/admin/api/v1/auth/me", Some(&token), None).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = send(
        &app,
        request("GET", "/admin/api/v1/projects", Some(&fresh), None).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = send(&app, login_req(ADMIN_EMAIL, ADMIN_PASSWORD).to_request()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = send(&app, login_req(ADMIN_EMAIL, STRONG_PASSWORD).to_request()).await;
    assert_eq!(status, StatusCode::OK);

    let audit = ctx.store().list_audit(50).await.unwrap();
    assert!(audit.iter().any(|a| a.action == "user.change_password"));
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

async fn production_cookie_is_secure_and_urls_need_https(db: TestDb) {
    let ctx = Ctx::with_config(
        db,
        &[
            ("NEXPAY_ENV", "production"),
            (
                "ENCRYPTION_KEY",
                "q83vEi7XnA8pG1bX0mD5yR2wL4kT9cZ6uH3sJ7fN1eQ=",
            ),
            ("ADMIN_PASSWORD", STRONG_PASSWORD),
            ("X_WRITE_KEY", "legacyWriteKey-7f3a9c2e1b5d8f0a"),
            ("X_READ_KEY", "legacyReadKey-2b8e4f6a0c9d1e3f7"),
            ("APP_DOMAIN", "pay.example.com"),
        ],
    );
    let (_, token) = ctx.admin().await;
    let app = app!(ctx.state);
    let (status, headers, _) = send(
        &app,
        login_req("ops@example.com", STRONG_PASSWORD).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(cookie_of(&headers).ends_with("; Secure"));
    let body = json!({"name": "Shop", "successUrl": "http://shop.example/ok"});
    let (status, _, body) = send(
        &app,
        request("POST", "/admin/api/v1/projects", Some(&token), Some(body)).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["details"][0]["field"], "successUrl");
    let body = json!({"name": "Shop", "successUrl": "https://shop.example/ok"});
    let (status, _, _) = send(
        &app,
        request("POST", "/admin/api/v1/projects", Some(&token), Some(body)).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    ctx.finish().await;
}
