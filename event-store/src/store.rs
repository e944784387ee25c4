//! `PgEventStore`: the Postgres event log.

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use tokio::sync::watch;
use uuid::Uuid;

use prism_domain::upcast::{self, Upcast};

use crate::batcher::Batcher;
use crate::hash::{self, Hash, Hashed};
use crate::horizon::Horizon;
use crate::model::*;
use crate::StoreError;

/// The envelope's columns, as a literal so queries are `concat!`-ed at compile time.
macro_rules! envelope_columns {
    () => {
        "global_position, event_id, tenant_id, aggregate_type, aggregate_id, sequence, \
         event_type, event_version, payload, metadata, recorded_at, hash"
    };
}
pub(crate) use envelope_columns;

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
        let horizon = self.safe_horizon().await?;
        if horizon <= after {
            return Ok(Vec::new());
        }
        // Two statements rather than `$4 IS NULL OR tenant_id = $4`: each gets its own plan (the
        // tenant index for one, the primary key for the other).
        let sql = match tenant {
            None => concat!(
                "SELECT ",
                envelope_columns!(),
                " FROM events WHERE global_position > $1 AND global_position <= $2 ORDER BY global_position LIMIT $3"
            ),
            Some(_) => concat!(
                "SELECT ",
                envelope_columns!(),
                " FROM events WHERE global_position > $1 AND global_position <= $2 AND tenant_id = $4
                  ORDER BY global_position LIMIT $3"
            ),
        };
        let mut query = sqlx::query(sql).bind(after).bind(horizon).bind(limit);
        if let Some(t) = tenant {
            query = query.bind(t);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(envelope).collect()
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
              WHERE event_type IN ('auth.logged_out', 'auth.refresh_reuse_detected', 'auth.session_revoked', 'user.erased')
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

/// The parallel arrays `prism_append` takes, for one or more commands.
#[derive(Default)]
struct Columns {
    tenants: Vec<Option<Uuid>>,
    types: Vec<String>,
    ids: Vec<Uuid>,
    expected: Vec<i64>,
    prev_hashes: Vec<Vec<u8>>,
    idem_scopes: Vec<Option<String>>,
    idem_keys: Vec<Option<String>>,
    idem_fingerprints: Vec<Option<String>>,
    idem_status: Vec<Option<i32>>,
    idem_responses: Vec<Option<Value>>,
    e_item: Vec<i32>,
    e_ids: Vec<Uuid>,
    e_types: Vec<String>,
    e_versions: Vec<i32>,
    e_payloads: Vec<Value>,
    e_metadata: Vec<Value>,
    e_hashes: Vec<Vec<u8>>,
    e_sequences: Vec<i64>,
    e_recorded_at: Vec<DateTime<Utc>>,
    c_item: Vec<i32>,
    c_scopes: Vec<String>,
    c_values: Vec<String>,
    r_item: Vec<i32>,
    r_scopes: Vec<String>,
    r_values: Vec<String>,
    g_types: Vec<String>,
    g_ids: Vec<Uuid>,
    g_versions: Vec<i64>,
}

/// The largest event the log takes, as its envelope's JSON: well below what the bus carries
/// (NATS's default `max_payload` is 1 MiB), so no event can be stored that the relay cannot
/// publish. A 40,000-character message or a 100,000-character doc fits many times over.
pub const MAX_EVENT_BYTES: usize = 512 * 1024;

/// Room for an envelope's fixed fields (ids, types, positions, hash, timestamps).
const ENVELOPE_OVERHEAD: usize = 1024;

/// Refuses a batch with an event whose envelope would pass [`MAX_EVENT_BYTES`].
fn check_size(batch: &AppendBatch) -> Result<(), StoreError> {
    let metadata = json_len(&batch.metadata)?;
    for e in &batch.events {
        let bytes = ENVELOPE_OVERHEAD + metadata + json_len(&e.payload)?;
        if bytes > MAX_EVENT_BYTES {
            return Err(StoreError::EventTooLarge {
                bytes,
                max: MAX_EVENT_BYTES,
            });
        }
    }
    Ok(())
}

/// The length of `v` as JSON, without keeping the bytes.
fn json_len(v: &impl serde::Serialize) -> Result<usize, StoreError> {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    serde_json::to_writer(&mut c, v)?;
    Ok(c.0)
}

impl Columns {
    /// Adds one command: gives each event its id and chains its hash. Returns the last hash.
    fn push(&mut self, item: i32, batch: &AppendBatch) -> Result<Hash, StoreError> {
        let recorded_at = Utc::now().trunc_subsecs(6);
        let metadata = serde_json::to_value(&batch.metadata)?;
        let mut prev = batch.prev_hash;
        for (i, e) in batch.events.iter().enumerate() {
            let id = Uuid::now_v7();
            let sequence = batch.expected_version + 1 + i as i64;
            prev = hash::chain(
                &prev,
                &Hashed {
                    event_id: id,
                    tenant_id: batch.tenant_id,
                    aggregate_type: &batch.aggregate_type,
                    aggregate_id: batch.aggregate_id,
                    sequence,
                    event_type: &e.event_type,
                    event_version: e.event_version,
                    payload: &e.payload,
                    metadata: &metadata,
                    recorded_at,
                },
            );
            self.e_item.push(item);
            self.e_ids.push(id);
            self.e_types.push(e.event_type.clone());
            self.e_versions.push(e.event_version);
            self.e_payloads.push(e.payload.clone());
            self.e_metadata.push(metadata.clone());
            self.e_hashes.push(prev.to_vec());
            self.e_sequences.push(sequence);
            self.e_recorded_at.push(recorded_at);
        }
        self.tenants.push(batch.tenant_id);
        self.types.push(batch.aggregate_type.clone());
        self.ids.push(batch.aggregate_id);
        self.expected.push(batch.expected_version);
        self.prev_hashes.push(batch.prev_hash.to_vec());
        let idem = batch.idempotency.as_ref();
        self.idem_scopes.push(idem.map(|i| i.scope.clone()));
        self.idem_keys.push(idem.map(|i| i.key.clone()));
        self.idem_fingerprints.push(idem.map(|i| i.fingerprint.clone()));
        self.idem_status.push(idem.map(|i| i32::from(i.status)));
        self.idem_responses.push(idem.map(|i| i.response.clone()));
        for c in &batch.claims {
            self.c_item.push(item);
            self.c_scopes.push(c.scope.clone());
            self.c_values.push(c.value.clone());
        }
        for g in &batch.guards {
            self.g_types.push(g.aggregate_type.clone());
            self.g_ids.push(g.aggregate_id);
            self.g_versions.push(g.version);
        }
        for r in &batch.releases {
            self.r_item.push(item);
            self.r_scopes.push(r.scope.clone());
            self.r_values.push(r.value.clone());
        }
        Ok(prev)
    }
}

/// Appends several commands' events in one statement (one transaction unless the caller's
/// connection is in one). All or nothing: any conflict fails the whole call.
pub(crate) async fn append_many(conn: &mut PgConnection, batches: &[AppendBatch]) -> Result<Vec<Appended>, StoreError> {
    let mut cols = Columns::default();
    let mut hashes = Vec::with_capacity(batches.len());
    for (i, b) in batches.iter().enumerate() {
        hashes.push(cols.push(i as i32 + 1, b)?);
    }
    let rows: Vec<(i32, i64, i64)> = sqlx::query_as(
        "SELECT item, first_position, last_position FROM prism_append(
            $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)",
    )
    .bind(&cols.tenants)
    .bind(&cols.types)
    .bind(&cols.ids)
    .bind(&cols.expected)
    .bind(&cols.prev_hashes)
    .bind(&cols.idem_scopes)
    .bind(&cols.idem_keys)
    .bind(&cols.idem_fingerprints)
    .bind(&cols.idem_status)
    .bind(&cols.idem_responses)
    .bind(&cols.e_item)
    .bind(&cols.e_ids)
    .bind(&cols.e_types)
    .bind(&cols.e_versions)
    .bind(&cols.e_payloads)
    .bind(&cols.e_metadata)
    .bind(&cols.e_hashes)
    .bind(&cols.e_sequences)
    .bind(&cols.e_recorded_at)
    .bind(&cols.c_item)
    .bind(&cols.c_scopes)
    .bind(&cols.c_values)
    .bind(&cols.r_item)
    .bind(&cols.r_scopes)
    .bind(&cols.r_values)
    .bind(&cols.g_types)
    .bind(&cols.g_ids)
    .bind(&cols.g_versions)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| match StoreError::from(e) {
        StoreError::VersionConflict { .. } if batches.len() == 1 => {
            StoreError::VersionConflict {
                expected: Some(batches[0].expected_version),
            }
        }
        other => other,
    })?;
    let mut out = Vec::with_capacity(batches.len());
    for (i, b) in batches.iter().enumerate() {
        let (_, first, last) = rows
            .iter()
            .find(|(item, _, _)| *item == i as i32 + 1)
            .copied()
            .ok_or_else(|| StoreError::Failed(format!("no positions for item {}", i + 1)))?;
        out.push(Appended {
            first_position: first,
            last_position: last,
            version: b.expected_version + b.events.len() as i64,
            last_hash: hashes[i],
        });
    }
    Ok(out)
}

pub(crate) fn envelope(row: &PgRow) -> Result<StoredEvent, StoreError> {
    Ok(StoredEvent {
        global_position: row.try_get("global_position")?,
        event_id: row.try_get("event_id")?,
        tenant_id: row.try_get("tenant_id")?,
        aggregate_type: row.try_get("aggregate_type")?,
        aggregate_id: row.try_get("aggregate_id")?,
        sequence: row.try_get("sequence")?,
        event_type: row.try_get("event_type")?,
        event_version: row.try_get("event_version")?,
        payload: row.try_get("payload")?,
        metadata: row.try_get("metadata")?,
        recorded_at: row.try_get("recorded_at")?,
        hash: row.try_get("hash")?,
    })
}

/// Recomputes the hash chain of one aggregate's events as stored ([`PgEventStore::load_raw`]); the first bad sequence, if any.
pub fn verify_chain(events: &[StoredEvent]) -> Option<i64> {
    let mut chain = crate::verify::Chain::default();
    events.iter().find(|e| chain.push(e).is_some()).map(|e| e.sequence)
}
