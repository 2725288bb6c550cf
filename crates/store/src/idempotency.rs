//! Idempotency keys with Stripe's semantics: the first request under a key runs; a retry
//! with the same body gets the first response again; a different body is refused.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::transaction;
use crate::error::{StoreError, StoreResult};
use crate::schema::idempotency_keys as ik;
use crate::{now, Store};

#[derive(Debug, Clone, PartialEq)]
pub struct IdempotencyRecord {
    pub status_code: i32,
    pub response_body: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum IdempotencyClaim {
    /// This request owns the key and must run, then `complete_idempotency_key`.
    Claimed,
    /// A previous request under this key finished: replay its response.
    Completed(IdempotencyRecord),
    /// A request under this key is running right now.
    InProgress,
    /// The key was used with a different request.
    Mismatch,
}

pub struct IdempotencyScope<'a> {
    pub project_id: &'a str,
    pub mode: &'a str,
    pub key: &'a str,
}

type ClaimRow = (
    String,
    String,
    String,
    Option<i32>,
    Option<String>,
    NaiveDateTime,
    NaiveDateTime,
);

impl Store {
    /// `stale_after`: a `started` key older than this belongs to a request whose process
    /// died; a retry may take it over (the payments service dedupes by the same key, so
    /// taking over never creates a second payment).
    pub async fn claim_idempotency_key(
        &self,
        scope: &IdempotencyScope<'_>,
        route: &str,
        request_hash: &str,
        ttl: chrono::Duration,
        stale_after: chrono::Duration,
    ) -> StoreResult<IdempotencyClaim> {
        let at = now();
        transaction!(self, |c| {
            let inserted = diesel::insert_into(ik::table)
                .values((
                    ik::project_id.eq(scope.project_id),
                    ik::mode.eq(scope.mode),
                    ik::key.eq(scope.key),
                    ik::route.eq(route),
                    ik::request_hash.eq(request_hash),
                    ik::state.eq("started"),
                    ik::created_at.eq(at),
                    ik::updated_at.eq(at),
                    ik::expires_at.eq(at + ttl),
                ))
                .on_conflict_do_nothing()
                .execute(c)
                .await?;
            if inserted == 1 {
                return Ok(IdempotencyClaim::Claimed);
            }
            let found: ClaimRow = ik::table
                .find((scope.project_id, scope.mode, scope.key))
                .select((
                    ik::route,
                    ik::request_hash,
                    ik::state,
                    ik::status_code,
                    ik::response_body,
                    ik::updated_at,
                    ik::expires_at,
                ))
                .get_result(c)
                .await?;
            let (old_route, old_hash, state, status, body, updated_at, expires_at) = found;
            let expired = expires_at < at;
            let abandoned = state == "started" && updated_at < at - stale_after;
            if !expired && (old_route != route || old_hash != request_hash) {
                return Ok(IdempotencyClaim::Mismatch);
            }
            if expired || abandoned {
                diesel::update(ik::table.find((scope.project_id, scope.mode, scope.key)))
                    .set((
                        ik::route.eq(route),
                        ik::request_hash.eq(request_hash),
                        ik::state.eq("started"),
                        ik::status_code.eq(None::<i32>),
                        ik::response_body.eq(None::<String>),
                        ik::updated_at.eq(at),
                        ik::expires_at.eq(at + ttl),
                    ))
                    .execute(c)
                    .await?;
                return Ok(IdempotencyClaim::Claimed);
            }
            match (state.as_str(), status, body) {
                ("completed", Some(status_code), Some(response_body)) => {
                    Ok(IdempotencyClaim::Completed(IdempotencyRecord {
                        status_code,
                        response_body,
                    }))
                }
                ("started", _, _) => Ok(IdempotencyClaim::InProgress),
                _ => Err(StoreError::Corrupt(format!(
                    "idempotency key in state {state} without a response"
                ))),
            }
        })
    }

    /// Stores the response of the request that claimed the key. False when the key was
    /// no longer `started` (taken over or released meanwhile): nothing was stored.
    pub async fn complete_idempotency_key(
        &self,
        scope: &IdempotencyScope<'_>,
        status_code: i32,
        response_body: &str,
    ) -> StoreResult<bool> {
        transaction!(self, |c| {
            let n = diesel::update(ik::table.find((scope.project_id, scope.mode, scope.key)))
                .filter(ik::state.eq("started"))
                .set((
                    ik::state.eq("completed"),
                    ik::status_code.eq(Some(status_code)),
                    ik::response_body.eq(Some(response_body)),
                    ik::updated_at.eq(now()),
                ))
                .execute(c)
                .await?;
            Ok(n == 1)
        })
    }

    /// Forgets a key whose request failed transiently (timeout, unavailable), so the
    /// merchant's retry with the same key runs again.
    pub async fn release_idempotency_key(&self, scope: &IdempotencyScope<'_>) -> StoreResult<()> {
        transaction!(self, |c| {
            diesel::delete(ik::table.find((scope.project_id, scope.mode, scope.key)))
                .filter(ik::state.eq("started"))
                .execute(c)
                .await?;
            Ok(())
        })
    }

    pub async fn purge_expired_idempotency_keys(&self) -> StoreResult<usize> {
        let at = now();
        transaction!(self, |c| Ok(diesel::delete(
            ik::table.filter(ik::expires_at.lt(at))
        )
        .execute(c)
        .await?))
    }
}
