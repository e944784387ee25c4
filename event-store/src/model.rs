//! What goes into the log and what comes out of it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::hash::Hash;

/// Who caused an event and in answer to what: stored as the event's `metadata` jsonb.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// The user (or key, or system component) that caused it.
    pub actor_id: Option<Uuid>,
    /// `user`, `api_key` or `system`.
    pub actor_kind: String,
    /// Shared by every event caused by one client intent, across commands.
    pub correlation_id: Uuid,
    /// The event or request that caused this one.
    pub causation_id: Option<Uuid>,
    /// The HTTP request id, for finding the request's logs.
    pub request_id: Option<String>,
    /// Set when a support person acts on someone's behalf.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impersonator: Option<Uuid>,
}

/// One event to append: its dotted type, schema version and payload.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_type: String,
    pub event_version: i32,
    pub payload: Value,
}

/// A set-rule claim, e.g. `("email", "ann@example.com")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub scope: String,
    pub value: String,
}

impl Claim {
    pub fn new(scope: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            scope: scope.into(),
            value: value.into(),
        }
    }
}

/// Another aggregate a command was decided on, at the version it was read: the append fails
/// (`StoreError::GuardMoved`) if that aggregate has changed since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guard {
    pub aggregate_type: String,
    pub aggregate_id: Uuid,
    pub version: i64,
}

/// The first answer to a request with an `Idempotency-Key`, stored with its events.
#[derive(Debug, Clone)]
pub struct IdempotencyWrite {
    pub scope: String,
    pub key: String,
    /// A hash of the request, so a key reused for another request is caught.
    pub fingerprint: String,
    pub status: u16,
    /// The answer body; the store adds `position` once it is known.
    pub response: Value,
}

/// A stored first answer.
#[derive(Debug, Clone, PartialEq)]
pub struct IdempotentResponse {
    pub fingerprint: String,
    pub status: u16,
    pub response: Value,
}

/// One command's events for one aggregate, appended atomically.
#[derive(Debug, Clone)]
pub struct AppendBatch {
    pub tenant_id: Option<Uuid>,
    pub aggregate_type: String,
    pub aggregate_id: Uuid,
    /// The version the command was decided on (0 for a new aggregate).
    pub expected_version: i64,
    /// The hash of the event at `expected_version` (`hash::GENESIS` for a new aggregate).
    pub prev_hash: Hash,
    pub events: Vec<NewEvent>,
    pub metadata: Metadata,
    pub claims: Vec<Claim>,
    pub releases: Vec<Claim>,
    pub guards: Vec<Guard>,
    pub idempotency: Option<IdempotencyWrite>,
}

/// What an append produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Appended {
    pub first_position: i64,
    pub last_position: i64,
    /// The aggregate's version after the append.
    pub version: i64,
    pub last_hash: Hash,
}

/// An event as stored: the envelope every reader sees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    pub global_position: i64,
    pub event_id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub aggregate_type: String,
    pub aggregate_id: Uuid,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: i32,
    pub payload: Value,
    pub metadata: Value,
    pub recorded_at: DateTime<Utc>,
    #[serde(with = "hex_hash")]
    pub hash: Vec<u8>,
}

/// An event as an export writes it: the envelope with `payload` and `metadata` as the JSON
/// text Postgres renders, never parsed on the way (decoding and re-encoding them was most of an
/// export's own CPU), and the actor pulled out of the metadata by Postgres.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRow {
    pub global_position: i64,
    pub event_id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub aggregate_type: String,
    pub aggregate_id: Uuid,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: i32,
    pub payload: String,
    pub metadata: String,
    pub actor_id: Option<String>,
    pub actor_kind: Option<String>,
    pub recorded_at: DateTime<Utc>,
    pub hash: Vec<u8>,
}

mod hex_hash {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(h: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(h))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(s).map_err(serde::de::Error::custom)
    }
}

/// The envelope's columns, as a literal so queries are `concat!`-ed at compile time.
macro_rules! envelope_columns {
    () => {
        "global_position, event_id, tenant_id, aggregate_type, aggregate_id, sequence, \
         event_type, event_version, payload, metadata, recorded_at, hash"
    };
}
pub(crate) use envelope_columns;

/// The columns of an [`ExportRow`].
macro_rules! export_columns {
    () => {
        "global_position, event_id, tenant_id, aggregate_type, aggregate_id, sequence, \
         event_type, event_version, payload::text AS payload, metadata::text AS metadata, \
         metadata->>'actor_id' AS actor_id, metadata->>'actor_kind' AS actor_kind, recorded_at, hash"
    };
}
pub(crate) use export_columns;

/// One row of `events` (selected with [`export_columns!`]) as an [`ExportRow`].
pub(crate) fn export_row(row: &sqlx::postgres::PgRow) -> Result<ExportRow, crate::StoreError> {
    use sqlx::Row;
    Ok(ExportRow {
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
        actor_id: row.try_get("actor_id")?,
        actor_kind: row.try_get("actor_kind")?,
        recorded_at: row.try_get("recorded_at")?,
        hash: row.try_get("hash")?,
    })
}

/// One row of `events` (selected with [`envelope_columns!`]) as a [`StoredEvent`].
pub(crate) fn envelope(row: &sqlx::postgres::PgRow) -> Result<StoredEvent, crate::StoreError> {
    use sqlx::Row;
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
