//! Who may search now, and when a search must stop.
//!
//! A search runs on a blocking thread (Tantivy is synchronous), which an async request cannot
//! abort. So every search carries a [`Cancel`] that its collector reads as it walks the
//! postings, and that is set when any of these happens:
//! - the request ends (answered, timed out, the client left): [`CancelOnDrop`] is held by the
//!   request's future and sets it when dropped;
//! - the search passes its own deadline ([`DEADLINE`]);
//! - the node shuts down ([`Gate::close`]): shutdown never waits on a search.
//!
//! Admission is bounded per node and per caller, counted until the blocking thread has really
//! finished (the [`Ticket`] is moved into it), so a cancelled search that is still unwinding is
//! still counted and nobody can stack up threads by hanging up.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::{DocId, DocSet, Score, SegmentOrdinal, SegmentReader, TERMINATED};

/// The longest one search may run, whatever the request's own timeout.
pub const DEADLINE: Duration = Duration::from_secs(5);

/// Why a search was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The node runs as many searches as it may.
    Node,
    /// The caller runs as many searches as one caller may.
    Caller,
    /// The node is shutting down.
    Closing,
}

/// How many searches may run at once.
#[derive(Debug, Clone, Copy)]
pub struct GateLimits {
    pub per_node: usize,
    pub per_caller: usize,
}

impl Default for GateLimits {
    /// Two per core on the node (a search is CPU work: more would only queue on the cores), two
    /// per caller.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            per_node: 2 * cores,
            per_caller: 2,
        }
    }
}

#[derive(Default)]
struct Counts {
    total: usize,
    by_caller: HashMap<uuid::Uuid, usize>,
}

struct Inner {
    limits: GateLimits,
    counts: Mutex<Counts>,
    closing: Arc<AtomicBool>,
}

/// Admission to the index's searches.
#[derive(Clone)]
pub struct Gate(Arc<Inner>);

impl Gate {
    pub fn new(limits: GateLimits) -> Self {
        Self(Arc::new(Inner {
            limits,
            counts: Mutex::new(Counts::default()),
            closing: Arc::new(AtomicBool::new(false)),
        }))
    }

    /// A place for one search of `caller`'s, or why not. The ticket goes with the blocking
    /// work; the guard stays with the request and cancels the work when the request ends.
    pub fn admit(&self, caller: uuid::Uuid) -> Result<(Ticket, CancelOnDrop), Refused> {
        if self.0.closing.load(Ordering::Acquire) {
            return Err(Refused::Closing);
        }
        let mut c = self.0.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if c.total >= self.0.limits.per_node {
            return Err(Refused::Node);
        }
        let mine = c.by_caller.entry(caller).or_default();
        if *mine >= self.0.limits.per_caller {
            return Err(Refused::Caller);
        }
        *mine += 1;
        c.total += 1;
        let flag = Arc::new(AtomicBool::new(false));
        let cancel = Cancel {
            mine: flag.clone(),
            closing: self.0.closing.clone(),
            deadline: Instant::now() + DEADLINE,
        };
        Ok((
            Ticket {
                gate: self.clone(),
                caller,
                cancel,
            },
            CancelOnDrop(flag),
        ))
    }

    /// Searches running now (their threads included, cancelled or not).
    pub fn in_flight(&self) -> usize {
        self.0.counts.lock().map_or(0, |c| c.total)
    }

    /// Cancels every running search and admits no more.
    pub fn close(&self) {
        self.0.closing.store(true, Ordering::Release);
    }
}

/// One admitted search; its place is given back when dropped (at the end of the blocking work).
pub struct Ticket {
    gate: Gate,
    caller: uuid::Uuid,
    cancel: Cancel,
}

impl Ticket {
    pub fn cancel(&self) -> &Cancel {
        &self.cancel
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut c = self
            .gate
            .0
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.by_caller.get_mut(&self.caller) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.by_caller.remove(&self.caller);
            }
        }
    }
}

