//! The bus: how events travel from the log to the projectors, fast, without ever being the only
//! way they can.
//!
//! It owns the [`Bus`] trait (publish a batch of stored events; subscribe as a durable consumer
//! to deliveries that carry their position and the position published before them) and its two
//! implementations: [`nats`] (NATS JetStream, every message signed, for a deployment of many
//! processes) and [`local`] (in-process, for one node: `prism serve` with `PRISM_NATS_URL`
//! unset). It also owns the [`relay`], which tails the log below the safe horizon and publishes
//! it, the signing of what travels ([`signing`]), and [`presence`] beats (ephemeral, never in
//! the log).
//!
//! A bus is a fast path, never the proof: a consumer applies a delivery only when its previous
//! position is the consumer's checkpoint, and otherwise reads the Postgres log (the projector
//! runtime in `prism-projections` does this once, for every bus). So a bus may lose, repeat or
//! reorder deliveries, or carry forgeries, and no projection changes wrongly; it only gets slower.
//!
//! It may import `prism-event-store` (the stored event, the log, the relay's checkpoint table)
//! and async-nats; nothing above it.

pub mod lease;
pub mod local;
pub mod nats;
pub mod presence;
pub mod relay;
pub mod signing;

use std::time::Duration;

use prism_event_store::StoredEvent;
use uuid::Uuid;

pub use local::LocalBus;
pub use nats::{NatsBus, NatsConfig};

/// What a consumer receives, in the order the relay published it.
// Nearly every delivery is an `Event`: boxing it would add an allocation per event to save
// space on the rare `Reference` and `Gap`.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Delivery {
    /// An event, with the position published just before it (the continuity proof).
    Event { prev: i64, event: StoredEvent },
    /// An event too large for the bus, published without its payload: read it from the log at
    /// `position` (committed: the relay only publishes what is).
    Reference { prev: i64, position: i64 },
    /// Something that proves nothing: a message that failed verification, or deliveries this
    /// consumer lost (it fell behind the bus). The consumer reads the log instead.
    Gap,
}

impl Delivery {
    /// The position this delivery claims, if it claims one.
    pub fn position(&self) -> Option<i64> {
        match self {
            Self::Event { event, .. } => Some(event.global_position),
            Self::Reference { position, .. } => Some(*position),
            Self::Gap => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The bus cannot be reached or refused an operation; Postgres still works.
    #[error("bus unavailable: {0}")]
    Unavailable(String),
    /// The bus is reachable and is not what this process is configured for (a server list that
    /// does not parse, replicas the servers refuse): a process must not start on it.
    #[error("bus settings: {0}")]
    Settings(String),
    /// A verified message names another deployment's log.
    #[error("event from another store ({0}); refusing to mix deployments")]
    ForeignStore(String),
    #[error(transparent)]
    Store(#[from] prism_event_store::StoreError),
}

/// A bus between the relay and the projectors.
#[async_trait::async_trait]
pub trait Bus: Send + Sync + 'static {
    /// `local`, or `nats:<prefix>`: for logs, and the relay's checkpoint row.
    fn name(&self) -> String;

    /// Whether what was published outlives this process. A durable bus has one active relay
    /// per log (an advisory lock) that resumes from its checkpoint; a non-durable one has a
    /// relay per process that starts at the head (its consumers catch up from the log).
    fn durable(&self) -> bool;

    /// Publishes `events` of the log `store`, in order: each follows the one before it in the
    /// log, and the first follows `prev`. Returns once the bus holds them all.
    async fn publish(&self, store: Uuid, prev: i64, events: &[StoredEvent]) -> Result<(), BusError>;

    /// Subscribes as the durable consumer `consumer` to what is published from now on (a
    /// durable bus also redelivers what this consumer has not acknowledged). Deliveries that
    /// do not verify against the log `store` arrive as [`Delivery::Gap`].
    async fn subscribe(&self, store: Uuid, consumer: &str) -> Result<Box<dyn Subscription>, BusError>;

    /// Tells every node a presence beat ([`presence`]): best effort, nothing kept.
    async fn beat(&self, beat: &presence::Beat) -> Result<(), BusError>;

    /// Presence beats from every node (this one's too), from now on; what does not verify
    /// or parse is dropped.
    async fn beats(&self) -> Result<presence::Beats, BusError>;
}

/// One consumer's deliveries.
#[async_trait::async_trait]
pub trait Subscription: Send {
    /// Waits up to `idle` for a delivery; answers it and whatever else is already there, up to
    /// `max`, in order. Empty if the bus was quiet for `idle`.
    async fn next(&mut self, max: usize, idle: Duration) -> Result<Vec<Delivery>, BusError>;

    /// Acknowledges everything [`next`](Self::next) answered so far (once applied): a durable
    /// bus does not deliver it again.
    async fn ack(&mut self) -> Result<(), BusError>;
}
