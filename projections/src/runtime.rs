//! The projector runtime: one consumer of the bus per projection, Postgres as the fallback and
//! the proof. Written once against [`prism_bus::Bus`], so it runs the same on NATS JetStream and
//! on the in-process bus.
//!
//! - A batch of events is applied and the checkpoint (the last global position) written in one
//!   Postgres transaction, with the status row locked: a crash never applies an event twice or
//!   skips one, and two projector processes of one projection cannot both apply an event.
//! - Anything at or below the checkpoint is ignored (redeliveries, duplicates).
//! - Each delivery carries the position published before it. If that is not our checkpoint,
//!   something is missing from what the bus gave us (retention, a purge, a new projection, a
//!   shared consumer, a restart of the local bus): the projector catches up from the Postgres
//!   log, then goes on with the bus. The same happens at start and while the bus is down.
//! - An event the projection cannot apply halts this projection only, visibly (the status row
//!   keeps the error; it retries with backoff) and is never skipped.
//! - On a durable bus one process leads each projection: it holds the lease
//!   `projector:<consumer>` ([`prism_bus::lease`]) and applies what the bus brings at once. The
//!   others stand by *warm*: each follows the stream on a durable consumer of its own
//!   (`<consumer>_<node>`: two processes sharing one would each get half the stream), and
//!   applies a batch only if the leader has not, [`STANDBY_GRACE`] after it arrived (one
//!   indexed read of the checkpoint per batch). So the leader's death costs a fraction of a
//!   second of lag, not the lease's time, and never an event twice: every apply is under the
//!   status-row lock. A standby that had to step in says so once and counts it
//!   (`prism_projector_standby_events_total{projection}`). The local bus needs no lease:
//!   nothing crosses processes; nor does a node's own state (its search index, its hot pages:
//!   [`Target::per_node`]).
//! - Where each applied event came from is counted: `prism_projector_events_total{projection,
//!   via="bus"|"log"}` (the bus's share is what `scripts/chaos` reports).
//! - Nothing from the bus is trusted: what does not verify reaches the runtime as a
//!   [`Delivery::Gap`] and is never applied — the projector reads the log instead. A
//!   *reference* (an event too large for the bus) is resolved from the log too.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use prism_bus::lease::{self, LeaseConfig};
use prism_bus::{Bus, Delivery};
use prism_event_store::{PgEventStore, StoredEvent};
use sqlx::PgPool;
use tokio::sync::watch;

use crate::{Projection, ProjectionError};

/// How long a quiet stream is trusted before the projector checks the Postgres log itself, at
/// most. A stream that was busy is trusted less: four of its recent gaps between batches, but
/// not under [`IDLE_CHECK_MIN`] (a bus that stops in the middle of steady traffic is the bus or
/// the relay failing, and the log has what it does not).
const IDLE_CHECK: Duration = Duration::from_millis(500);
const IDLE_CHECK_MIN: Duration = Duration::from_millis(50);
/// The same, once a check found the log ahead of a quiet bus (the relay or NATS is down): the
/// projector follows the log closely until the bus delivers again.
const IDLE_CHECK_BEHIND: Duration = Duration::from_millis(100);
/// Idle checks in a row that found the log ahead of a quiet bus before the projector subscribes
/// again: a pull subscription whose server died can stay silent after its client reconnects
/// (no error, heartbeats or not), and only a new one gets deliveries again.
const RESUBSCRIBE_AFTER: u32 = 3;
/// How long a standby leaves a batch to the leader before it applies what is still missing.
pub const STANDBY_GRACE: Duration = Duration::from_millis(100);

#[derive(Clone)]
pub struct ProjectorConfig {
    /// Where the relay publishes.
    pub bus: Arc<dyn Bus>,
    /// Events applied per transaction at most.
    pub batch: usize,
    /// On a durable bus, the lease that makes one process run each projection.
    pub lease: LeaseConfig,
}

impl ProjectorConfig {
    pub fn new(bus: Arc<dyn Bus>, batch: usize) -> Self {
        Self {
            bus,
            batch,
            lease: LeaseConfig::default(),
        }
    }