/// Held by the request: dropping it (the request ended, however) cancels its search.
pub struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Whether a search should stop now.
#[derive(Clone)]
pub struct Cancel {
    mine: Arc<AtomicBool>,
    closing: Arc<AtomicBool>,
    deadline: Instant,
}

impl Cancel {
    /// A search nobody cancels (tools and tests), bounded by its deadline only.
    pub fn never() -> Self {
        Self {
            mine: Arc::new(AtomicBool::new(false)),
            closing: Arc::new(AtomicBool::new(false)),
            deadline: Instant::now() + DEADLINE,
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.mine.load(Ordering::Acquire) || self.closing.load(Ordering::Acquire) || Instant::now() >= self.deadline
    }
}

/// Documents between two looks at the cancel flag: a look is an atomic load and a clock read,
/// a few nanoseconds against the microseconds 4,096 scored documents take.
const CHECK_EVERY: u32 = 4096;

/// A collector that stops (with an error) once its search is cancelled, checked per segment
/// and every [`CHECK_EVERY`] matching documents.
pub(crate) struct Cancellable<'a, C> {
    pub inner: C,
    pub cancel: &'a Cancel,
}

pub(crate) fn cancelled() -> tantivy::TantivyError {
    tantivy::TantivyError::InternalError("search cancelled".into())
}

impl<C: Collector> Collector for Cancellable<'_, C> {
    type Fruit = C::Fruit;
    type Child = C::Child;

    fn for_segment(&self, ord: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<Self::Child> {
        self.inner.for_segment(ord, reader)
    }

    fn requires_scoring(&self) -> bool {
        self.inner.requires_scoring()
    }

    fn merge_fruits(&self, fruits: Vec<<Self::Child as SegmentCollector>::Fruit>) -> tantivy::Result<Self::Fruit> {
        self.inner.merge_fruits(fruits)
    }

    /// Tantivy's own loop (`Collector::collect_segment`) with a look at the flag: its callback
    /// form cannot stop early, so the scorer is walked here.
    fn collect_segment(
        &self,
        weight: &dyn tantivy::query::Weight,
        ord: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<<Self::Child as SegmentCollector>::Fruit> {
        if self.cancel.is_cancelled() {
            return Err(cancelled());
        }
        let mut child = self.for_segment(ord, reader)?;
        let mut scorer = weight.scorer(reader, 1.0)?;
        let alive = reader.alive_bitset();
        let scoring = self.requires_scoring();
        let mut doc: DocId = scorer.doc();
        let mut seen = 0u32;
        while doc != TERMINATED {
            if alive.is_none_or(|a| a.is_alive(doc)) {
                let score: Score = if scoring { scorer.score() } else { 0.0 };
                child.collect(doc, score);
            }
            seen = seen.wrapping_add(1);
            if seen.is_multiple_of(CHECK_EVERY) && self.cancel.is_cancelled() {
                return Err(cancelled());
            }
            doc = scorer.advance();
        }
        Ok(child.harvest())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_bounded_per_caller_and_node_and_come_back_when_the_work_ends() {
        let gate = Gate::new(GateLimits {
            per_node: 3,
            per_caller: 2,
        });
        let (a, b) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        let a1 = gate.admit(a).expect("first");
        let a2 = gate.admit(a).expect("second");
        assert_eq!(gate.admit(a).err(), Some(Refused::Caller));
        let b1 = gate.admit(b).expect("another caller");
        assert_eq!(gate.admit(b).err(), Some(Refused::Node));
        // The request ending cancels the work, but its place is held until the work ends.
        drop(a1.1);
        assert!(a1.0.cancel().is_cancelled());
        assert!(!a2.0.cancel().is_cancelled());
        assert_eq!(gate.in_flight(), 3);
        drop(a1.0);
        assert_eq!(gate.in_flight(), 2);
        assert!(gate.admit(b).is_ok());
        gate.close();
        assert!(b1.0.cancel().is_cancelled() && a2.0.cancel().is_cancelled());
        assert_eq!(gate.admit(uuid::Uuid::now_v7()).err(), Some(Refused::Closing));
    }
}
