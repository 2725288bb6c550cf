//! Migrations apply once, survive reconnects, and serialise between replicas.

use nexpay_store::{run_migrations, Store};

use crate::fixtures::seed_project;
use crate::support::{shipped_migrations, Ctx, FreshDb, TestResult};

contract!(second_connect_applies_nothing);
async fn second_connect_applies_nothing(ctx: Ctx) -> TestResult {
    let project = seed_project(&ctx.store).await?;
    assert_eq!(
        run_migrations(&ctx.url).await?,
        0,
        "already migrated by the first connect"
    );
    let again = Store::connect(&ctx.url, 2).await?;
    assert_eq!(again.kind(), ctx.kind);
    again.health().await?;
    assert_eq!(
        again.get_project(&project.id).await?,
        Some(project),
        "data kept"
    );
    assert_eq!(run_migrations(&ctx.url).await?, 0);
    Ok(())
}

contract!(fresh_database_migrates_exactly_once);
async fn fresh_database_migrates_exactly_once(ctx: Ctx) -> TestResult {
    let expected = shipped_migrations(ctx.kind);
    assert!(expected > 0, "no migrations found for {:?}", ctx.kind);
    let fresh = FreshDb::create(ctx.kind).await?;
    assert_eq!(run_migrations(&fresh.url).await?, expected);
    assert_eq!(run_migrations(&fresh.url).await?, 0);
    let store = Store::connect(&fresh.url, 2).await?;
    let project = seed_project(&store).await?;
    assert_eq!(store.get_project(&project.id).await?, Some(project));
    drop(store);
    fresh.drop_now().await;
    Ok(())
}

contract!(concurrent_migrations_serialise, concurrent_migrations);
/// Replicas starting together on an empty database: the advisory lock lets one migrate
/// and the others then find nothing to do; none fails.
async fn concurrent_migrations(ctx: Ctx) -> TestResult {
    let expected = shipped_migrations(ctx.kind);
    let fresh = FreshDb::create(ctx.kind).await?;
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let url = fresh.url.clone();
            tokio::spawn(async move { run_migrations(&url).await })
        })
        .collect();
    let mut applied = Vec::new();
    for task in futures::future::join_all(tasks).await {
        applied.push(task?.map_err(|e| format!("a concurrent migration failed: {e}"))?);
    }
    applied.sort_unstable();
    assert_eq!(
        applied,
        vec![0, 0, 0, expected],
        "exactly one replica migrates"
    );
    assert_eq!(run_migrations(&fresh.url).await?, 0);
    let store = Store::connect(&fresh.url, 2).await?;
    store.health().await?;
    assert!(store.list_projects(true).await?.is_empty());
    drop(store);
    fresh.drop_now().await;
    Ok(())
}
