//! An in-process cache of hot aggregates, keyed by (type, id) and holding the state with its
//! version. It is allowed to be stale: the append's expected version refuses a decision made
//! on a stale state (we then evict, reload and decide again), and aggregates used only to
//! *authorize* are caught up with the log before use ([`crate::Commands::load_fresh`]).

use std::any::Any;
use std::sync::Arc;

use cqrs_es::Aggregate;
use prism_event_store::Loaded;
use quick_cache::sync::Cache;
use uuid::Uuid;

type Key = (&'static str, Uuid);

pub struct AggregateCache {
    inner: Cache<Key, Arc<dyn Any + Send + Sync>>,
}

impl AggregateCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Cache::new(capacity.max(1)),
        }
    }

    pub fn get<A: Aggregate + Clone + 'static>(&self, id: Uuid) -> Option<Loaded<A>> {
        self.inner
            .get(&(A::TYPE, id))
            .and_then(|v| v.downcast_ref::<Loaded<A>>().cloned())
    }

    pub fn put<A: Aggregate + Clone + 'static>(&self, id: Uuid, loaded: Loaded<A>) {
        // Never replace a newer state with an older one (two requests finishing out of order).
        if let Some(cur) = self.get::<A>(id) {
            if cur.version > loaded.version {
                return;
            }
        }
        self.inner.insert((A::TYPE, id), Arc::new(loaded));
    }

    pub fn evict<A: Aggregate>(&self, id: Uuid) {
        self.inner.remove(&(A::TYPE, id));
    }

    pub fn evict_key(&self, aggregate_type: &'static str, id: Uuid) {
        self.inner.remove(&(aggregate_type, id));
    }
}
