//! The start-up bootstrap: once-only admin and default project, legacy keys.

use nexpay_dashboard::bootstrap::{bootstrap, CREDENTIALS_FILE};
use nexpay_security::{hash_api_key, verify_password};
use nexpay_store::testing::TestDb;

use crate::common::*;

both_backends!(
    first_start_creates_admin_project_keys_and_file,
    restart_creates_nothing,
    default_admin_is_never_recreated,
    legacy_env_keys_are_registered_once,
    generated_admin_password_is_shown_once,
);

const WK: &str = "legacyWriteKey-7f3a9c2e1b5d8f0a";
const RK: &str = "legacyReadKey-2b8e4f6a0c9d1e3f7";

async fn first_start_creates_admin_project_keys_and_file(db: TestDb) {
    let ctx = Ctx::new(db);
    let store = ctx.store();
    let first = bootstrap(store, &ctx.state.config)
        .await
        .unwrap()
        .expect("first start");

    let admin = store
        .find_user_by_email(ADMIN_EMAIL)
        .await
        .unwrap()
        .unwrap();
    assert!(admin.must_change_password);
    assert!(admin.password_hash.starts_with("$argon2id$"));
    assert!(verify_password(ADMIN_PASSWORD, &admin.password_hash));
    assert_eq!(first.admin_email, ADMIN_EMAIL);
    assert_eq!(
        first.admin_password, None,
        "a configured password is not repeated"
    );

    let project = store.default_project().await.unwrap().unwrap();
    assert_eq!(project.id, first.project_id.as_str());
    assert_eq!(project.name, "Default project");
    assert!(project.is_default);
    let read = store
        .find_key_by_hash(&hash_api_key(first.read_key.expose()))
        .await
        .unwrap()
        .unwrap();
    let write = store
        .find_key_by_hash(&hash_api_key(first.write_key.expose()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (read.key.kind.as_str(), read.key.mode.as_str()),
        ("read", "test")
    );
    assert_eq!(
        (write.key.kind.as_str(), write.key.mode.as_str()),
        ("write", "test")
    );
    assert_eq!(read.project.id, project.id);
    assert_eq!(store.list_api_keys(&project.id).await.unwrap().len(), 2);

    let codes: Vec<String> = store
        .list_providers()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.code)
        .collect();
    assert_eq!(codes, ["om", "wave"]);

    assert_eq!(
        first.credentials_file,
        ctx.state.config.data_dir.join(CREDENTIALS_FILE)
    );
    let text = std::fs::read_to_string(&first.credentials_file).unwrap();
    assert!(text.contains(first.read_key.expose()) && text.contains(first.write_key.expose()));
    assert!(text.contains(ADMIN_EMAIL) && !text.contains(ADMIN_PASSWORD));
    assert_eq!(text, first.banner());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&first.credentials_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let shown = format!("{first:?}");
    assert!(
        !shown.contains(first.write_key.expose()),
        "Debug hides keys: {shown}"
    );
    ctx.finish().await;
}

async fn restart_creates_nothing(db: TestDb) {
    let ctx = Ctx::new(db);
    let store = ctx.store();
    bootstrap(store, &ctx.state.config).await.unwrap().unwrap();
    let admin = store
        .find_user_by_email(ADMIN_EMAIL)
        .await
        .unwrap()
        .unwrap();
    let audit = store.list_audit(100).await.unwrap().len();
    std::fs::remove_file(ctx.state.config.data_dir.join(CREDENTIALS_FILE)).unwrap();

    for _ in 0..2 {
        assert!(bootstrap(store, &ctx.state.config).await.unwrap().is_none());
    }
    assert_eq!(store.list_projects(true).await.unwrap().len(), 1);
    let project = store.default_project().await.unwrap().unwrap();
    assert_eq!(store.list_api_keys(&project.id).await.unwrap().len(), 2);
    assert_eq!(
        store
            .find_user_by_email(ADMIN_EMAIL)
            .await
            .unwrap()
            .unwrap(),
        admin,
        "admin untouched"
    );
    assert_eq!(store.list_audit(100).await.unwrap().len(), audit);
    assert_eq!(store.list_providers().await.unwrap().len(), 2);
    assert!(!ctx.state.config.data_dir.join(CREDENTIALS_FILE).exists());
    ctx.finish().await;
}

