//! The live feed behind Server-Sent Events: one tail of the log per node, shared by every
//! stream on it.
//!
//! The tail reads the log below the safe horizon (so nothing is ever skipped), gathers once per
//! batch the facts the visibility rules need ([`crate::visibility::Facts`]), and broadcasts the
//! batch to every subscriber. Database work is therefore per node, not per connection: a
//! thousand streams cost what one does. A subscriber that falls behind the broadcast (a slow
//! client) is told so and catches up from the log itself ([`Feed::replay`]).
//!
//! Streams are capped per user and per node ([`Feed::admit`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prism_event_store::{PgEventStore, StoredEvent};
use sqlx::PgPool;
use tokio::sync::{broadcast, OnceCell};
use uuid::Uuid;

use crate::read_models::notifications::Notification;
use crate::visibility::Facts;
use crate::ProjectionError;

/// One batch of the log, in global order, with the facts to show it.
#[derive(Debug)]
pub struct Batch {
    pub events: Vec<StoredEvent>,
    pub facts: Facts,
}

/// Limits on live streams.
#[derive(Debug, Clone, Copy)]
pub struct StreamLimits {
    pub per_user: usize,
    pub per_node: usize,
}

impl Default for StreamLimits {
    fn default() -> Self {
        Self {
            per_user: 8,
            per_node: 10_000,
        }
    }
}

#[derive(Clone)]
pub struct Feed {
    inner: Arc<Inner>,
}

struct Inner {
    store: PgEventStore,
    tx: broadcast::Sender<Arc<Batch>>,
    /// Everything at or below this position has been broadcast.
    published: AtomicI64,
    tail: OnceCell<()>,
    limits: StreamLimits,
    open: Mutex<(usize, HashMap<Uuid, usize>)>,
    /// New notifications (`read_models::notifications`), as the read models commit them.
    notes: broadcast::Sender<Arc<Vec<Notification>>>,
    notes_tail: OnceCell<()>,
}

/// Batches a subscriber may fall behind by before it must catch up from the log.
const BACKLOG: usize = 128;
const BATCH: i64 = 256;
const BUSY: Duration = Duration::from_millis(2);
const IDLE: Duration = Duration::from_millis(10);

impl Feed {
    pub fn new(pool: PgPool) -> Self {
        Self::with_limits(pool, StreamLimits::default())
    }

    pub fn with_limits(pool: PgPool, limits: StreamLimits) -> Self {
        Self {
            inner: Arc::new(Inner {
                store: PgEventStore::new(pool, 0),
                tx: broadcast::channel(BACKLOG).0,
                published: AtomicI64::new(0),
                tail: OnceCell::new(),
                limits,
                open: Mutex::new((0, HashMap::new())),
                notes: broadcast::channel(BACKLOG).0,
                notes_tail: OnceCell::new(),
            }),
        }
    }

    pub fn pool(&self) -> &PgPool {
        self.inner.store.pool()
    }

    /// A place for one more stream of `user`, or `None` when they (or this node) have as many
    /// as allowed. The place is given back when the guard drops.
    pub fn admit(&self, user: Uuid) -> Option<StreamGuard> {
        let mut open = self.inner.open.lock().unwrap_or_else(|e| e.into_inner());
        let mine = open.1.get(&user).copied().unwrap_or(0);
        if open.0 >= self.inner.limits.per_node || mine >= self.inner.limits.per_user {
            return None;
        }
        open.0 += 1;
        open.1.insert(user, mine + 1);
        Some(StreamGuard {
            feed: self.clone(),
            user,
        })
    }

    /// Live batches from now on, and the position up to which everything was broadcast before
    /// them (read it after subscribing: nothing above it is missed).
    pub async fn subscribe(&self) -> Result<(broadcast::Receiver<Arc<Batch>>, i64), ProjectionError> {
        self.start().await?;
        let rx = self.inner.tx.subscribe();
        Ok((rx, self.inner.published.load(Ordering::Acquire)))
    }

    /// Notifications as the read models make them, from now on (every user's: a stream keeps
    /// its caller's). Live only: what a client missed is in `GET /v1/notifications`.
    pub async fn subscribe_notifications(
        &self,
    ) -> Result<broadcast::Receiver<Arc<Vec<Notification>>>, ProjectionError> {
        self.inner
            .notes_tail
            .get_or_try_init(|| async {
                let from = read_models_position(self.pool()).await?;
                tokio::spawn(notes_tail(Arc::downgrade(&self.inner), from));
                Ok::<_, ProjectionError>(())
            })
            .await?;
        Ok(self.inner.notes.subscribe())
    }