    pub fn with_lease(mut self, lease: LeaseConfig) -> Self {
        self.lease = lease;
        self
    }
}

/// Where a projector writes, and where it keeps its checkpoint. The Postgres projections keep
/// theirs in `projection_status`, in the transaction that applies the batch ([`PgTarget`]); the
/// search index keeps its own in the Tantivy commit payload (`crate::search`).
pub trait Target: Send + Sync + 'static {
    /// Its name: the durable consumer's name.
    fn name(&self) -> &'static str;

    /// The durable consumer's name on the bus (after the stream prefix).
    fn consumer(&self) -> String {
        self.name().to_owned()
    }

    /// Whether this target is one node's own state (its search index, its hot pages): every node
    /// runs its own, so it takes no lease.
    fn per_node(&self) -> bool {
        false
    }

    /// The position applied so far (catch-up reads the log after it).
    fn position(&self) -> BoxFuture<'_, Result<i64, ProjectionError>>;

    /// Applies `events` in order (any at or below its position are ignored); answers the
    /// position readers now see, if that moved.
    fn apply<'a>(&'a self, events: &'a [StoredEvent]) -> BoxFuture<'a, Result<Option<i64>, ProjectionError>>;

    /// Called when the stream is quiet (and with `force` at shutdown): make anything staged
    /// visible.
    fn flush(&self, _force: bool) -> BoxFuture<'_, Result<Option<i64>, ProjectionError>> {
        Box::pin(async { Ok(None) })
    }

    /// Makes a halt visible (status row, `/readyz`).
    fn record_error<'a>(&'a self, e: &'a ProjectionError) -> BoxFuture<'a, ()>;
}

/// A Postgres projection: batch and checkpoint in one transaction, under the status-row lock.
pub struct PgTarget {
    pool: PgPool,
    projection: Arc<dyn Projection>,
}

impl PgTarget {
    pub fn new(pool: PgPool, projection: Arc<dyn Projection>) -> Self {
        Self { pool, projection }
    }

    /// Applies `events` (those above the checkpoint) and moves the checkpoint, atomically. If
    /// the batch fails, its events are applied one per transaction, so the projection stops
    /// exactly before the event it cannot apply (and the error names that event).
    async fn apply_batch(&self, events: &[StoredEvent]) -> Result<i64, ProjectionError> {
        match self.apply_in_one_transaction(events).await {
            Err(_) if events.len() > 1 => {
                let mut at = 0;
                for e in events {
                    at = self.apply_in_one_transaction(std::slice::from_ref(e)).await?;
                }
                Ok(at)
            }
            other => other,
        }
    }

