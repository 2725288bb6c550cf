//! Projects: insert, read, list, update, archive (which never deletes money).

use nexpay_store::{ProjectUpdate, ProviderRow, StoreError};

use crate::fixtures::{api_key, bundle, project, seed_project, trail, ts};
use crate::support::{Ctx, TestResult};

contract!(insert_get_list);
async fn insert_get_list(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    assert!(s.list_projects(true).await?.is_empty());
    assert_eq!(s.get_project("prj_missing").await?, None);
    assert_eq!(s.default_project().await?, None);

    let first = seed_project(s).await?;
    let mut second = project();
    second.is_default = true;
    second.created_at = first.created_at + chrono::Duration::seconds(1);
    s.insert_project(&second).await?;

    assert_eq!(s.get_project(&first.id).await?, Some(first.clone()));
    assert_eq!(s.default_project().await?, Some(second.clone()));
    assert_eq!(
        s.list_projects(false).await?,
        vec![first.clone(), second],
        "oldest first"
    );

    let err = s.insert_project(&first).await.expect_err("duplicate id");
    assert!(matches!(err, StoreError::Conflict(_)), "got {err:?}");
    Ok(())
}

contract!(update_sets_and_clears_fields);
async fn update_sets_and_clears_fields(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let before = seed_project(s).await?;
    let at = before.updated_at + chrono::Duration::seconds(5);
    let update = ProjectUpdate {
        name: Some("Renamed".to_owned()),
        success_url: Some(None),
        cancel_url: Some(Some("https://shop.example/cancel".to_owned())),
        updated_at: Some(at),
        ..ProjectUpdate::default()
    };
    let after = s.update_project(&before.id, &update).await?;
    assert_eq!(after.name, "Renamed");
    assert_eq!(after.success_url, None, "Some(None) clears the URL");
    assert_eq!(
        after.failure_url, before.failure_url,
        "None leaves the field alone"
    );
    assert_eq!(
        after.cancel_url.as_deref(),
        Some("https://shop.example/cancel")
    );
    assert_eq!(after.settings, before.settings);
    assert_eq!(after.updated_at, at);
    assert_eq!(s.get_project(&before.id).await?, Some(after));

    let err = s
        .update_project("prj_missing", &update)
        .await
        .expect_err("unknown project");
    assert!(matches!(err, StoreError::NotFound), "got {err:?}");
    Ok(())
}

contract!(archive_hides_project_revokes_keys_keeps_payments);
async fn archive_hides_project_revokes_keys_keeps_payments(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let kept = seed_project(s).await?;
    let archived = seed_project(s).await?;
    let keys = [api_key(&archived.id, "test"), api_key(&archived.id, "live")];
    for k in &keys {
        s.insert_api_key(k).await?;
    }
    let other_key = api_key(&kept.id, "test");
    s.insert_api_key(&other_key).await?;
    let b = bundle(&archived.id, "test", Some("req-1"));
    let (pay, sess) = (b.payment.clone(), b.session.clone().expect("session"));
    s.insert_payment_bundle(b).await?;
    assert!(s.find_key_by_hash(&keys[0].key_hash).await?.is_some());
    let trail_before = trail(s, &pay.id).await?;

    assert!(s.archive_project(&archived.id).await?);
    assert!(
        !s.archive_project(&archived.id).await?,
        "archiving twice is a no-op"
    );

    let visible: Vec<_> = s
        .list_projects(false)
        .await?
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(visible, vec![kept.id.clone()]);
    let all = s.list_projects(true).await?;
    let row = all
        .iter()
        .find(|p| p.id == archived.id)
        .expect("listed with archived");
    assert!(row.archived_at.is_some());

    for k in &keys {
        let stored = s.get_api_key(&k.id).await?.expect("key row kept");
        assert!(stored.revoked_at.is_some(), "key {} revoked", k.id);
        assert_eq!(s.find_key_by_hash(&k.key_hash).await?, None);
    }
    let untouched = s.get_api_key(&other_key.id).await?.expect("other key");
    assert_eq!(untouched.revoked_at, None, "other projects' keys untouched");
    assert!(s.find_key_by_hash(&other_key.key_hash).await?.is_some());

    assert_eq!(
        s.get_payment(&pay.id).await?,
        Some(pay.clone()),
        "payment kept"
    );
    assert_eq!(s.get_session(&sess.id).await?, Some(sess));
    assert_eq!(s.count_payments(&archived.id, "test").await?, 1);
    assert_eq!(
        trail(s, &pay.id).await?,
        trail_before,
        "history and outbox kept"
    );

    let update = ProjectUpdate {
        name: Some("zombie".to_owned()),
        ..ProjectUpdate::default()
    };
    let err = s
        .update_project(&archived.id, &update)
        .await
        .expect_err("archived");
    assert!(matches!(err, StoreError::NotFound), "got {err:?}");
    let row = s.get_project(&archived.id).await?.expect("still readable");
    assert_eq!(row.name, archived.name, "archived project unchanged");
    Ok(())
}

fn provider(code: &str, enabled: bool) -> ProviderRow {
    ProviderRow {
        code: code.to_owned(),
        name: code.to_uppercase(),
        enabled,
        logo_url: format!("/static/{code}.svg"),
        sealed_config: None,
        updated_at: ts(2026, 12, 1, 9, 30, 0, 0),
        config_summary: "{}".to_owned(),
        secrets_ok: false,
        webhook_ok: false,
        test_passed_at: None,
    }
}

contract!(project_and_providers_in_one_read);
async fn project_and_providers_in_one_read(ctx: Ctx) -> TestResult {
    let s = &ctx.store;
    let (none, empty) = s.project_and_providers("prj_missing").await?;
    assert_eq!((none, empty), (None, vec![]));

    let open = seed_project(s).await?;
    let archived = seed_project(s).await?;
    s.archive_project(&archived.id).await?;
    s.ensure_provider(&provider("wave", true)).await?;
    s.ensure_provider(&provider("om", false)).await?;
    assert!(s.set_provider_enabled("om", true).await?);
    // An admin's change survives the next start-up's ensure.
    s.ensure_provider(&provider("om", false)).await?;
    let listed = s.list_providers().await?;
    let codes: Vec<_> = listed
        .iter()
        .map(|p| (p.code.as_str(), p.enabled))
        .collect();
    assert_eq!(
        codes,
        [("om", true), ("wave", true)],
        "by code, admin's choice kept"
    );

    for id in [&open.id, &archived.id] {
        let (project, providers) = s.project_and_providers(id).await?;
        assert_eq!(project, s.get_project(id).await?, "same row as get_project");
        assert!(project.is_some());
        assert_eq!(providers, listed, "same rows as list_providers");
    }
    let (missing, providers) = s.project_and_providers("prj_missing").await?;
    assert_eq!(missing, None, "an unknown project is None, not an error");
    assert_eq!(providers, listed);
    Ok(())
}
