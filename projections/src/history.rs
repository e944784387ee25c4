//! History for auditors: the log in global order, one aggregate's events, an aggregate's state
//! at any position (replayed through the upcasters), and verification of the whole record.
//!
//! This is the read side of the event store, as the read API and the offline tools use it.

use cqrs_es::Aggregate;
use prism_domain::aggregates::{Channel, Conversation, Doc, Message, User, Workspace};
pub use prism_event_store::verify::{Finding, Report};
/// An event as stored: what history routes and exports carry.
pub use prism_event_store::StoredEvent as Envelope;
use prism_event_store::{Loaded, PgEventStore, StoredEvent};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::audit;
use crate::visibility::{self, Facts, Viewer};
use crate::ProjectionError;
use futures::TryStreamExt;

/// The aggregate types whose state can be replayed.
pub const AGGREGATE_TYPES: &[&str] = &["user", "workspace", "channel", "message", "conversation", "doc"];

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StateAt {
    pub aggregate_type: String,
    pub aggregate_id: Uuid,
    /// Its version then: the sequence of its last event at or before the position.
    pub version: i64,
    /// The position of that event.
    pub position: i64,
    #[schema(value_type = Object)]
    pub state: Value,
}

#[derive(Clone)]
pub struct History {
    store: PgEventStore,
}

impl History {
    pub fn new(store: PgEventStore) -> Self {
        Self { store }
    }

    /// Reads the log behind `pool` (no appends, no snapshots).
    pub fn from_pool(pool: sqlx::PgPool) -> Self {
        Self::new(PgEventStore::new(pool, 0))
    }

    pub fn store(&self) -> &PgEventStore {
        &self.store
    }

    /// Events after `after` in global order, as stored; one workspace's if given.
    pub async fn events(
        &self,
        after: i64,
        limit: i64,
        workspace: Option<Uuid>,
    ) -> Result<Vec<StoredEvent>, ProjectionError> {
        Ok(self.store.read_raw(after, limit, workspace).await?)
    }

    /// One aggregate's events, as stored.
    pub async fn aggregate_events(&self, aggregate_type: &str, id: Uuid) -> Result<Vec<StoredEvent>, ProjectionError> {
        Ok(self.store.load_raw(aggregate_type, id).await?)
    }

    /// Whether the aggregate exists, and its tenant: `None` if it has no events.
    pub async fn tenant_of(&self, aggregate_type: &str, id: Uuid) -> Result<Option<Option<Uuid>>, ProjectionError> {
        Ok(sqlx::query_scalar(
            "SELECT tenant_id FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence = 1",
        )
        .bind(aggregate_type)
        .bind(id)
        .fetch_optional(self.store.pool())
        .await?)
    }

    /// The aggregate as it was at `at` (now if `None`); `None` if it did not exist then.
    pub async fn state_at(
        &self,
        aggregate_type: &str,
        id: Uuid,
        at: Option<i64>,
    ) -> Result<Option<StateAt>, ProjectionError> {
        let events = self.store.load_until(aggregate_type, id, at).await?;
        match aggregate_type {
            "user" => replay::<User>(aggregate_type, id, &events),
            "workspace" => replay::<Workspace>(aggregate_type, id, &events),
            "channel" => replay::<Channel>(aggregate_type, id, &events),
            "message" => replay::<Message>(aggregate_type, id, &events),
            "conversation" => replay::<Conversation>(aggregate_type, id, &events),
            "doc" => replay::<Doc>(aggregate_type, id, &events),
            "file" => replay::<prism_domain::aggregates::File>(aggregate_type, id, &events),
            _ => Ok(None),
        }
    }

    /// Recomputes the hash chains (all, or one workspace's) and checks that every event the
    /// audit trail recorded is still in the log with the same hash.
    pub async fn verify(&self, workspace: Option<Uuid>) -> Result<Report, ProjectionError> {
        let mut report = self.store.verify(workspace).await?;
        for (f, _) in self.gone(workspace).await? {
            report.add(f);
        }
        Ok(report)
    }