    /// Up to `limit` events of `tenant` after `after`, in global order, below the safe horizon,
    /// with the facts to show them as a replay.
    pub async fn replay(&self, tenant: Uuid, after: i64, limit: i64) -> Result<Batch, ProjectionError> {
        let events = self.inner.store.read_tenant(tenant, after, limit).await?;
        let facts = Facts::gather(self.pool(), &events, true, &Facts::default()).await?;
        Ok(Batch { events, facts })
    }

    /// Where the log is safe to read up to now.
    pub async fn horizon(&self) -> Result<i64, ProjectionError> {
        Ok(self.inner.store.safe_horizon().await?)
    }

    /// The last position allocated in the log: a resume point past it never existed.
    pub async fn head(&self) -> Result<i64, ProjectionError> {
        Ok(self.inner.store.head().await?)
    }

    /// Starts the node's tail on first use, from the current horizon.
    async fn start(&self) -> Result<(), ProjectionError> {
        self.inner
            .tail
            .get_or_try_init(|| async {
                let from = self.horizon().await?;
                self.inner.published.store(from, Ordering::Release);
                let inner = Arc::downgrade(&self.inner);
                tokio::spawn(tail(inner, from));
                Ok::<_, ProjectionError>(())
            })
            .await?;
        Ok(())
    }
}

/// The node's tail: runs while the feed exists.
async fn tail(feed: std::sync::Weak<Inner>, mut at: i64) {
    let mut known = Facts::default();
    let mut pause = BUSY;
    loop {
        let Some(inner) = feed.upgrade() else { return };
        let step = async {
            let events = inner.store.read_all(at, BATCH).await?;
            if events.is_empty() {
                return Ok::<_, ProjectionError>(None);
            }
            let facts = Facts::gather(inner.store.pool(), &events, false, &known).await?;
            Ok(Some(Batch { events, facts }))
        };
        match step.await {
            Ok(Some(batch)) => {
                let last = batch.events.last().map_or(at, |e| e.global_position);
                known.remember(&batch.facts);
                if known.channel_of.len() > 1_000_000 {
                    // Facts never change, but memory is finite: start over (they are re-read).
                    known = Facts::default();
                }
                at = last;
                inner.published.store(last, Ordering::Release);
                let _ = inner.tx.send(Arc::new(batch));
                pause = BUSY;
                continue;
            }
            Ok(None) => pause = (pause * 2).min(IDLE),
            Err(e) => {
                tracing::warn!(error = %e, "live feed read failed; retrying");
                pause = Duration::from_millis(200);
            }
        }
        drop(inner);
        tokio::time::sleep(pause).await;
    }
}

/// Where the read models stand: every notification from an event at or below it is committed.
async fn read_models_position(pool: &PgPool) -> Result<i64, ProjectionError> {
    let at: Option<i64> = sqlx::query_scalar("SELECT position FROM projection_status WHERE name = $1")
        .bind(crate::read_models::NAME)
        .fetch_optional(pool)
        .await?;
    Ok(at.unwrap_or(0))
}

/// How often the node looks for new notifications (one small query per node, not per stream).
const NOTES_EVERY: Duration = Duration::from_millis(250);

/// The node's tail of new notifications: reads below the read models' checkpoint (committed
/// with the rows), so none is skipped or sent twice.
async fn notes_tail(feed: std::sync::Weak<Inner>, mut at: i64) {
    loop {
        tokio::time::sleep(NOTES_EVERY).await;
        let Some(inner) = feed.upgrade() else { return };
        let step = async {
            let upto = read_models_position(inner.store.pool()).await?;
            if upto <= at {
                return Ok::<_, ProjectionError>(None);
            }
            let notes = if inner.notes.receiver_count() == 0 {
                Vec::new()
            } else {
                crate::read_models::notifications::made_between(inner.store.pool(), at, upto).await?
            };
            Ok(Some((upto, notes)))
        };
        match step.await {
            Ok(Some((upto, notes))) => {
                at = upto;
                if !notes.is_empty() {
                    let _ = inner.notes.send(Arc::new(notes));
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "notification feed read failed; retrying"),
        }
    }
}

/// One admitted stream; its place is given back on drop.
pub struct StreamGuard {
    feed: Feed,
    user: Uuid,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let mut open = self.feed.inner.open.lock().unwrap_or_else(|e| e.into_inner());
        open.0 = open.0.saturating_sub(1);
        if let Some(n) = open.1.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                open.1.remove(&self.user);
            }
        }
    }
}
