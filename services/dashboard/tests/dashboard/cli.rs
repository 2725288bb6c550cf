//! The CLI actions: output for humans, same effects and checks as the API.

use nexpay_dashboard::cli::{self, CliError};
use nexpay_dashboard::AdminError;
use nexpay_security::{hash_api_key, verify_password, KeyKind, KeyMode};
use nexpay_store::testing::TestDb;

use crate::common::*;

both_backends!(cli_projects, cli_keys, cli_admin_reset_password);

fn text(out: &mut Vec<u8>) -> String {
    let s = String::from_utf8(out.clone()).unwrap();
    out.clear();
    s
}

async fn cli_projects(db: TestDb) {
    let ctx = Ctx::new(db);
    let (store, config, mut out) = (ctx.store(), &ctx.state.config, Vec::new());
    let p = cli::project_create(
        store,
        config,
        "Shop",
        Some("https://shop.example/ok"),
        None,
        Some("https://shop.example/ko"),
        &mut out,
    )
    .await
    .unwrap();
    assert_eq!(text(&mut out), format!("Created project Shop ({})\n", p.id));
    let row = store.get_project(&p.id).await.unwrap().unwrap();
    assert_eq!(row.success_url.as_deref(), Some("https://shop.example/ok"));
    assert_eq!(row.failure_url.as_deref(), Some("https://shop.example/ko"));
    assert_eq!(row.cancel_url, None);

    // Same validation as the API.
    let err = cli::project_create(
        store,
        config,
        "Shop",
        Some("shop.example/ok"),
        None,
        None,
        &mut out,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, CliError::Admin(AdminError::Validation(_))),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("successUrl: "), "{err}");
    let err = cli::project_create(store, config, "", None, None, None, &mut out)
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("name: "), "{err}");
    assert!(out.is_empty());

    nexpay_dashboard::bootstrap::bootstrap(store, config)
        .await
        .unwrap();
    let list = cli::project_list(store, &mut out).await.unwrap();
    assert_eq!(list.len(), 2);
    let printed = text(&mut out);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 3, "{printed}");
    assert!(lines[0].starts_with("ID") && lines[0].ends_with("NAME"));
    assert!(lines[1].contains(&p.id) && lines[1].contains("active") && lines[1].ends_with("Shop"));
    assert!(
        lines[2].contains("yes") && lines[2].ends_with("Default project"),
        "{printed}"
    );
    let audit = store.list_audit(10).await.unwrap();
    assert!(audit
        .iter()
        .any(|a| a.actor == "cli" && a.action == "project.create"));
    ctx.finish().await;
}

async fn cli_keys(db: TestDb) {
    let ctx = Ctx::new(db);
    let (store, config, mut out) = (ctx.store(), &ctx.state.config, Vec::new());
    let p = cli::project_create(store, config, "Shop", None, None, None, &mut out)
        .await
        .unwrap();
    let other = cli::project_create(store, config, "Other", None, None, None, &mut out)
        .await
        .unwrap();
    out.clear();

    let key = cli::keys_create(
        store,
        &p.id,
        KeyKind::Write,
        KeyMode::Live,
        Some("server"),
        &mut out,
    )
    .await
    .unwrap();
    let printed = text(&mut out);
    assert_eq!(
        printed.matches(key.key.expose()).count(),
        1,
        "printed once: {printed}"
    );
    assert!(
        printed.contains("live write key") && printed.contains("only this once"),
        "{printed}"
    );
    assert!(store
        .find_key_by_hash(&hash_api_key(key.key.expose()))
        .await
        .unwrap()
        .is_some());

    cli::keys_list(store, &p.id, &mut out).await.unwrap();
    let printed = text(&mut out);
    assert!(
        printed.contains(&key.prefix) && printed.contains("active") && printed.contains("server"),
        "{printed}"
    );
    assert!(!printed.contains(key.key.expose()), "{printed}");

    let rotation = cli::keys_rotate(store, &p.id, &key.id, Some(600), &mut out)
        .await
        .unwrap();
    let printed = text(&mut out);
    assert!(printed.contains(rotation.new_key.key.expose()), "{printed}");
    assert!(
        printed.contains(&format!("The old key {} keeps working until", key.id)),
        "{printed}"
    );
    assert!(store
        .get_api_key(&key.id)
        .await
        .unwrap()
        .unwrap()
        .expires_at
        .is_some());
    assert_eq!(
        (rotation.new_key.kind, rotation.new_key.mode),
        (KeyKind::Write, KeyMode::Live)
    );

    let revoked = cli::keys_revoke(store, &p.id, &rotation.new_key.id, &mut out)
        .await
        .unwrap();
    assert_eq!(
        text(&mut out),
        format!("Revoked key {} ({}).\n", revoked.id, revoked.prefix)
    );
    assert!(store
        .get_api_key(&rotation.new_key.id)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());

    // Another project's key is not found, as in the API.
    let err = cli::keys_revoke(store, &other.id, &key.id, &mut out)
        .await
        .unwrap_err();
    assert!(
        matches!(err, CliError::Admin(AdminError::NotFound(_))),
        "{err:?}"
    );
    let err = cli::keys_rotate(store, &p.id, &key.id, Some(31 * 86_400), &mut out)
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("graceSeconds: "), "{err}");
    let audit = store.list_audit(20).await.unwrap();
    for action in ["key.create", "key.rotate", "key.revoke"] {
        assert!(
            audit.iter().any(|a| a.actor == "cli" && a.action == action),
            "{action}"
        );
    }
    ctx.finish().await;
}

async fn cli_admin_reset_password(db: TestDb) {
    let ctx = Ctx::new(db);
    let (store, mut out) = (ctx.store(), Vec::new());
    let (user, token) = ctx.admin().await;

    let view = cli::admin_reset_password(store, "OPS@example.com", None, &mut out)
        .await
        .unwrap();
    assert_eq!(view.id, user.id);
    let printed = text(&mut out);
    let password = printed
        .lines()
        .find_map(|l| l.strip_prefix("New password (shown only this once): "))
        .unwrap()
        .to_owned();
    assert!(nexpay_security::check_password_strength(&password).is_ok());
    let after = store.get_user(&user.id).await.unwrap().unwrap();
    assert!(verify_password(&password, &after.password_hash));
    assert!(after.must_change_password);
    assert!(
        after.session_version > user.session_version,
        "old sessions revoked"
    );
    let app = app!(ctx.state);
    let (status, _, _) = send(
        &app,
        request("GET", "/admin/api/v1/auth/me", Some(&token), None).to_request(),
    )
    .await;
    assert_eq!(status, actix_web::http::StatusCode::UNAUTHORIZED);

    // A chosen password is checked and not printed.
    let err = cli::admin_reset_password(store, "ops@example.com", Some("weak".into()), &mut out)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("at least 12 characters"), "{err}");
    cli::admin_reset_password(
        store,
        "ops@example.com",
        Some(STRONG_PASSWORD.into()),
        &mut out,
    )
    .await
    .unwrap();
    assert!(!text(&mut out).contains(STRONG_PASSWORD));
    let err = cli::admin_reset_password(store, "nobody@example.com", None, &mut out)
        .await
        .unwrap_err();
    assert!(
        matches!(err, CliError::Admin(AdminError::NotFound(_))),
        "{err:?}"
    );
    assert_eq!(
        store
            .list_audit(10)
            .await
            .unwrap()
            .iter()
            .filter(|a| a.action == "user.reset_password")
            .count(),
        2
    );
    ctx.finish().await;
}
