//! Admin accounts, instance settings and the audit log.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::{read, transaction};
use crate::error::StoreResult;
use crate::models::{AuditRow, UserRow};
use crate::schema::{audit_log, instance_settings, users};
use crate::{now, Store};

impl Store {
    pub async fn insert_user(&self, row: &UserRow) -> StoreResult<()> {
        transaction!(self, |c| {
            diesel::insert_into(users::table)
                .values(row)
                .execute(c)
                .await?;
            Ok(())
        })
    }

    pub async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<UserRow>> {
        let email = email.trim().to_lowercase();
        read!(self, |c| Ok(users::table
            .filter(users::email.eq(&email))
            .select(UserRow::as_select())
            .get_result(c)
            .await
            .optional()?))
    }

    pub async fn get_user(&self, id: &str) -> StoreResult<Option<UserRow>> {
        read!(self, |c| Ok(users::table
            .find(id)
            .select(UserRow::as_select())
            .get_result(c)
            .await
            .optional()?))
    }

    /// Sets a new password hash and bumps the session version, which invalidates every
    /// token issued before.
    pub async fn set_user_password(
        &self,
        id: &str,
        password_hash: &str,
        must_change_password: bool,
    ) -> StoreResult<bool> {
        transaction!(self, |c| {
            let n = diesel::update(users::table.find(id))
                .set((
                    users::password_hash.eq(password_hash),
                    users::must_change_password.eq(must_change_password),
                    users::session_version.eq(users::session_version + 1),
                    users::updated_at.eq(now()),
                ))
                .execute(c)
                .await?;
            Ok(n == 1)
        })
    }

    pub async fn get_setting(&self, key: &str) -> StoreResult<Option<String>> {
        read!(self, |c| Ok(instance_settings::table
            .find(key)
            .select(instance_settings::value)
            .get_result::<String>(c)
            .await
            .optional()?))
    }

    /// Records a setting only if absent; returns whether this call wrote it. Used for
    /// one-time facts ("the default admin was created") that must hold across restarts
    /// and concurrent starts.
    pub async fn set_setting_once(&self, key: &str, value: &str) -> StoreResult<bool> {
        transaction!(self, |c| {
            let n = diesel::insert_into(instance_settings::table)
                .values((
                    instance_settings::key.eq(key),
                    instance_settings::value.eq(value),
                    instance_settings::updated_at.eq(now()),
                ))
                .on_conflict_do_nothing()
                .execute(c)
                .await?;
            Ok(n == 1)
        })
    }

    pub async fn insert_audit(&self, row: &AuditRow) -> StoreResult<()> {
        transaction!(self, |c| {
            diesel::insert_into(audit_log::table)
                .values(row)
                .execute(c)
                .await?;
            Ok(())
        })
    }

    pub async fn list_audit(&self, limit: i64) -> StoreResult<Vec<AuditRow>> {
        read!(self, |c| Ok(audit_log::table
            .select(AuditRow::as_select())
            .order(audit_log::created_at.desc())
            .limit(limit)
            .load(c)
            .await?))
    }
}
