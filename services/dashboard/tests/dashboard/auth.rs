//! Login, the session cookie and the password-change gate.

use actix_web::http::StatusCode;
use nexpay_store::testing::TestDb;
use serde_json::json;

use crate::common::*;

both_backends!(
    login_returns_a_session_and_a_strict_cookie,
    login_never_reveals_whether_an_email_exists,
    password_change_is_required_first,
    production_cookie_is_secure_and_urls_need_https,
);

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
async fn production_cookie_is_secure_and_urls_need_https(db: TestDb) {
    let ctx = Ctx::with_config(
        db,
        &[
            ("NEXPAY_ENV", "production"),
            (
                "ENCRYPTION_KEY",
                "q83vEi7XnA8pG1bX0mD5yR2wL4kT9cZ6uH3sJ7fN1eQ=",
            ),
            (
                "WEBHOOK_SECRETS_KEY",
                "Zk3mP0qR8sT2uV6wX1yA5bC9dE4fG7hJ2kL6nM0pQ3s=",
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
