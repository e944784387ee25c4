//! `PgEventStore`: the Postgres event log.

use std::sync::Arc;

use serde_json::Value;
use sqlx::{PgConnection, PgPool, Row};
use tokio::sync::watch;
use uuid::Uuid;

use prism_domain::upcast::{self, Upcast};

use crate::append::{append_many, check_size};
use crate::batcher::Batcher;
use crate::horizon::Horizon;
use crate::model::*;

/// A page of the log, all of it or one tenant's. Two statements rather than `$4 IS NULL OR
/// tenant_id = $4`: each gets its own plan (the primary key for one, the tenant index for the
/// other).
macro_rules! page_sql {
    ($columns:expr) => {
        [
            concat!(
                "SELECT ",
                $columns,
                " FROM events WHERE global_position > $1 AND global_position <= $2 ORDER BY global_position LIMIT $3"
            ),
            concat!(
                "SELECT ",
                $columns,
                " FROM events WHERE global_position > $1 AND global_position <= $2 AND tenant_id = $4
                  ORDER BY global_position LIMIT $3"
            ),
        ]
    };
}
const RAW_PAGE: [&str; 2] = page_sql!(envelope_columns!());
const EXPORT_PAGE: [&str; 2] = page_sql!(export_columns!());
use crate::StoreError;

/// The Postgres event log. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct PgEventStore {
    pool: PgPool,
    upcasts: Arc<Vec<Upcast>>,
    horizon: Arc<Horizon>,
    snapshot_every: i64,
    batcher: Option<Batcher>,
    /// The last position this process appended (every clone shares it): wakes the relay.
    committed: Arc<watch::Sender<i64>>,
}

/// A snapshot: an aggregate's serialised state at a version.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub version: i64,
    pub last_position: i64,
    pub state: Value,
    pub hash: Vec<u8>,
}

/// An aggregate's raw history as loaded: the latest snapshot (if any) and the events after it.
#[derive(Debug, Clone)]
pub struct RawHistory {
    pub snapshot: Option<Snapshot>,
    pub events: Vec<StoredEvent>,
}

impl PgEventStore {
    /// `snapshot_every`: take a snapshot each time an aggregate's version crosses a multiple of it
    /// (0 disables snapshots).
    pub fn new(pool: PgPool, snapshot_every: i64) -> Self {
        Self {
            pool,
            upcasts: Arc::new(upcast::all()),
            horizon: Arc::new(Horizon::default()),
            snapshot_every,
            batcher: None,
            committed: Arc::new(watch::Sender::new(0)),
        }
    }

    /// Changes each time an append of this process (any clone of this store) commits, to the
    /// last position it wrote: the relay's wake-up, so one node needs no poll to see a write.
    pub fn committed(&self) -> watch::Receiver<i64> {
        self.committed.subscribe()
    }

    fn saw_commit(&self, a: &Appended) {
        self.committed.send_if_modified(|p| {
            let newer = a.last_position > *p;
            if newer {
                *p = a.last_position;
            }
            newer
        });
    }