    /// [`History::verify`] as `viewer` may be told it (`None` or an auditor: all of it). Every
    /// event is verified and `ok` is the whole record's — a tampered log is never reported
    /// intact — but `checked`, `bad` and `first_bad` count and name only events the visibility
    /// policy shows the viewer: an owner is not told how many events a direct conversation they
    /// are not in holds, nor its ids. `ok: false` with no `first_bad` means the events that do
    /// not verify are ones only their participants (and auditors) may see.
    pub async fn verify_as(&self, workspace: Option<Uuid>, viewer: Option<&Viewer>) -> Result<Report, ProjectionError> {
        let Some(viewer) = viewer.filter(|v| !v.auditor) else {
            return self.verify(workspace).await;
        };
        const BATCH: usize = 1_000;
        let pool = self.store.pool();
        let (mut shown, mut intact, mut known) = (Report::default(), true, Facts::default());
        let mut each = std::pin::pin!(self.store.verify_each(workspace));
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            let next = each.try_next().await?;
            let end = next.is_none();
            batch.extend(next);
            if batch.len() < BATCH && !end {
                continue;
            }
            // Split, not cloned: the policy reads the events, the count takes them after.
            let (events, reasons): (Vec<StoredEvent>, Vec<Option<String>>) = batch.drain(..).unzip();
            let hidden = visibility::hidden_from(pool, &events, viewer, &mut known).await?;
            for (e, reason) in events.into_iter().zip(reasons) {
                intact &= reason.is_none();
                if !hidden.contains(&e.global_position) {
                    shown.count(&e, reason);
                }
            }
            if end {
                break;
            }
        }
        let gone = self.gone(workspace).await?;
        intact &= gone.is_empty();
        let subjects: Vec<audit::Subject> = gone.iter().map(|(_, s)| s.clone()).collect();
        let hidden = visibility::hidden_from(
            pool,
            &audit::subject_envelopes(pool, &subjects).await?,
            viewer,
            &mut known,
        )
        .await?;
        for (f, _) in gone.into_iter().filter(|(f, _)| !hidden.contains(&f.position)) {
            shown.add(f);
        }
        shown.ok = intact;
        Ok(shown)
    }

    /// Events the audit trail recorded that are no longer in the log as recorded (at most
    /// 1,000), each with what the trail says of it.
    async fn gone(&self, workspace: Option<Uuid>) -> Result<Vec<(Finding, audit::Subject)>, ProjectionError> {
        // position, workspace, action, resource type and id, sequence, whether it is missing.
        type Gone = (i64, Option<Uuid>, String, String, Uuid, i64, bool);
        let rows: Vec<Gone> = sqlx::query_as(
            "SELECT a.position, a.workspace_id, a.action, a.resource_type, a.resource_id, a.sequence, e.global_position IS NULL
               FROM audit_trail a LEFT JOIN events e ON e.global_position = a.position
              WHERE (e.global_position IS NULL OR e.hash <> a.hash) AND ($1::uuid IS NULL OR a.workspace_id = $1)
              ORDER BY a.position LIMIT 1000",
        )
        .bind(workspace)
        .fetch_all(self.store.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(position, workspace_id, action, resource_type, resource_id, sequence, missing)| {
                    let finding = Finding {
                        position,
                        aggregate_type: resource_type.clone(),
                        aggregate_id: resource_id,
                        sequence,
                        reason: if missing {
                            "the audit trail recorded this event, but it is no longer in the log".into()
                        } else {
                            "the event's hash differs from the one the audit trail recorded".into()
                        },
                    };
                    let subject = audit::Subject {
                        position,
                        workspace_id,
                        action,
                        resource_type,
                        resource_id,
                        sequence,
                    };
                    (finding, subject)
                },
            )
            .collect())
    }
}

fn replay<A: Aggregate>(
    aggregate_type: &str,
    id: Uuid,
    events: &[StoredEvent],
) -> Result<Option<StateAt>, ProjectionError> {
    if events.is_empty() {
        return Ok(None);
    }
    let mut loaded = Loaded::<A>::default();
    for e in events {
        loaded.apply_stored(e)?;
    }
    Ok(Some(StateAt {
        aggregate_type: aggregate_type.to_owned(),
        aggregate_id: id,
        version: loaded.version,
        position: loaded.last_position,
        state: serde_json::to_value(&loaded.state)?,
    }))
}
