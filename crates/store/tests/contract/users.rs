//! Admin accounts and one-time instance settings.

use nexpay_store::StoreError;

use crate::fixtures::{uid, user};
use crate::support::{Ctx, TestResult};

contract!(find_user_by_email_ignores_case);
async fn find_user_by_email_ignores_case(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let u = user();
    s.insert_user(&u).await?;
    assert_eq!(s.find_user_by_email(&u.email).await?, Some(u.clone()));
    let shouted = format!("  {}  ", u.email.to_uppercase());
    assert_eq!(s.find_user_by_email(&shouted).await?, Some(u.clone()));
    assert_eq!(s.get_user(&u.id).await?, Some(u));
    assert_eq!(s.find_user_by_email("nobody@example.com").await?, None);
    Ok(())
}

contract!(duplicate_email_is_conflict);
async fn duplicate_email_is_conflict(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let u = user();
    s.insert_user(&u).await?;
    let mut twin = user();
    twin.email = u.email.clone();
    let err = s.insert_user(&twin).await.expect_err("duplicate email");
    assert!(
        matches!(err, StoreError::Conflict(_)),
        "expected Conflict, got {err:?}"
    );
    assert_eq!(s.get_user(&twin.id).await?, None);
    Ok(())
}

contract!(set_password_bumps_session_version);
async fn set_password_bumps_session_version(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let u = user();
    s.insert_user(&u).await?;

    assert!(s.set_user_password(&u.id, "$argon2id$new", true).await?);
    let after = s.get_user(&u.id).await?.expect("user");
    assert_eq!(after.password_hash, "$argon2id$new");
    assert!(after.must_change_password);
    assert_eq!(
        after.session_version,
        u.session_version + 1,
        "old tokens invalidated"
    );
    assert!(after.updated_at >= u.updated_at);

    assert!(s.set_user_password(&u.id, "$argon2id$newer", false).await?);
    let again = s.get_user(&u.id).await?.expect("user");
    assert!(!again.must_change_password);
    assert_eq!(again.session_version, u.session_version + 2);

    assert!(!s.set_user_password("usr_missing", "x", false).await?);
    Ok(())
}

contract!(setting_once_is_written_once);
async fn setting_once_is_written_once(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let key = uid("bootstrap");
    assert_eq!(s.get_setting(&key).await?, None);
    assert!(s.set_setting_once(&key, "first").await?);
    assert!(!s.set_setting_once(&key, "second").await?);
    assert_eq!(s.get_setting(&key).await?.as_deref(), Some("first"));
    Ok(())
}

contract!(setting_once_under_concurrency);
async fn setting_once_under_concurrency(ctx: Ctx) -> TestResult {
    let key = uid("default_admin_created");
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (store, key) = (ctx.store.clone(), key.clone());
            tokio::spawn(async move { store.set_setting_once(&key, &format!("v{i}")).await })
        })
        .collect();
    let mut winners = Vec::new();
    for (i, task) in futures::future::join_all(tasks)
        .await
        .into_iter()
        .enumerate()
    {
        if task?? {
            winners.push(format!("v{i}"));
        }
    }
    assert_eq!(winners.len(), 1, "exactly one writer wins: {winners:?}");
    assert_eq!(ctx.store.get_setting(&key).await?, winners.pop());
    Ok(())
}
