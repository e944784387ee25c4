//! The event store: Prism's source of truth, one PostgreSQL `events` table for every aggregate.
//!
//! It owns the log's schema (see `migrations/`), appending one command's events in one
//! statement with an expected version and a per-aggregate hash chain, loading aggregates from
//! snapshots plus the events after them (upcast to the current schema), and reading the whole
//! log in global order without ever skipping an event ([`horizon`]). The set-rule claims and
//! idempotency records that must commit with the events live here too.
//!
//! It may import `prism-domain` (for events and upcasts) and sqlx; nothing above it.
//! Inside, modules import one way only (no circles): `hash`, `model` (the envelope and how a
//! row reads as one) ← `append` (the append statement and its columns) ← `batcher` (group
//! commit) ← `store` ← `aggregate` (loading) and `verify` (the chain, checked).
//! Capabilities are split into small traits ([`AppendEvents`], [`ReadAggregate`], [`ReadAll`]) so
//! an embedded backend can implement the same contract later.

pub mod aggregate;
mod append;
mod batcher;
pub mod db;
pub mod error;
pub mod hash;
pub mod horizon;
pub mod model;
pub mod store;
pub mod verify;

use std::future::Future;

pub use aggregate::Loaded;
pub use append::MAX_EVENT_BYTES;
pub use error::StoreError;
pub use model::*;
pub use store::{PgEventStore, RawHistory, Snapshot};
pub use verify::verify_chain;

/// Appends one command's events atomically, with an expected version.
pub trait AppendEvents {
    fn append(&self, batch: AppendBatch) -> impl Future<Output = Result<Appended, StoreError>> + Send;
}

/// Reads one aggregate's history.
pub trait ReadAggregate {
    fn load_history(
        &self,
        aggregate_type: &str,
        id: uuid::Uuid,
    ) -> impl Future<Output = Result<RawHistory, StoreError>> + Send;
}

/// Reads the whole log in global order, never past the safe horizon.
pub trait ReadAll {
    fn read_all(&self, after: i64, limit: i64) -> impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send;
}

impl AppendEvents for PgEventStore {
    fn append(&self, batch: AppendBatch) -> impl Future<Output = Result<Appended, StoreError>> + Send {
        PgEventStore::append(self, batch)
    }
}

impl ReadAggregate for PgEventStore {
    fn load_history(
        &self,
        aggregate_type: &str,
        id: uuid::Uuid,
    ) -> impl Future<Output = Result<RawHistory, StoreError>> + Send {
        PgEventStore::load_history(self, aggregate_type, id)
    }
}

impl ReadAll for PgEventStore {
    fn read_all(&self, after: i64, limit: i64) -> impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send {
        PgEventStore::read_all(self, after, limit)
    }
}
