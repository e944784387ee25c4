//! Verifying the log: every aggregate's hash chain recomputed from the rows alone.
//!
//! A chain catches a payload or metadata changed in place, a sequence renumbered or reordered,
//! an event removed from the middle of an aggregate and a forged event (its hash would need
//! every later hash redone). Removing an aggregate's *last* event leaves a valid, shorter
//! chain; the audit projection's copy of each event's hash catches that (see
//! `prism-projections`' audit verification).

use futures::TryStreamExt;
use serde::Serialize;
use uuid::Uuid;

use crate::hash::{self, Hash, Hashed, GENESIS};
use crate::model::StoredEvent;
use crate::model::{envelope, envelope_columns};
use crate::store::PgEventStore;
use crate::StoreError;

/// One event that does not verify.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub position: i64,
    pub aggregate_type: String,
    pub aggregate_id: Uuid,
    pub sequence: i64,
    pub reason: String,
}

/// The answer of a verification: `first_bad` is the earliest (by position) bad event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub ok: bool,
    pub checked: u64,
    pub first_bad: Option<Finding>,
    /// How many events did not verify.
    pub bad: u64,
}

impl Default for Report {
    /// Nothing checked yet: intact.
    fn default() -> Self {
        Self {
            ok: true,
            checked: 0,
            first_bad: None,
            bad: 0,
        }
    }
}

impl Report {
    /// Counts one checked event, and a finding if it did not verify.
    pub fn count(&mut self, e: &StoredEvent, reason: Option<String>) {
        self.checked += 1;
        if let Some(reason) = reason {
            self.add(Finding {
                position: e.global_position,
                aggregate_type: e.aggregate_type.clone(),
                aggregate_id: e.aggregate_id,
                sequence: e.sequence,
                reason,
            });
        }
    }

    pub fn add(&mut self, f: Finding) {
        self.ok = false;
        self.bad += 1;
        if self.first_bad.as_ref().is_none_or(|b| f.position < b.position) {
            self.first_bad = Some(f);
        }
    }
}

/// Follows one aggregate's chain event by event (events in sequence order).
#[derive(Default)]
pub struct Chain {
    current: Option<(String, Uuid)>,
    prev: Hash,
    expected: i64,
    broken: bool,
}

impl Chain {
    /// Checks the next event; a reason if it does not verify. After a break, the rest of that
    /// aggregate is not reported again (one finding per aggregate).
    pub fn push(&mut self, e: &StoredEvent) -> Option<String> {
        let same = self
            .current
            .as_ref()
            .is_some_and(|(t, id)| t == &e.aggregate_type && *id == e.aggregate_id);
        if !same {
            self.current = Some((e.aggregate_type.clone(), e.aggregate_id));
            self.prev = GENESIS;
            self.expected = 1;
            self.broken = false;
        }
        if self.broken {
            return None;
        }
        let reason = if e.sequence != self.expected {
            Some(format!(
                "sequence {} where {} was expected: an event is missing or was renumbered",
                e.sequence, self.expected
            ))
        } else {
            let h = hash::chain(
                &self.prev,
                &Hashed {
                    event_id: e.event_id,
                    tenant_id: e.tenant_id,
                    aggregate_type: &e.aggregate_type,
                    aggregate_id: e.aggregate_id,
                    sequence: e.sequence,
                    event_type: &e.event_type,
                    event_version: e.event_version,
                    payload: &e.payload,
                    metadata: &e.metadata,
                    recorded_at: e.recorded_at,
                },
            );
            if h[..] != e.hash[..] {
                Some("its hash does not match its content and the chain before it".to_owned())
            } else {
                self.prev = h;
                None
            }
        };
        self.expected = e.sequence + 1;
        self.broken = reason.is_some();
        reason
    }
}

impl PgEventStore {
    /// Recomputes every chain (or one workspace's), streaming the rows in chain order.
    pub async fn verify(&self, tenant: Option<Uuid>) -> Result<Report, StoreError> {
        let mut report = Report::default();
        let mut checked = self.verify_each(tenant);
        while let Some((e, reason)) = checked.try_next().await? {
            report.count(&e, reason);
        }
        Ok(report)
    }

    /// Every event (or one workspace's) in chain order, each with why it does not verify, if
    /// it does not: for a caller who counts only some of them (what a viewer may see).
    pub fn verify_each(
        &self,
        tenant: Option<Uuid>,
    ) -> impl futures::Stream<Item = Result<(StoredEvent, Option<String>), StoreError>> + Send + '_ {
        let sql = concat!(
            "SELECT ",
            envelope_columns!(),
            " FROM events WHERE ($1::uuid IS NULL OR tenant_id = $1) ORDER BY aggregate_type, aggregate_id, sequence"
        );
        let mut chain = Chain::default();
        sqlx::query(sql)
            .bind(tenant)
            .fetch(self.pool())
            .map_err(StoreError::from)
            .and_then(move |row| {
                let checked = envelope(&row).map(|e| {
                    let reason = chain.push(&e);
                    (e, reason)
                });
                futures::future::ready(checked)
            })
    }
}

/// Recomputes the hash chain of one aggregate's events as stored ([`PgEventStore::load_raw`]); the first bad sequence, if any.
pub fn verify_chain(events: &[StoredEvent]) -> Option<i64> {
    let mut chain = Chain::default();
    events.iter().find(|e| chain.push(e).is_some()).map(|e| e.sequence)
}
