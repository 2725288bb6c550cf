//! Projects, their API keys and the instance's providers.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use diesel_async::AsyncPgConnection;

use crate::db::{read, transaction, Backend};
use crate::error::{StoreError, StoreResult};
use crate::models::{ApiKeyRow, KeyLookup, ProjectRow, ProviderRow};
use crate::schema::{api_keys, projects, providers};
use crate::{now, Store};

/// Fields of a project an admin may change.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = projects)]
pub struct ProjectUpdate {
    pub name: Option<String>,
    pub success_url: Option<Option<String>>,
    pub failure_url: Option<Option<String>>,
    pub cancel_url: Option<Option<String>>,
    pub settings: Option<String>,
    pub updated_at: Option<NaiveDateTime>,
}

impl Store {
    pub async fn insert_project(&self, row: &ProjectRow) -> StoreResult<()> {
        transaction!(self, |c| {
            diesel::insert_into(projects::table)
                .values(row)
                .execute(c)
                .await?;
            Ok(())
        })
    }

    pub async fn get_project(&self, id: &str) -> StoreResult<Option<ProjectRow>> {
        read!(self, |c| Ok(projects::table
            .find(id)
            .select(ProjectRow::as_select())
            .get_result(c)
            .await
            .optional()?))
    }

    pub async fn default_project(&self) -> StoreResult<Option<ProjectRow>> {
        read!(self, |c| Ok(projects::table
            .filter(projects::is_default.eq(true))
            .select(ProjectRow::as_select())
            .get_result(c)
            .await
            .optional()?))
    }

    pub async fn list_projects(&self, include_archived: bool) -> StoreResult<Vec<ProjectRow>> {
        read!(self, |c| {
            let mut q = projects::table
                .select(ProjectRow::as_select())
                .order(projects::created_at.asc())
                .into_boxed();
            if !include_archived {
                q = q.filter(projects::archived_at.is_null());
            }
            Ok(q.load(c).await?)
        })
    }

    pub async fn update_project(
        &self,
        id: &str,
        update: &ProjectUpdate,
    ) -> StoreResult<ProjectRow> {
        transaction!(self, |c| {
            let n = diesel::update(projects::table.find(id))
                .filter(projects::archived_at.is_null())
                .set(update)
                .execute(c)
                .await?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(projects::table
                .find(id)
                .select(ProjectRow::as_select())
                .get_result(c)
                .await?)
        })
    }

    /// Archives a project and revokes its keys. Payments, sessions and their history
    /// stay: financial records are never deleted with a project.
    pub async fn archive_project(&self, id: &str) -> StoreResult<bool> {
        let at = now();
        let archived = transaction!(self, |c| {
            let n = diesel::update(projects::table.find(id))
                .filter(projects::archived_at.is_null())
                .set((
                    projects::archived_at.eq(Some(at)),
                    projects::updated_at.eq(at),
                ))
                .execute(c)
                .await?;
            diesel::update(api_keys::table.filter(api_keys::project_id.eq(id)))
                .filter(api_keys::revoked_at.is_null())
                .set(api_keys::revoked_at.eq(Some(at)))
                .execute(c)
                .await?;
            Ok(n == 1)
        })?;
        self.key_changed();
        Ok(archived)
    }

    pub async fn insert_api_key(&self, row: &ApiKeyRow) -> StoreResult<()> {
        transaction!(self, |c| {
            diesel::insert_into(api_keys::table)
                .values(row)
                .execute(c)
                .await?;
            Ok(())
        })
    }

    pub async fn list_api_keys(&self, project_id: &str) -> StoreResult<Vec<ApiKeyRow>> {
        read!(self, |c| Ok(api_keys::table
            .filter(api_keys::project_id.eq(project_id))
            .select(ApiKeyRow::as_select())
            .order(api_keys::created_at.asc())
            .load(c)
            .await?))
    }

    pub async fn get_api_key(&self, id: &str) -> StoreResult<Option<ApiKeyRow>> {
        read!(self, |c| Ok(api_keys::table
            .find(id)
            .select(ApiKeyRow::as_select())
            .get_result(c)
            .await
            .optional()?))
    }

    /// Looks a key up by the hash of the presented secret. Revocation and expiry are
    /// checked by the caller against its own clock so it can answer precisely.
    pub async fn find_key_by_hash(&self, hash: &str) -> StoreResult<Option<KeyLookup>> {
        read!(self, |c| {
            let row = api_keys::table
                .inner_join(projects::table)
                .filter(api_keys::key_hash.eq(hash))
                .filter(projects::archived_at.is_null())
                .select((ApiKeyRow::as_select(), ProjectRow::as_select()))
                .get_result::<(ApiKeyRow, ProjectRow)>(c)
                .await
                .optional()?;
            Ok(row.map(|(key, project)| KeyLookup { key, project }))
        })
    }