    async fn apply_in_one_transaction(&self, events: &[StoredEvent]) -> Result<i64, ProjectionError> {
        let mut tx = self.pool.begin().await?;
        // One round trip: lock the status row, and commit without waiting for the WAL flush.
        // A projection is derived data with its checkpoint in the same transaction: if the
        // server crashes before the flush, the batch and its checkpoint are lost together and
        // applied again from the log (never half, never twice). Its readers stop paying for
        // a disk flush per batch.
        const LOCK: &str = "SELECT position, set_config('synchronous_commit', 'off', true)
                              FROM projection_status WHERE name = $1 FOR UPDATE";
        let name = self.projection.name();
        let locked: Option<(i64, String)> = sqlx::query_as(LOCK).bind(name).fetch_optional(&mut *tx).await?;
        let cp = match locked {
            Some((cp, _)) => cp,
            None => {
                // The projection's first batch: make its row, then lock it.
                sqlx::query("INSERT INTO projection_status (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query_as::<_, (i64, String)>(LOCK)
                    .bind(name)
                    .fetch_one(&mut *tx)
                    .await?
                    .0
            }
        };
        let Some(last) = events.last().map(|e| e.global_position) else {
            return Ok(cp);
        };
        let start = events.partition_point(|e| e.global_position <= cp);
        self.projection.apply_many(&mut tx, &events[start..]).await?;
        if last > cp {
            sqlx::query(
                "UPDATE projection_status SET position = $2, updated_at = now(), last_error = NULL, halted_at = NULL WHERE name = $1",
            )
            .bind(self.projection.name())
            .bind(last)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(last.max(cp))
    }
}

impl Target for PgTarget {
    fn name(&self) -> &'static str {
        self.projection.name()
    }

    fn position(&self) -> BoxFuture<'_, Result<i64, ProjectionError>> {
        Box::pin(async move {
            sqlx::query("INSERT INTO projection_status (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
                .bind(self.projection.name())
                .execute(&self.pool)
                .await?;
            Ok(crate::status::position(&self.pool, self.projection.name()).await?)
        })
    }

    fn apply<'a>(&'a self, events: &'a [StoredEvent]) -> BoxFuture<'a, Result<Option<i64>, ProjectionError>> {
        Box::pin(async move {
            if events.is_empty() {
                return Ok(None);
            }
            Ok(Some(self.apply_batch(events).await?))
        })
    }

    fn record_error<'a>(&'a self, e: &'a ProjectionError) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let _ = sqlx::query(
                "INSERT INTO projection_status (name, last_error, halted_at) VALUES ($1, $2, now())
                 ON CONFLICT (name) DO UPDATE SET last_error = $2, halted_at = coalesce(projection_status.halted_at, now())",
            )
            .bind(self.projection.name())
            .bind(e.to_string())
            .execute(&self.pool)
            .await;
        })
    }
}

pub struct Projector {
    store: PgEventStore,
    target: Arc<dyn Target>,
    cfg: ProjectorConfig,
    position: watch::Sender<i64>,
}

impl Projector {
    /// A projector for a Postgres projection.
    pub fn new(store: PgEventStore, projection: Arc<dyn Projection>, cfg: ProjectorConfig) -> Self {
        let target = Arc::new(PgTarget::new(store.pool().clone(), projection));
        Self::with_target(store, target, cfg)
    }

    pub fn with_target(store: PgEventStore, target: Arc<dyn Target>, cfg: ProjectorConfig) -> Self {
        Self {
            store,
            target,
            cfg,
            position: watch::Sender::new(0),
        }
    }

