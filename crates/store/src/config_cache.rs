//! A short-lived copy of the instance's configuration (projects and providers) for the
//! hot paths that read it at every request (creating a session reads a project and the
//! providers: two statements of the nine a creation used to cost).
//!
//! Freshness:
//! - A change committed through this store or one of its clones (the dashboard and
//!   payments share one store in the standalone binary) drops the copy at once: every
//!   write to `projects` or `providers` in this crate bumps an epoch, and a copy taken
//!   under an older epoch is never used.
//! - A change made by another process (the dashboard service, while payments runs in
//!   its own) is seen within [`CONFIG_MAX_AGE`], the age after which a copy is read
//!   again. The provider connectors re-read their configuration on the same scale.
//!
//! A copy filled by a read that raced with a local change carries the epoch taken
//! before the read, so it is already stale when stored.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::error::StoreResult;
use crate::models::{ProjectRow, ProviderRow};
use crate::Store;

/// How old a copy may be before it is read again.
pub const CONFIG_MAX_AGE: Duration = Duration::from_secs(1);
/// Projects kept at most; the map is emptied when it is full (an instance has a handful).
const MAX_PROJECTS: usize = 4096;

struct Copy<T> {
    epoch: u64,
    taken: Instant,
    value: T,
}

impl<T: Clone> Copy<T> {
    fn fresh(&self, epoch: u64) -> Option<T> {
        (self.epoch == epoch && self.taken.elapsed() < CONFIG_MAX_AGE).then(|| self.value.clone())
    }
}

#[derive(Default)]
struct Copies {
    providers: Option<Copy<Arc<Vec<ProviderRow>>>>,
    projects: HashMap<String, Copy<Option<ProjectRow>>>,
}

#[derive(Default)]
pub(crate) struct ConfigCache {
    epoch: AtomicU64,
    copies: Mutex<Copies>,
}

impl ConfigCache {
    fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    fn copies(&self) -> std::sync::MutexGuard<'_, Copies> {
        self.copies.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Called after every write to `projects` or `providers`, committed or not.
    pub(crate) fn changed(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        *self.copies() = Copies::default();
    }
}

impl Store {
    /// [`Store::get_project`] through the configuration copy (see the module docs for
    /// how fresh it is). An unknown project is remembered as unknown for as long.
    pub async fn get_project_cached(&self, id: &str) -> StoreResult<Option<ProjectRow>> {
        let epoch = self.config.epoch();
        if let Some(found) = self
            .config
            .copies()
            .projects
            .get(id)
            .and_then(|c| c.fresh(epoch))
        {
            return Ok(found);
        }
        let value = self.get_project(id).await?;
        let mut copies = self.config.copies();
        if copies.projects.len() >= MAX_PROJECTS {
            copies.projects.clear();
        }
        copies.projects.insert(
            id.to_owned(),
            Copy {
                epoch,
                taken: Instant::now(),
                value: value.clone(),
            },
        );
        Ok(value)
    }

    /// [`Store::list_providers`] through the configuration copy.
    pub async fn list_providers_cached(&self) -> StoreResult<Arc<Vec<ProviderRow>>> {
        let epoch = self.config.epoch();
        if let Some(found) = self
            .config
            .copies()
            .providers
            .as_ref()
            .and_then(|c| c.fresh(epoch))
        {
            return Ok(found);
        }
        let value = Arc::new(self.list_providers().await?);
        self.config.copies().providers = Some(Copy {
            epoch,
            taken: Instant::now(),
            value: value.clone(),
        });
        Ok(value)
    }

    pub(crate) fn config_changed(&self) {
        self.config.changed();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testing::TestDb;
    use crate::ProjectUpdate;

    fn project(id: &str) -> ProjectRow {
        let at = crate::now();
        ProjectRow {
            id: id.to_owned(),
            name: "Shop".to_owned(),
            success_url: None,
            failure_url: None,
            cancel_url: None,
            settings: "{}".to_owned(),
            is_default: false,
            created_at: at,
            updated_at: at,
            archived_at: None,
        }
    }

    /// A fresh SQLite store with one project and one enabled provider.
    async fn seeded() -> TestDb {
        let db = TestDb::sqlite().await.unwrap();
        let store = db.store();
        store.insert_project(&project("prj_a")).await.unwrap();
        store
            .ensure_provider(&ProviderRow {
                code: "wave".into(),
                name: "Wave".into(),
                enabled: true,
                logo_url: "/static/wave.svg".into(),
                sealed_config: None,
                updated_at: crate::now(),
                config_summary: "{}".into(),
                secrets_ok: false,
                webhook_ok: false,
                test_passed_at: None,
            })
            .await
            .unwrap();
        db
    }

    fn renamed() -> ProjectUpdate {
        ProjectUpdate {
            name: Some("Renamed".to_owned()),
            success_url: Some(Some("https://shop.example/ok".to_owned())),
            ..ProjectUpdate::default()
        }
    }

    #[tokio::test]
    async fn a_change_through_the_store_or_a_clone_is_seen_at_once() {
        let db = seeded().await;
        let store = db.store().clone();
        let clone = store.clone();
        assert!(store.get_project_cached("prj_new").await.unwrap().is_none());
        clone.insert_project(&project("prj_new")).await.unwrap();
        assert!(store.get_project_cached("prj_new").await.unwrap().is_some());

        assert_eq!(
            store
                .get_project_cached("prj_a")
                .await
                .unwrap()
                .unwrap()
                .name,
            "Shop"
        );
        clone.update_project("prj_a", &renamed()).await.unwrap();
        let got = store.get_project_cached("prj_a").await.unwrap().unwrap();
        assert_eq!(got.success_url.as_deref(), Some("https://shop.example/ok"));
        clone.archive_project("prj_a").await.unwrap();
        let got = store.get_project_cached("prj_a").await.unwrap().unwrap();
        assert!(got.archived_at.is_some());

        assert!(store.list_providers_cached().await.unwrap()[0].enabled);
        clone.set_provider_enabled("wave", false).await.unwrap();
        assert!(!store.list_providers_cached().await.unwrap()[0].enabled);
        db.cleanup().await;
    }

    #[tokio::test]
    async fn a_change_from_another_process_is_seen_after_the_max_age() {
        let db = seeded().await;
        let store = db.store().clone();
        // Another store on the same database stands for another process.
        let other = Store::connect(&db.url, 2).await.unwrap();
        let filled = Instant::now();
        assert_eq!(
            store
                .get_project_cached("prj_a")
                .await
                .unwrap()
                .unwrap()
                .name,
            "Shop"
        );
        assert!(store.list_providers_cached().await.unwrap()[0].enabled);
        other.update_project("prj_a", &renamed()).await.unwrap();
        other.set_provider_enabled("wave", false).await.unwrap();
        let cached = store.get_project_cached("prj_a").await.unwrap().unwrap();
        let cached_enabled = store.list_providers_cached().await.unwrap()[0].enabled;
        if filled.elapsed() < CONFIG_MAX_AGE {
            // The copy is what this process uses while it is young: the cache is used.
            assert_eq!(cached.name, "Shop");
            assert!(cached_enabled);
        }
        // Both copies were taken before now: after this, they are too old.
        tokio::time::sleep(CONFIG_MAX_AGE).await;
        let fresh = store.get_project_cached("prj_a").await.unwrap().unwrap();
        assert_eq!(fresh.name, "Renamed");
        assert!(!store.list_providers_cached().await.unwrap()[0].enabled);
        db.cleanup().await;
    }
}
