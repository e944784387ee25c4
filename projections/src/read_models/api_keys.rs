//! API keys as owners and admins list them (`rm_api_keys`): name, scopes, expiry, who made it,
//! whether it was revoked and when it was last used — never its secret. Written from
//! `api_key.created|revoked`; `last_used_at` from every event a key wrote (the log says when
//! it acted) and, for reads, by the read API ([`used`], at most once a minute per key per node).

use chrono::{DateTime, Utc};
use prism_domain::WorkspaceId;
use prism_event_store::StoredEvent;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::ProjectionError;

/// A key, without its secret.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Set when Prism revoked it: `grantor_lost_authority` (its creator may no longer make keys).
    pub revoked_reason: Option<String>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// The keys of `workspace`, newest first, after `after` (a key id), revoked ones included.
pub async fn of_workspace(
    pool: &PgPool,
    workspace: WorkspaceId,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ApiKeyRow>, ProjectionError> {
    Ok(sqlx::query_as(
        "SELECT key_id AS id, name, scopes, created_by, created_at, expires_at, revoked_at, revoked_reason, last_used_at
           FROM rm_api_keys WHERE workspace_id = $1 AND ($2::uuid IS NULL OR key_id < $2)
          ORDER BY key_id DESC LIMIT $3",
    )
    .bind(workspace.0)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// Records that `key` was used to read now.
pub async fn used(pool: &PgPool, key: Uuid) -> Result<(), ProjectionError> {
    sqlx::query(
        "UPDATE rm_api_keys SET last_used_at = now()
          WHERE key_id = $1 AND (last_used_at IS NULL OR last_used_at < now())",
    )
    .bind(key)
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn created(
    tx: &mut PgConnection,
    e: &StoredEvent,
    key_id: Uuid,
    name: &str,
    scopes: &[prism_domain::aggregates::KeyScope],
    expires_at: Option<i64>,
    created_by: Uuid,
) -> Result<(), ProjectionError> {
    let scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    sqlx::query(
        "INSERT INTO rm_api_keys (key_id, workspace_id, name, scopes, expires_at, created_by, created_at)
         VALUES ($1, $2, $3, $4, to_timestamp($5), $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(key_id)
    .bind(e.aggregate_id)
    .bind(name)
    .bind(scopes)
    .bind(expires_at.map(|t| t as f64))
    .bind(created_by)
    .bind(e.recorded_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub(super) async fn revoked(
    tx: &mut PgConnection,
    e: &StoredEvent,
    key_id: Uuid,
    reason: Option<&str>,
) -> Result<(), ProjectionError> {
    sqlx::query("UPDATE rm_api_keys SET revoked_at = $2, revoked_reason = $3 WHERE key_id = $1")
        .bind(key_id)
        .bind(e.recorded_at)
        .bind(reason)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The latest time each key wrote in `events` becomes its `last_used_at` (if later).
pub(super) async fn wrote(tx: &mut PgConnection, events: &[StoredEvent]) -> Result<(), ProjectionError> {
    let mut latest: std::collections::HashMap<Uuid, DateTime<Utc>> = Default::default();
    for e in events {
        if e.metadata.get("actor_kind").and_then(|k| k.as_str()) != Some("api_key") {
            continue;
        }
        let Some(key) = e
            .metadata
            .get("actor_id")
            .and_then(|k| k.as_str()?.parse::<Uuid>().ok())
        else {
            continue;
        };
        let at = latest.entry(key).or_insert(e.recorded_at);
        *at = (*at).max(e.recorded_at);
    }
    if latest.is_empty() {
        return Ok(());
    }
    let (keys, ats): (Vec<Uuid>, Vec<DateTime<Utc>>) = latest.into_iter().unzip();
    sqlx::query(
        "UPDATE rm_api_keys k SET last_used_at = u.at FROM unnest($1::uuid[], $2::timestamptz[]) AS u(key_id, at)
          WHERE k.key_id = u.key_id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)",
    )
    .bind(keys)
    .bind(ats)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
