//! The audit trail: one row per event (who, what, on which resource, in which workspace, when,
//! in answer to which request), with the event's hash as the projection saw it.
//!
//! Every event is audited, including sign-in facts (`auth.*`, no workspace). Rows go in as one
//! set-based insert per batch: the same rows as one by one, in a fraction of the round trips.

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use prism_domain::{UserId, WorkspaceId};
use prism_event_store::StoredEvent;
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{Projection, ProjectionError};

pub struct AuditTrail;

pub const NAME: &str = "audit";
pub const TABLES: &[&str] = &["audit_trail"];

/// One row of the trail, as auditors read it.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AuditEntry {
    pub position: i64,
    pub event_id: Uuid,
    pub workspace_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub actor_kind: String,
    /// The platform admin who acted as `actor_id`, under an impersonation.
    pub impersonator: Option<Uuid>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Uuid,
    pub sequence: i64,
    pub recorded_at: DateTime<Utc>,
    pub request_id: Option<String>,
    pub correlation_id: Option<Uuid>,
}

/// Which rows of the trail to read; every field narrows.
#[derive(Debug, Default)]
pub struct TrailFilter<'a> {
    pub workspace: Option<WorkspaceId>,
    pub actor: Option<UserId>,
    pub action: Option<&'a str>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Only rows before this position (the cursor).
    pub before: Option<i64>,
}

/// Up to `limit` rows matching `f`, newest first.
pub async fn trail(pool: &PgPool, f: &TrailFilter<'_>, limit: i64) -> Result<Vec<AuditEntry>, ProjectionError> {
    Ok(sqlx::query_as(
        "SELECT position, event_id, workspace_id, actor_id, actor_kind, impersonator, action, resource_type, resource_id, sequence,
                recorded_at, request_id, correlation_id
           FROM audit_trail
          WHERE ($1::uuid IS NULL OR workspace_id = $1)
            AND ($2::uuid IS NULL OR actor_id = $2)
            AND ($3::text IS NULL OR action = $3)
            AND ($4::timestamptz IS NULL OR recorded_at >= $4)
            AND ($5::timestamptz IS NULL OR recorded_at < $5)
            AND ($6::bigint IS NULL OR position < $6)
          ORDER BY position DESC LIMIT $7",
    )
    .bind(f.workspace.map(|w| w.0))
    .bind(f.actor.map(|a| a.0))
    .bind(f.action)
    .bind(f.from)
    .bind(f.to)
    .bind(f.before)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// The workspace an event belongs to: its tenant (a workspace's own events carry it too).
fn workspace(e: &StoredEvent) -> Option<Uuid> {
    e.tenant_id
}

fn meta_uuid(m: &Value, key: &str) -> Option<Uuid> {
    m.get(key).and_then(Value::as_str).and_then(|s| s.parse().ok())
}

impl Projection for AuditTrail {
    fn name(&self) -> &'static str {
        NAME
    }

    fn apply<'a>(&'a self, tx: &'a mut PgConnection, e: &'a StoredEvent) -> BoxFuture<'a, Result<(), ProjectionError>> {
        self.apply_many(tx, std::slice::from_ref(e))
    }

    fn apply_many<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        events: &'a [StoredEvent],
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move {
            if events.is_empty() {
                return Ok(());
            }
            let n = events.len();
            let (mut pos, mut ids, mut ws, mut actors, mut kinds) = (
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
            );
            let (mut actions, mut rtypes, mut rids, mut seqs, mut at) = (
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
            );
            let (mut reqs, mut corrs, mut hashes, mut impersonators) = (
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
            );
            for e in events {
                let m = &e.metadata;
                pos.push(e.global_position);
                ids.push(e.event_id);
                ws.push(workspace(e));
                actors.push(meta_uuid(m, "actor_id"));
                kinds.push(
                    m.get("actor_kind")
                        .and_then(Value::as_str)
                        .unwrap_or("unknown")
                        .to_owned(),
                );
                actions.push(e.event_type.as_str());
                rtypes.push(e.aggregate_type.as_str());
                rids.push(e.aggregate_id);
                seqs.push(e.sequence);
                at.push(e.recorded_at);
                reqs.push(m.get("request_id").and_then(Value::as_str).map(str::to_owned));
                corrs.push(meta_uuid(m, "correlation_id"));
                hashes.push(e.hash.as_slice());
                impersonators.push(meta_uuid(m, "impersonator"));
            }
            sqlx::query(
                "INSERT INTO audit_trail (position, event_id, workspace_id, actor_id, actor_kind, action,
                     resource_type, resource_id, sequence, recorded_at, request_id, correlation_id, hash, impersonator)
                 SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[],
                     $7::text[], $8::uuid[], $9::bigint[], $10::timestamptz[], $11::text[], $12::uuid[], $13::bytea[],
                     $14::uuid[])
                 ON CONFLICT (position) DO NOTHING",
            )
            .bind(&pos)
            .bind(&ids)
            .bind(&ws)
            .bind(&actors)
            .bind(&kinds)
            .bind(&actions)
            .bind(&rtypes)
            .bind(&rids)
            .bind(&seqs)
            .bind(&at)
            .bind(&reqs)
            .bind(&corrs)
            .bind(&hashes)
            .bind(&impersonators)
            .execute(&mut *tx)
            .await?;
            Ok(())
        })
    }
}
