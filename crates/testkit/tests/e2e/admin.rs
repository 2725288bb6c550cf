//! Admin API smoke test through the same app, and its keys used on the merchant API.

use crate::support::*;
use reqwest::Method;
use serde_json::json;

e2e!(admin_flow_to_merchant_api, |app| {
    // Anonymous and wrong credentials.
    let r = admin(app, Method::GET, "/projects", None, None).await;
    assert_error(&r, 401, "unauthorized");
    let r = admin(
        app,
        Method::POST,
        "/auth/login",
        None,
        Some(json!({"email": app.admin_email, "password": "Wrong-passw0rd-xyz"})),
    )
    .await;
    assert_error(&r, 401, "unauthorized");

    // First login: the password must be changed before anything else.
    let login = admin(
        app,
        Method::POST,
        "/auth/login",
        None,
        Some(json!({"email": app.admin_email, "password": app.admin_password})),
    )
    .await;
    assert_eq!(login.status, 200, "{}", login.text);
    assert_eq!(login.json["mustChangePassword"], json!(true));
    assert!(
        login.json.get("password_hash").is_none() && !login.text.contains("argon2"),
        "{}",
        login.text
    );
    let first = login.json["token"].as_str().unwrap().to_owned();
    let me = admin(app, Method::GET, "/auth/me", Some(&first), None).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json["mustChangePassword"], json!(true));
    for (method, path) in [
        (Method::GET, "/projects"),
        (Method::POST, "/projects"),
        (Method::GET, "/providers"),
    ] {
        let body = (method == Method::POST).then(|| json!({"name": "Too early"}));
        let r = admin(app, method, path, Some(&first), body).await;
        assert_error(&r, 403, "password_change_required");
    }
    let weak = admin(
        app,
        Method::POST,
        "/auth/change-password",
        Some(&first),
        Some(json!({"currentPassword": app.admin_password, "newPassword": "short"})),
    )
    .await;
    assert_error(&weak, 400, "validation_error");

    let changed = admin(
        app,
        Method::POST,
        "/auth/change-password",
        Some(&first),
        Some(json!({"currentPassword": app.admin_password, "newPassword": NEW_ADMIN_PASSWORD})),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(changed.json["mustChangePassword"], json!(false));
    let token = changed.json["token"].as_str().unwrap().to_owned();
    let r = admin(app, Method::GET, "/projects", Some(&first), None).await;
    assert_error(&r, 401, "unauthorized");
    let old = admin(
        app,
        Method::POST,
        "/auth/login",
        None,
        Some(json!({"email": app.admin_email, "password": app.admin_password})),
    )
    .await;
    assert_error(&old, 401, "unauthorized");

    // Projects and keys.
    let list = admin(app, Method::GET, "/projects", Some(&token), None).await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert!(list.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["id"] == json!(app.project_id)));
    let project = admin(
        app,
        Method::POST,
        "/projects",
        Some(&token),
        Some(json!({"name": "Second shop", "successUrl": "https://second.example/ok"})),
    )
    .await;
    assert_eq!(project.status, 201, "{}", project.text);
    let project_id = project.json["id"].as_str().unwrap().to_owned();
    assert_ne!(project_id, app.project_id);
    let bad = admin(
        app,
        Method::POST,
        &format!("/projects/{project_id}/keys"),
        Some(&token),
        Some(json!({"kind": "admin", "mode": "test"})),
    )
    .await;
    assert_error(&bad, 400, "validation_error");
    let key = admin(
        app,
        Method::POST,
        &format!("/projects/{project_id}/keys"),
        Some(&token),
        Some(json!({"kind": "write", "mode": "test", "label": "e2e"})),
    )
    .await;
    assert_eq!(key.status, 201, "{}", key.text);
    assert_eq!(key.header("cache-control"), Some("no-store"));
    let write_key = key.json["key"].as_str().unwrap().to_owned();
    let key_id = key.json["id"].as_str().unwrap().to_owned();
    let listed = admin(
        app,
        Method::GET,
        &format!("/projects/{project_id}/keys"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(listed.status, 200);
    assert!(
        !listed.text.contains(&write_key),
        "listing never shows a full key"
    );

    // The new key works on the merchant API, for its own project only.
    let r = post(app, SESSION, Some(&write_key), &session_body(), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.data()["sessionId"].as_str().unwrap().to_owned();
    let mine = get(app, &session_path(&id), Some(&write_key)).await;
    assert_eq!(mine.status, 200, "{}", mine.text);
    assert_eq!(mine.data()["status"], json!("opened"));
    for key in [&app.read_key, &app.write_key] {
        assert_error(
            &get(app, &session_path(&id), Some(key)).await,
            404,
            "not_found",
        );
    }
    assert_eq!(
        app.store.count_payments(&project_id, "test").await.unwrap(),
        1
    );
    assert_eq!(count(app).await, 0, "nothing in the default project");

    // Providers can be switched off from the admin API.
    let off = admin(
        app,
        Method::POST,
        "/providers/om/disable",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(off.status, 200, "{}", off.text);
    let r = post(app, PAYMENT, Some(&write_key), &payment_body("om"), &[]).await;
    assert_error(&r, 422, "provider_unavailable");
    let on = admin(
        app,
        Method::POST,
        "/providers/om/enable",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(on.status, 200, "{}", on.text);
    let r = post(app, PAYMENT, Some(&write_key), &payment_body("om"), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Revoking through the admin API takes effect at once.
    let revoked = admin(
        app,
        Method::POST,
        &format!("/projects/{project_id}/keys/{key_id}/revoke"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    assert_error(
        &post(app, SESSION, Some(&write_key), &session_body(), &[]).await,
        401,
        "invalid_api_key",
    );

    // Archiving a project revokes the rest of its keys.
    let (_, read_key) = insert_key(app, &project_id, "read", "test", None).await;
    assert_eq!(
        get(app, &session_path(&id), Some(&read_key)).await.status,
        200
    );
    let archived = admin(
        app,
        Method::DELETE,
        &format!("/projects/{project_id}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(archived.status, 200, "{}", archived.text);
    assert_error(
        &get(app, &session_path(&id), Some(&read_key)).await,
        401,
        "invalid_api_key",
    );
});

e2e!(admin_token_helper_and_logout, |app| {
    let token = admin_token(app).await;
    let r = admin(app, Method::GET, "/providers", Some(&token), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let codes: Vec<&str> = r.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["code"].as_str())
        .collect();
    assert!(
        codes.contains(&"wave") && codes.contains(&"om"),
        "{codes:?}"
    );
    assert!(
        !r.text.contains("sealed"),
        "no provider credentials in answers"
    );
    let r = admin(app, Method::GET, "/no-such-route", Some(&token), None).await;
    assert_error(&r, 404, "not_found");
    let out = admin(app, Method::POST, "/auth/logout", Some(&token), None).await;
    assert_eq!(out.status, 204);
    assert!(out
        .header("set-cookie")
        .is_some_and(|c| c.contains("Max-Age=0")));
});
