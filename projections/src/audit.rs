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

use crate::visibility::{self, Facts, Viewer};
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
#[derive(Debug, Default, Clone, Copy)]
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

/// A page of [`trail`] as `viewer` sees it (`None`: everything, for the platform's auditors):
/// an entry for an event the visibility policy hides from them — a direct conversation they
/// are not in, a file someone else uploaded — is left out, as every other way out of Prism
/// leaves the event out; the trail is metadata, and who wrote to whom, when, is what the policy
/// keeps from a non-participant. Answers up to `limit` rows and the position to continue
/// before, if there are more. It reads on until it has a full page or the trail ends: the
/// cursor is always the last row returned, never a hidden row's position, and a short page
/// means the end (a scan cap would answer a hidden position as the cursor).
pub async fn trail_as(
    pool: &PgPool,
    f: &TrailFilter<'_>,
    limit: i64,
    viewer: Option<&Viewer>,
) -> Result<(Vec<AuditEntry>, Option<i64>), ProjectionError> {
    let cursor = |rows: &[AuditEntry]| rows.last().map(|r| r.position);
    let Some(viewer) = viewer.filter(|v| !v.auditor) else {
        let mut rows = trail(pool, f, limit + 1).await?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next = if more { cursor(&rows) } else { None };
        return Ok((rows, next));
    };
    let (mut out, mut page_filter, mut known) = (Vec::new(), *f, Facts::default());
    loop {
        let page = trail(pool, &page_filter, limit + 1).await?;
        let exhausted = (page.len() as i64) <= limit;
        let Some(last) = cursor(&page) else {
            return Ok((out, None));
        };
        let hidden = visibility::hidden_from(pool, &envelopes_of(pool, &page).await?, viewer, &mut known).await?;
        for row in page.into_iter().filter(|r| !hidden.contains(&r.position)) {
            out.push(row);
            if out.len() as i64 > limit {
                out.truncate(limit as usize);
                let next = cursor(&out);
                return Ok((out, next));
            }
        }
        if exhausted {
            return Ok((out, None));
        }
        page_filter.before = Some(last);
    }
}

/// The log's events behind trail rows, for the visibility policy. A row whose event is no
/// longer in the log (what verification reports) stands for itself with an empty payload,
/// which the policy judges closed: a direct message's or an upload's is hidden from all but
/// auditors.
pub async fn envelopes_of(pool: &PgPool, rows: &[AuditEntry]) -> Result<Vec<StoredEvent>, ProjectionError> {
    let subjects: Vec<Subject> = rows.iter().map(Subject::of).collect();
    subject_envelopes(pool, &subjects).await
}

/// What the visibility policy needs of a trail row.
#[derive(Debug, Clone)]
pub struct Subject {
    pub position: i64,
    pub workspace_id: Option<Uuid>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Uuid,
    pub sequence: i64,
}

impl Subject {
    fn of(r: &AuditEntry) -> Self {
        Self {
            position: r.position,
            workspace_id: r.workspace_id,
            action: r.action.clone(),
            resource_type: r.resource_type.clone(),
            resource_id: r.resource_id,
            sequence: r.sequence,
        }
    }
}

/// [`envelopes_of`] for rows read elsewhere (verification's findings).
pub async fn subject_envelopes(pool: &PgPool, subjects: &[Subject]) -> Result<Vec<StoredEvent>, ProjectionError> {
    let positions: Vec<i64> = subjects.iter().map(|s| s.position).collect();
    let found = prism_event_store::PgEventStore::new(pool.clone(), 0)
        .read_positions(&positions)
        .await?;
    let mut by_position: std::collections::HashMap<i64, StoredEvent> =
        found.into_iter().map(|e| (e.global_position, e)).collect();
    Ok(subjects
        .iter()
        .map(|s| {
            by_position.remove(&s.position).unwrap_or_else(|| StoredEvent {
                global_position: s.position,
                event_id: Uuid::nil(),
                tenant_id: s.workspace_id,
                aggregate_type: s.resource_type.clone(),
                aggregate_id: s.resource_id,
                sequence: s.sequence,
                event_type: s.action.clone(),
                event_version: 1,
                payload: Value::Object(Default::default()),
                metadata: Value::Object(Default::default()),
                recorded_at: DateTime::<Utc>::UNIX_EPOCH,
                hash: Vec::new(),
            })
        })
        .collect())
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