async fn default_admin_is_never_recreated(db: TestDb) {
    let ctx = Ctx::new(db);
    let store = ctx.store();
    bootstrap(store, &ctx.state.config).await.unwrap();
    let admin = store
        .find_user_by_email(ADMIN_EMAIL)
        .await
        .unwrap()
        .unwrap();
    // The admin changed their password: a restart must not reset it.
    let hash = nexpay_security::hash_password(STRONG_PASSWORD).unwrap();
    store
        .set_user_password(&admin.id, &hash, false)
        .await
        .unwrap();
    bootstrap(store, &ctx.state.config).await.unwrap();
    let after = store
        .find_user_by_email(ADMIN_EMAIL)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.password_hash, hash);
    assert!(!after.must_change_password);

    // The account now answers to another address (as after an email change): starting
    // with the configured address no longer matching any user must not create it again.
    let renamed = config_in(&ctx.dir, &[("ADMIN_EMAIL", "new-admin@example.com")]);
    assert!(bootstrap(store, &renamed).await.unwrap().is_none());
    assert!(store
        .find_user_by_email("new-admin@example.com")
        .await
        .unwrap()
        .is_none());

    ctx.finish().await;
}

async fn legacy_env_keys_are_registered_once(db: TestDb) {
    let ctx = Ctx::with_config(db, &[("X_WRITE_KEY", WK), ("X_READ_KEY", RK)]);
    let store = ctx.store();
    bootstrap(store, &ctx.state.config).await.unwrap().unwrap();
    let project = store.default_project().await.unwrap().unwrap();
    let write = store
        .find_key_by_hash(&hash_api_key(WK))
        .await
        .unwrap()
        .unwrap();
    let read = store
        .find_key_by_hash(&hash_api_key(RK))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (write.key.kind.as_str(), write.key.mode.as_str()),
        ("write", "live")
    );
    assert_eq!(
        (read.key.kind.as_str(), read.key.mode.as_str()),
        ("read", "live")
    );
    assert_eq!(write.project.id, project.id);
    assert_eq!(write.key.label.as_deref(), Some("X_WRITE_KEY (legacy)"));
    assert!(
        !write.key.prefix.contains(WK),
        "only a short prefix is kept"
    );
    assert_eq!(store.list_api_keys(&project.id).await.unwrap().len(), 4);

    bootstrap(store, &ctx.state.config).await.unwrap();
    assert_eq!(
        store.list_api_keys(&project.id).await.unwrap().len(),
        4,
        "registered once"
    );
    // A revoked legacy key stays revoked across restarts.
    store
        .revoke_api_key(&project.id, &write.key.id)
        .await
        .unwrap();
    bootstrap(store, &ctx.state.config).await.unwrap();
    let keys = store.list_api_keys(&project.id).await.unwrap();
    assert_eq!(keys.len(), 4);
    assert!(store
        .find_key_by_hash(&hash_api_key(WK))
        .await
        .unwrap()
        .unwrap()
        .key
        .revoked_at
        .is_some());
    let audit = store.list_audit(100).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|a| a.action == "key.register_legacy")
            .count(),
        2
    );
    assert!(audit
        .iter()
        .all(|a| !a.detail.contains(WK) && !a.detail.contains(RK)));
    ctx.finish().await;
}

async fn generated_admin_password_is_shown_once(db: TestDb) {
    // No ADMIN_PASSWORD: development mode generates one and persists it.
    let dir = temp_dir();
    let pairs = [
        ("NEXPAY_DATA_DIR", dir.display().to_string()),
        ("ADMIN_EMAIL", ADMIN_EMAIL.to_owned()),
    ];
    let config = nexpay_config::Config::load(nexpay_config::Source::from_pairs(pairs)).unwrap();
    assert!(config.generated_secrets.contains(&"ADMIN_PASSWORD"));
    let store = db.store().clone();
    let first = bootstrap(&store, &config).await.unwrap().unwrap();
    let password = first
        .admin_password
        .clone()
        .expect("generated password shown");
    let admin = store
        .find_user_by_email(ADMIN_EMAIL)
        .await
        .unwrap()
        .unwrap();
    assert!(verify_password(&password, &admin.password_hash));
    assert!(std::fs::read_to_string(&first.credentials_file)
        .unwrap()
        .contains(&password));
    let _ = std::fs::remove_dir_all(dir);
    db.cleanup().await;
}
