//! The append statement: one `prism_append` call for one or more commands (the group commit's
//! batch), with the size check, the hash chain of each command's events and the columns the
//! function takes. The store ([`crate::store`]) and the group-commit batcher
//! ([`crate::batcher`]) both call [`append_many`]; it imports neither.

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::hash::{self, Hash, Hashed};
use crate::model::*;
use crate::StoreError;

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
pub(crate) fn check_size(batch: &AppendBatch) -> Result<(), StoreError> {
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