    /// Turns on group commit: concurrent appends are written together, up to `max_batch`
    /// commands per statement, by `flushers` concurrent writers. Needs a Tokio runtime.
    pub fn with_group_commit(mut self, flushers: usize, max_batch: usize) -> Self {
        self.batcher = Some(Batcher::spawn(self.pool.clone(), flushers, max_batch));
        self
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn snapshot_every(&self) -> i64 {
        self.snapshot_every
    }

    /// Appends one command's events, claims and idempotency record atomically. With group
    /// commit on (the default for servers), concurrent appends share one statement and one
    /// transaction ([`crate::batcher`]).
    pub async fn append(&self, batch: AppendBatch) -> Result<Appended, StoreError> {
        check_size(&batch)?;
        let appended = match &self.batcher {
            Some(b) => b.submit(batch).await?,
            None => {
                let mut conn = self.pool.acquire().await?;
                self.append_on(&mut conn, batch).await?
            }
        };
        self.saw_commit(&appended);
        Ok(appended)
    }

    /// Like [`append`](Self::append) on a caller's connection, so a caller may wrap it in a
    /// transaction with writes of its own (e.g. credentials at registration).
    pub async fn append_on(&self, conn: &mut PgConnection, batch: AppendBatch) -> Result<Appended, StoreError> {
        check_size(&batch)?;
        let mut out = append_many(conn, std::slice::from_ref(&batch)).await?;
        out.pop()
            .ok_or_else(|| StoreError::Failed("the append returned nothing".into()))
    }

    /// An aggregate's latest snapshot and the events after it, in one round trip, upcast.
    pub async fn load_history(&self, aggregate_type: &str, id: Uuid) -> Result<RawHistory, StoreError> {
        let rows = sqlx::query(
            "WITH s AS (SELECT version, last_position, state, hash FROM snapshots WHERE aggregate_type = $1 AND aggregate_id = $2)
             SELECT 0 AS kind, s.version AS sequence, s.last_position AS global_position, s.state AS payload, s.hash,
                    NULL::uuid AS event_id, NULL::uuid AS tenant_id, NULL::text AS aggregate_type, NULL::uuid AS aggregate_id,
                    NULL::text AS event_type, NULL::int AS event_version, NULL::jsonb AS metadata, NULL::timestamptz AS recorded_at
               FROM s
             UNION ALL
             SELECT 1 AS kind, sequence, global_position, payload, hash, event_id, tenant_id, aggregate_type, aggregate_id,
                    event_type, event_version, metadata, recorded_at
               FROM events e
              WHERE e.aggregate_type = $1 AND e.aggregate_id = $2
                AND e.sequence > coalesce((SELECT version FROM s), 0)
             ORDER BY kind, sequence",
        )
        .bind(aggregate_type)
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let mut history = RawHistory {
            snapshot: None,
            events: Vec::with_capacity(rows.len()),
        };
        for row in rows {
            if row.try_get::<i32, _>("kind")? == 0 {
                history.snapshot = Some(Snapshot {
                    version: row.try_get("sequence")?,
                    last_position: row.try_get("global_position")?,
                    state: row.try_get("payload")?,
                    hash: row.try_get("hash")?,
                });
            } else {
                history.events.push(self.upcast(envelope(&row)?));
            }
        }
        Ok(history)
    }

    /// The events of one aggregate after `version` (for catching a cached state up).
    pub async fn load_after(
        &self,
        aggregate_type: &str,
        id: Uuid,
        version: i64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            envelope_columns!(),
            " FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence > $3 ORDER BY sequence"
        ))
        .bind(aggregate_type)
        .bind(id)
        .bind(version)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| envelope(r).map(|e| self.upcast(e))).collect()
    }

    /// One aggregate's events up to a position (all if `None`), upcast: its history as of then.
    pub async fn load_until(
        &self,
        aggregate_type: &str,
        id: Uuid,
        at_position: Option<i64>,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            envelope_columns!(),
            " FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 AND global_position <= coalesce($3, 9223372036854775807)
              ORDER BY sequence"
        ))
        .bind(aggregate_type)
        .bind(id)
        .bind(at_position)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| envelope(r).map(|e| self.upcast(e))).collect()
    }

    /// Events after `after` as stored (not upcast, so their hashes verify), optionally one
    /// tenant's, never past the safe horizon: for exports and auditors.
    pub async fn read_raw(&self, after: i64, limit: i64, tenant: Option<Uuid>) -> Result<Vec<StoredEvent>, StoreError> {
        self.read_page(after, limit, tenant, RAW_PAGE, envelope).await
    }

    /// [`Self::read_raw`] for an export: the same events, their JSON as text.
    pub async fn read_export(
        &self,
        after: i64,
        limit: i64,
        tenant: Option<Uuid>,
    ) -> Result<Vec<ExportRow>, StoreError> {
        self.read_page(after, limit, tenant, EXPORT_PAGE, export_row).await
    }

    /// One page of the log after `after`, up to the safe horizon, in one of two shapes
    /// (`sql`: everything, one tenant's), each row read by `row`.
    async fn read_page<T>(
        &self,
        after: i64,
        limit: i64,
        tenant: Option<Uuid>,
        sql: [&'static str; 2],
        row: fn(&sqlx::postgres::PgRow) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let horizon = self.safe_horizon().await?;
        if horizon <= after {
            return Ok(Vec::new());
        }
        let mut query = sqlx::query(sql[usize::from(tenant.is_some())])
            .bind(after)
            .bind(horizon)
            .bind(limit);
        if let Some(t) = tenant {
            query = query.bind(t);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(row).collect()
    }

    /// The events that revoke sessions (logout, refresh reuse, erasure, …) after `after`, up to
    /// the safe horizon, and the position read up to. From `after = 0` only those of the last
    /// `recent` are read: older ones revoke nothing that is still alive.
    pub async fn revoking_events(
        &self,
        after: i64,
        recent: std::time::Duration,
    ) -> Result<(Vec<StoredEvent>, i64), StoreError> {
        let horizon = self.safe_horizon().await?;
        if horizon <= after {
            return Ok((Vec::new(), after));
        }
        // The event types are spelled out (not bound) so the partial index `events_revoking`
        // applies.
        let rows = sqlx::query(concat!(
            "SELECT ",
            envelope_columns!(),
            " FROM events
              WHERE event_type IN ('auth.logged_out', 'auth.refresh_reuse_detected', 'auth.session_revoked', 'user.erased', 'auth.password_changed', 'impersonation.ended')
                AND global_position > $1 AND global_position <= $2
                AND ($1 > 0 OR recorded_at > now() - make_interval(secs => $3))
              ORDER BY global_position"
        ))
        .bind(after)
        .bind(horizon)
        .bind(recent.as_secs_f64())
        .fetch_all(&self.pool)
        .await?;
        let events = rows.iter().map(envelope).collect::<Result<Vec<_>, _>>()?;
        Ok((events, horizon))
    }

    /// The API-key events (`api_key.created|revoked`) after a log position, below the safe
    /// horizon, with the position read up to: how every node learns which keys are live.
    pub async fn api_key_events(&self, after: i64) -> Result<(Vec<StoredEvent>, i64), StoreError> {
        let horizon = self.safe_horizon().await?;
        if horizon <= after {
            return Ok((Vec::new(), after));
        }
        // Spelled out so the partial index `events_api_keys` applies.
        let rows = sqlx::query(concat!(
            "SELECT ",
            envelope_columns!(),
            " FROM events
              WHERE event_type IN ('api_key.created', 'api_key.revoked')
                AND global_position > $1 AND global_position <= $2
              ORDER BY global_position"
        ))
        .bind(after)
        .bind(horizon)
        .fetch_all(&self.pool)
        .await?;
        let events = rows.iter().map(envelope).collect::<Result<Vec<_>, _>>()?;
        Ok((events, horizon))
    }

    /// One aggregate's events exactly as stored (not upcast): what the hash chain covers.
    pub async fn load_raw(&self, aggregate_type: &str, id: Uuid) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            envelope_columns!(),
            " FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence"
        ))
        .bind(aggregate_type)
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(envelope).collect()
    }

    /// The events at these positions, as stored, in position order (those not in the log are
    /// absent).
    pub async fn read_positions(&self, positions: &[i64]) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            envelope_columns!(),
            " FROM events WHERE global_position = ANY($1) ORDER BY global_position"
        ))
        .bind(positions)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(envelope).collect()
    }

    /// Stores a snapshot unless a newer one is already there.
    pub async fn save_snapshot(&self, aggregate_type: &str, id: Uuid, snap: &Snapshot) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO snapshots (aggregate_type, aggregate_id, version, last_position, state, hash)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE
                SET version = EXCLUDED.version, last_position = EXCLUDED.last_position, state = EXCLUDED.state,
                    hash = EXCLUDED.hash, taken_at = now()
              WHERE snapshots.version < EXCLUDED.version",
        )
        .bind(aggregate_type)
        .bind(id)
        .bind(snap.version)
        .bind(snap.last_position)
        .bind(&snap.state)
        .bind(&snap.hash)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The last position allocated (committed or not): no answered write is past it.
    pub async fn head(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT coalesce(max(global_position), 0) FROM events")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// The current safe horizon (see [`crate::horizon`]).
    pub async fn safe_horizon(&self) -> Result<i64, StoreError> {
        self.horizon.current(&self.pool).await
    }

    /// Up to `limit` events after `after`, in global order, never past the safe horizon: a
    /// reader that checkpoints the last position it got never skips an event.
    pub async fn read_all(&self, after: i64, limit: i64) -> Result<Vec<StoredEvent>, StoreError> {
        let events = self.read_raw(after, limit, None).await?;
        Ok(events.into_iter().map(|e| self.upcast(e)).collect())
    }

    /// Like [`read_all`](Self::read_all), one tenant's events only (for live feeds).
    pub async fn read_tenant(&self, tenant: Uuid, after: i64, limit: i64) -> Result<Vec<StoredEvent>, StoreError> {
        let events = self.read_raw(after, limit, Some(tenant)).await?;
        Ok(events.into_iter().map(|e| self.upcast(e)).collect())
    }

    /// The stored first answer for an idempotency key, if any.
    /// The stored first answer for an idempotency key, if one younger than `ttl` is kept (an
    /// older one is deleted here: the key is free again).
    pub async fn idempotent_response(
        &self,
        scope: &str,
        key: &str,
        ttl: std::time::Duration,
    ) -> Result<Option<IdempotentResponse>, StoreError> {
        let row = sqlx::query(
            "WITH expired AS (
                 DELETE FROM idempotency_keys
                  WHERE scope = $1 AND key = $2 AND created_at < now() - make_interval(secs => $3)
             )
             SELECT fingerprint, status, response FROM idempotency_keys
              WHERE scope = $1 AND key = $2 AND created_at >= now() - make_interval(secs => $3)",
        )
        .bind(scope)
        .bind(key)
        .bind(ttl.as_secs_f64())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(IdempotentResponse {
                fingerprint: r.try_get(0)?,
                status: u16::try_from(r.try_get::<i32, _>(1)?).unwrap_or(200),
                response: r.try_get(2)?,
            })
        })
        .transpose()
    }

    /// Deletes stored first answers older than `ttl`.
    pub async fn expire_idempotency(&self, ttl: std::time::Duration) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1)")
                .bind(ttl.as_secs_f64())
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    /// Deletes the stored first answers of `scope` about aggregate `subject` (they may quote
    /// what the aggregate held: when it goes, they go), but the one under `keep` (the answer to
    /// the deletion itself, which quotes nothing).
    pub async fn forget_answers_about(
        &self,
        scope: &str,
        subject: Uuid,
        keep: Option<&str>,
    ) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "DELETE FROM idempotency_keys
                  WHERE scope = $1 AND response->>'_subject' = $2 AND key IS DISTINCT FROM $3",
        )
        .bind(scope)
        .bind(subject.to_string())
        .bind(keep)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// Who holds a uniqueness claim, if anyone.
    pub async fn claim_owner(&self, claim: &Claim) -> Result<Option<Uuid>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT owner_id FROM uniqueness WHERE scope = $1 AND value = $2")
                .bind(&claim.scope)
                .bind(&claim.value)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// This log's store id (made when it was first migrated).
    pub async fn store_id(&self) -> Result<Uuid, StoreError> {
        Ok(sqlx::query_scalar("SELECT store_id FROM store_identity")
            .fetch_one(&self.pool)
            .await?)
    }

    /// An event as stored, brought to the current schema version (for events read elsewhere,
    /// such as from an export).
    pub fn upcast(&self, mut e: StoredEvent) -> StoredEvent {
        let (v, p) = upcast::upcast(
            &e.event_type,
            e.event_version,
            std::mem::take(&mut e.payload),
            &self.upcasts,
        );
        e.event_version = v;
        e.payload = p;
        e
    }
}
