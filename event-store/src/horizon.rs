//! The safe horizon: the highest global position below which no event can still appear.
//!
//! Why not `max(global_position)`: identity values are allocated when a row is inserted, not
//! when it commits. Writer A takes position 10, writer B takes 11 and commits first; a reader
//! that sees 11 and checkpoints there never sees 10 when A commits. Filtering on
//! `transaction_id < pg_snapshot_xmin(pg_current_snapshot())` alone is not enough either: xid
//! order and position order can disagree in both directions, and xmin is cluster-wide, so an
//! unrelated long transaction in another database would stall every reader.
//!
//! The scheme (proved by `tests/no_skip.rs`):
//! 1. every appender takes a shared transaction-level advisory lock *before* it allocates a
//!    position, and holds it until it commits or aborts (`prism_append`);
//! 2. a probe reads, in this order, the last allocated position `V` and the set `X` of virtual
//!    transaction ids holding that lock (`prism_horizon_probe`). Any appender that allocated a
//!    position ≤ V already held the lock when V was read, so it is either finished or in X;
//! 3. once no member of X holds the lock any more, every position ≤ V is final (committed or
//!    never to exist). Virtual transaction ids are never reused, so "X ∩ now = ∅" is exact.
//!
//! Probes are kept until they ripen, so under constant load the horizon trails the newest
//! append by about one append's duration, and a deliberately slow transaction holds back only
//! the positions allocated after it started, not the writers.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use sqlx::PgPool;

use crate::StoreError;

#[derive(Debug)]
struct Probe {
    upto: i64,
    waiting_on: Vec<String>,
}

/// Remembers unripe probes between calls; share one per event store.
#[derive(Debug, Default)]
pub struct Horizon {
    state: Mutex<(i64, VecDeque<Probe>)>,
}

impl Horizon {
    /// Probes the database and returns the current safe horizon.
    pub async fn current(&self, pool: &PgPool) -> Result<i64, StoreError> {
        let (upto, inflight): (i64, Vec<String>) =
            sqlx::query_as("SELECT last_allocated, inflight FROM prism_horizon_probe()")
                .fetch_one(pool)
                .await?;
        Ok(self.observe(upto, inflight))
    }

    /// Folds one probe into the state: pending probes whose appenders have all finished ripen.
    fn observe(&self, upto: i64, inflight: Vec<String>) -> i64 {
        let now: HashSet<&str> = inflight.iter().map(String::as_str).collect();
        let mut guard = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (safe, pending) = &mut *guard;
        for p in pending.iter_mut() {
            p.waiting_on.retain(|v| now.contains(v.as_str()));
        }
        // This probe's own in-flight set is `now`: it ripens on a later call, unless empty.
        if inflight.is_empty() {
            *safe = (*safe).max(upto);
        } else {
            pending.push_back(Probe {
                upto,
                waiting_on: inflight,
            });
        }
        for p in pending.iter().filter(|p| p.waiting_on.is_empty()) {
            *safe = (*safe).max(p.upto);
        }
        let s = *safe;
        pending.retain(|p| !p.waiting_on.is_empty() && p.upto > s);
        // Bound memory under pathological load: older probes are subsumed by newer ones.
        while pending.len() > 1024 {
            pending.pop_front();
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_ripens_when_its_writers_finish() {
        let h = Horizon::default();
        assert_eq!(h.observe(5, vec![]), 5);
        // 9 allocated, writer "3/7" in flight: not safe past 5 yet.
        assert_eq!(h.observe(9, vec!["3/7".into()]), 5);
        // 12 allocated, "3/7" still there and "4/2" new.
        assert_eq!(h.observe(12, vec!["3/7".into(), "4/2".into()]), 5);
        // "3/7" done: the first probe (9) ripens; the second still waits on "4/2".
        assert_eq!(h.observe(12, vec!["4/2".into()]), 9);
        assert_eq!(h.observe(15, vec![]), 15);
    }
}