    pub async fn revoke_api_key(&self, project_id: &str, id: &str) -> StoreResult<bool> {
        let at = now();
        let revoked = transaction!(self, |c| {
            let n = diesel::update(api_keys::table.find(id))
                .filter(api_keys::project_id.eq(project_id))
                .filter(api_keys::revoked_at.is_null())
                .set(api_keys::revoked_at.eq(Some(at)))
                .execute(c)
                .await?;
            Ok(n == 1)
        })?;
        if revoked {
            self.key_changed();
        }
        Ok(revoked)
    }

    /// Counters that grow with every change able to invalidate a key that was valid:
    /// `(keys, revoked keys, archived projects)`. Rotation inserts a key, revocation
    /// revokes one, archiving archives a project; nothing deletes keys or un-revokes
    /// them. Key caches compare it across processes (the CLI runs in its own process).
    pub async fn api_key_fingerprint(&self) -> StoreResult<(i64, i64, i64)> {
        read!(self, |c| {
            let (keys, revoked) = api_keys::table
                .select((
                    diesel::dsl::count_star(),
                    diesel::dsl::count(api_keys::revoked_at),
                ))
                .get_result::<(i64, i64)>(c)
                .await?;
            let archived = projects::table
                .select(diesel::dsl::count(projects::archived_at))
                .get_result::<i64>(c)
                .await?;
            Ok((keys, revoked, archived))
        })
    }

    /// Rotation: the new key is inserted and the old one expires after the grace period,
    /// in one transaction, so there is never a moment with neither key valid.
    pub async fn rotate_api_key(
        &self,
        project_id: &str,
        old_id: &str,
        old_expires_at: NaiveDateTime,
        new_key: &ApiKeyRow,
    ) -> StoreResult<()> {
        transaction!(self, |c| {
            let n = diesel::update(api_keys::table.find(old_id))
                .filter(api_keys::project_id.eq(project_id))
                .filter(api_keys::revoked_at.is_null())
                .set(api_keys::expires_at.eq(Some(old_expires_at)))
                .execute(c)
                .await?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            diesel::insert_into(api_keys::table)
                .values(new_key)
                .execute(c)
                .await?;
            Ok(())
        })?;
        self.key_changed();
        Ok(())
    }

    /// Records use at most once a minute per key: a hot key must not turn every read
    /// into a write.
    pub async fn touch_api_key(&self, id: &str, at: NaiveDateTime) -> StoreResult<()> {
        let threshold = at - chrono::Duration::seconds(60);
        transaction!(self, |c| {
            diesel::update(api_keys::table.find(id))
                .filter(
                    api_keys::last_used_at
                        .is_null()
                        .or(api_keys::last_used_at.lt(threshold)),
                )
                .set(api_keys::last_used_at.eq(Some(at)))
                .execute(c)
                .await?;
            Ok(())
        })
    }

    /// Inserts the provider if it is not there yet; an admin's later changes are kept.
    pub async fn ensure_provider(&self, row: &ProviderRow) -> StoreResult<()> {
        transaction!(self, |c| {
            diesel::insert_into(providers::table)
                .values(row)
                .on_conflict_do_nothing()
                .execute(c)
                .await?;
            Ok(())
        })
    }

    pub async fn list_providers(&self) -> StoreResult<Vec<ProviderRow>> {
        read!(self, |c| Ok(providers::table
            .select(ProviderRow::as_select())
            .order(providers::code.asc())
            .load(c)
            .await?))
    }

    /// The project (archived or not) and every provider, as session creation needs
    /// them. On PostgreSQL both queries are sent at once on one connection (diesel-async
    /// pipelines queries issued through a shared reference), so the pair costs one
    /// round trip; on SQLite they run one after the other on a reader.
    pub async fn project_and_providers(
        &self,
        id: &str,
    ) -> StoreResult<(Option<ProjectRow>, Vec<ProviderRow>)> {
        // A macro, not values: each backend types the selects for itself.
        macro_rules! queries {
            () => {
                (
                    projects::table.find(id).select(ProjectRow::as_select()),
                    providers::table
                        .select(ProviderRow::as_select())
                        .order(providers::code.asc()),
                )
            };
        }
        match &self.backend {
            Backend::Pg(pool) => {
                let (project, all_providers) = queries!();
                let obj = pool.get().await?;
                let c: &AsyncPgConnection = &obj;
                let (project, providers) = futures::future::join(
                    project.get_result(&mut &*c),
                    all_providers.load(&mut &*c),
                )
                .await;
                Ok((project.optional()?, providers?))
            }
            Backend::Sqlite { reader, .. } => {
                let (project, all_providers) = queries!();
                let mut c = reader.get().await?;
                let project = project.get_result(&mut *c).await.optional()?;
                Ok((project, all_providers.load(&mut *c).await?))
            }
        }
    }

    pub async fn set_provider_enabled(&self, code: &str, enabled: bool) -> StoreResult<bool> {
        transaction!(self, |c| {
            let n = diesel::update(providers::table.find(code))
                .set((
                    providers::enabled.eq(enabled),
                    providers::updated_at.eq(now()),
                ))
                .execute(c)
                .await?;
            Ok(n == 1)
        })
    }
}