    /// The position applied so far, for in-process waiters (read-your-writes).
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.position.subscribe()
    }

    /// Runs until `shutdown` turns true; on a durable bus it leads while it holds the lease, and
    /// stands by warm while another process does.
    pub async fn run(self, shutdown: watch::Receiver<bool>) -> Result<(), ProjectionError> {
        if !self.cfg.bus.durable() || self.target.per_node() {
            return self.active(shutdown, None).await;
        }
        let name = format!("projector:{}", self.target.consumer());
        let leading = lease::role(
            self.store.pool().clone(),
            name,
            self.cfg.lease.clone(),
            shutdown.clone(),
        );
        self.active(shutdown, Some(leading)).await
    }

    /// The durable consumer this process reads: its own, unless the target is one node's own
    /// state (already named per node) or the bus is the local one.
    fn consumer(&self) -> String {
        if self.cfg.bus.durable() && !self.target.per_node() {
            format!("{}_{}", self.target.consumer(), self.cfg.lease.node)
        } else {
            self.target.consumer()
        }
    }

    /// Projects until `shutdown` turns true: as the leader, or as a warm standby while
    /// `leading` (the lease) says so.
    async fn active(
        &self,
        mut shutdown: watch::Receiver<bool>,
        leading: Option<watch::Receiver<bool>>,
    ) -> Result<(), ProjectionError> {
        let name = self.target.name();
        let store_id = self.store.store_id().await?;
        let mut backoff = Duration::from_millis(100);
        while !*shutdown.borrow() {
            let started = tokio::time::Instant::now();
            let result = match self.catch_up().await {
                Ok(cp) => self.consume(cp, store_id, &mut shutdown, leading.as_ref()).await,
                Err(e) => Err(e),
            };
            // A failure after a good while is a new incident: start again from a short wait.
            if started.elapsed() > Duration::from_secs(10) {
                backoff = Duration::from_millis(100);
            }
            match result {
                Ok(()) => break,
                Err(ProjectionError::Bus(e)) => {
                    // Subscribing again is cheap and the log is followed meanwhile: never wait
                    // long for the bus to come back.
                    backoff = backoff.min(Duration::from_secs(1));
                    // Postgres is the path that always works: keep up from it until the bus is back.
                    tracing::warn!(projection = name, error = %e, "bus unavailable; following the postgres log");
                    let until = tokio::time::Instant::now() + backoff;
                    while tokio::time::Instant::now() < until {
                        if let Err(e) = self.catch_up().await {
                            self.target.record_error(&e).await;
                        }
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                            _ = shutdown.changed() => return self.stop().await,
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(projection = name, error = %e, "projection halted; will retry");
                    self.target.record_error(&e).await;
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed() => return self.stop().await,
                    }
                }
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
        self.stop().await
    }

    /// At shutdown, what is staged is made durable (the search index commits).
    async fn stop(&self) -> Result<(), ProjectionError> {
        self.flush(true).await
    }

    async fn flush(&self, force: bool) -> Result<(), ProjectionError> {
        if let Some(p) = self.target.flush(force).await? {
            self.position.send_replace(p);
        }
        Ok(())
    }

    /// Applies the Postgres log from the checkpoint to the safe horizon, then makes it visible;
    /// answers the checkpoint.
    pub async fn catch_up(&self) -> Result<i64, ProjectionError> {
        Ok(self.catch_up_counted().await?.0)
    }

    /// [`Self::catch_up`], and whether the log held anything past the checkpoint.
    async fn catch_up_counted(&self) -> Result<(i64, bool), ProjectionError> {
        let mut cp = self.target.position().await?;
        let mut found = false;
        loop {
            let events = self.store.read_all(cp, self.cfg.batch as i64).await?;
            match events.last() {
                None => break,
                Some(last) => {
                    let last = last.global_position;
                    self.apply_batch(&events).await?;
                    self.count("log", events.len());
                    cp = last;
                    found = true;
                }
            }
        }
        self.flush(false).await?;
        Ok((cp, found))
    }

    async fn apply_batch(&self, events: &[StoredEvent]) -> Result<(), ProjectionError> {
        if let Some(p) = self.target.apply(events).await? {
            self.position.send_replace(p);
        }
        Ok(())
    }

    async fn consume(
        &self,
        mut cp: i64,
        store_id: uuid::Uuid,
        shutdown: &mut watch::Receiver<bool>,
        leading: Option<&watch::Receiver<bool>>,
    ) -> Result<(), ProjectionError> {
        // Subscribing talks to the cluster (the stream, the consumer), which may take a while
        // (NATS's requests wait five seconds; a stream electing a leader answers nothing):
        // follow the log meanwhile.
        let consumer = self.consumer();
        let subscribing = self.cfg.bus.subscribe(store_id, &consumer);
        tokio::pin!(subscribing);
        let mut sub = loop {
            tokio::select! {
                s = &mut subscribing => break s?,
                _ = tokio::time::sleep(IDLE_CHECK_BEHIND) => cp = self.catch_up().await?,
                _ = shutdown.changed() => return Ok(()),
            }
        };
        let mut idle = IDLE_CHECK;
        let mut stepping_in = false;
        let mut quiet_behind = 0;
        // The recent gap between batches (a moving average), and when the last one came.
        let (mut gap, mut last_batch) = (IDLE_CHECK, tokio::time::Instant::now());
        loop {
            let mut deliveries = tokio::select! {
                d = sub.next(self.cfg.batch, idle) => d?,
                _ = shutdown.changed() => return Ok(()),
            };
            if deliveries.is_empty() {
                // A quiet bus proves nothing (NATS may be reconnecting, the relay may be
                // down): look at the log itself now and then, and closely while it is ahead.
                let behind;
                (cp, behind) = self.catch_up_counted().await?;
                (idle, quiet_behind) = if behind {
                    (IDLE_CHECK_BEHIND, quiet_behind + 1)
                } else {
                    // Really quiet: trust the bus longer each time, up to the most.
                    gap = IDLE_CHECK;
                    ((idle * 2).min(IDLE_CHECK), 0)
                };
                if quiet_behind >= RESUBSCRIBE_AFTER {
                    return Err(ProjectionError::Bus("the bus is quiet while the log moves".into()));
                }
                continue;
            }
            gap = (gap * 3 + last_batch.elapsed()) / 4;
            last_batch = tokio::time::Instant::now();
            (idle, quiet_behind) = ((gap * 4).clamp(IDLE_CHECK_MIN, IDLE_CHECK), 0);
            let standby = leading.is_some_and(|l| !*l.borrow());
            if standby {
                // What is known to be applied needs no wait (a backlog the consumer replays
                // after an outage).
                deliveries.retain(|d| d.position().is_none_or(|p| p > cp));
                if deliveries.is_empty() {
                    sub.ack().await?;
                    continue;
                }
                // The leader has had these since they were recorded: give it what is left of
                // the grace, then take only what it has not applied.
                let newest = deliveries
                    .iter()
                    .filter_map(|d| match d {
                        Delivery::Event { event, .. } => Some(event.recorded_at),
                        _ => None,
                    })
                    .max();
                let waited = newest
                    .and_then(|t| (chrono::Utc::now() - t).to_std().ok())
                    .unwrap_or_default();
                tokio::select! {
                    _ = tokio::time::sleep(STANDBY_GRACE.saturating_sub(waited)) => {}
                    _ = shutdown.changed() => return Ok(()),
                }
                cp = self.target.position().await?;
                deliveries.retain(|d| d.position().is_none_or(|p| p > cp));
                if deliveries.is_empty() {
                    stepping_in = false;
                    sub.ack().await?;
                    continue;
                }
                if !stepping_in {
                    tracing::warn!(
                        projection = self.target.name(),
                        position = cp,
                        "the leading projector left a batch unapplied: this standby applies meanwhile"
                    );
                    stepping_in = true;
                }
            }
            let mut pending: Vec<StoredEvent> = Vec::with_capacity(deliveries.len());
            for d in deliveries {
                if d.position().is_some_and(|p| p <= cp) {
                    continue; // already applied
                }
                let event = match d {
                    Delivery::Event { prev, event } if prev == cp => event,
                    Delivery::Reference { prev, position } if prev == cp => self.read_from_log(position).await?,
                    // The bus cannot prove nothing is missing before this (or it is not the
                    // relay's): the log can.
                    _ => {
                        self.apply_pending(&mut pending, standby).await?;
                        cp = self.catch_up().await?;
                        continue;
                    }
                };
                cp = event.global_position;
                pending.push(event);
            }
            self.apply_pending(&mut pending, standby).await?;
            sub.ack().await?;
        }
    }

    /// Applies what came over the bus, and counts it.
    async fn apply_pending(&self, pending: &mut Vec<StoredEvent>, standby: bool) -> Result<(), ProjectionError> {
        self.apply_batch(pending).await?;
        self.count("bus", pending.len());
        if standby && !pending.is_empty() {
            metrics::counter!("prism_projector_standby_events_total", "projection" => self.target.name())
                .increment(pending.len() as u64);
        }
        pending.clear();
        Ok(())
    }

    fn count(&self, via: &'static str, n: usize) {
        if n > 0 {
            metrics::counter!("prism_projector_events_total", "projection" => self.target.name(), "via" => via)
                .increment(n as u64);
        }
    }

    /// The event at `position`, from the log: too large for the bus, it travelled as a
    /// reference (committed, since the relay published it).
    async fn read_from_log(&self, position: i64) -> Result<StoredEvent, ProjectionError> {
        self.store
            .read_all(position - 1, 1)
            .await?
            .into_iter()
            .find(|e| e.global_position == position)
            .ok_or_else(|| ProjectionError::Unreadable {
                position,
                event_type: "a reference".into(),
                reason: "a reference to an event the log does not hold".into(),
            })
    }
}
