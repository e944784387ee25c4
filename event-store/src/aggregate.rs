//! Typed loading: events (and snapshots) back into a cqrs-es [`Aggregate`].

use cqrs_es::Aggregate;
use uuid::Uuid;

use prism_domain::event::from_parts_ref;

use crate::hash::{Hash, GENESIS};
use crate::model::StoredEvent;
use crate::store::{PgEventStore, Snapshot};
use crate::StoreError;

/// An aggregate's state with where it stands in the log.
#[derive(Debug, Clone)]
pub struct Loaded<A> {
    pub state: A,
    /// Its version: the sequence of its last event (0 if it has none).
    pub version: i64,
    /// The hash of its last event, which the next append chains from.
    pub last_hash: Hash,
    /// The global position of its last event (0 if it has none).
    pub last_position: i64,
}

impl<A: Aggregate> Default for Loaded<A> {
    fn default() -> Self {
        Self {
            state: A::default(),
            version: 0,
            last_hash: GENESIS,
            last_position: 0,
        }
    }
}

impl<A: Aggregate> Loaded<A> {
    /// True when the aggregate has at least one event.
    pub fn exists(&self) -> bool {
        self.version > 0
    }

    /// Applies one stored (upcast) event.
    pub fn apply_stored(&mut self, e: &StoredEvent) -> Result<(), StoreError> {
        let event: A::Event = from_parts_ref(&e.event_type, &e.payload)?;
        self.state.apply(event);
        self.version = e.sequence;
        self.last_position = e.global_position;
        self.last_hash = to_hash(&e.hash);
        Ok(())
    }

    /// A snapshot of this state, to store.
    pub fn snapshot(&self) -> Result<Snapshot, StoreError> {
        Ok(Snapshot {
            version: self.version,
            last_position: self.last_position,
            state: serde_json::to_value(&self.state)?,
            hash: self.last_hash.to_vec(),
        })
    }
}

fn to_hash(bytes: &[u8]) -> Hash {
    let mut h = GENESIS;
    if bytes.len() == h.len() {
        h.copy_from_slice(bytes);
    }
    h
}

impl PgEventStore {
    /// Loads an aggregate from its latest snapshot and the events after it.
    pub async fn load<A: Aggregate>(&self, id: Uuid) -> Result<Loaded<A>, StoreError> {
        let history = self.load_history(A::TYPE, id).await?;
        let mut loaded = Loaded::<A>::default();
        let mut events = history.events;
        if let Some(snap) = history.snapshot {
            match serde_json::from_value::<A>(snap.state) {
                Ok(state) => {
                    loaded = Loaded {
                        state,
                        version: snap.version,
                        last_hash: to_hash(&snap.hash),
                        last_position: snap.last_position,
                    };
                }
                Err(e) => {
                    // The state's shape changed since the snapshot: replay from the start.
                    tracing::warn!(aggregate_type = A::TYPE, %id, error = %e, "snapshot unreadable, replaying the log");
                    events = self.load_after(A::TYPE, id, 0).await?;
                }
            }
        }
        for e in &events {
            loaded.apply_stored(e)?;
        }
        Ok(loaded)
    }

    /// Brings a (cached) state up to date with the log.
    pub async fn catch_up<A: Aggregate>(&self, id: Uuid, loaded: &mut Loaded<A>) -> Result<(), StoreError> {
        for e in &self.load_after(A::TYPE, id, loaded.version).await? {
            loaded.apply_stored(e)?;
        }
        Ok(())
    }
}
