//! The relay: tails the log below the safe horizon and publishes every event to the bus, in
//! global order, each with the position published before it.
//!
//! - On a durable bus (NATS) one relay is active per log: it holds the lease `relay:<prefix>`
//!   ([`crate::lease`]); others stand by and take over within the lease's time when it stops
//!   renewing (dead, hung or cut off). The active relay resumes from its checkpoint
//!   (`relay_checkpoints`, `relay:<prefix>`), which moves only past what the bus acknowledged,
//!   and never back (two relays may overlap for a moment). A re-publish is dropped by the bus
//!   (`Nats-Msg-Id`).
//! - A standby stays warm: every [`STANDBY_LOOK`] it reads the checkpoint, and when the active
//!   relay has not moved it while the log has more, the standby publishes that itself. So the
//!   active relay's death costs consumers about one look of lag, not a lease's time (a lease
//!   must outlast a busy Postgres or a slow scheduler, so it cannot be short); the lease only
//!   decides who publishes first. What the two publish twice, the bus drops (`Nats-Msg-Id`,
//!   and each relay publishes in log order, so the first copy of each event keeps that order).
//!   Counted: `prism_relay_standby_events_total`.
//! - On the local bus every process has its own relay (nothing crosses processes), which
//!   starts at the head of the log: its consumers read what came before from Postgres.
//! - It wakes the moment a group commits in this process ([`PgEventStore::committed`]), and
//!   otherwise polls the log (1 ms while events flow, up to 5 ms when quiet) for what other
//!   processes append. (A `NOTIFY` from every append would wake other processes too, but it
//!   serialises commits.)
//! - The bus down: commands are unaffected (Postgres is the source of truth); the relay
//!   retries with backoff and catches up. While it cannot publish, its row says since when and
//!   why (`prism projections status`, `/readyz`), and `/metrics` counts it.

use std::sync::Arc;
use std::time::Duration;

use prism_event_store::{PgEventStore, StoreError};
use tokio::sync::watch;
use uuid::Uuid;

use crate::lease::{self, LeaseConfig};
use crate::{Bus, BusError};

const MIN_IDLE: Duration = Duration::from_millis(1);
const MAX_IDLE: Duration = Duration::from_millis(5);
/// How often a standby relay looks at the active one's checkpoint.
pub const STANDBY_LOOK: Duration = Duration::from_millis(100);

#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Events per publish batch.
    pub batch: i64,
    /// The lease that makes one relay active on a durable bus.
    pub lease: LeaseConfig,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            batch: 512,
            lease: LeaseConfig::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bus(#[from] BusError),
}

impl From<sqlx::Error> for RelayError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

/// The relay's checkpoint row for `bus`.
pub fn checkpoint_name(bus: &dyn Bus) -> String {
    format!("relay:{}", bus.name())
}

/// Runs a relay until `shutdown` turns true. On a durable bus, stands by while another relay
/// holds the lease, and stands down if it loses it.
pub async fn run(
    store: PgEventStore,
    bus: Arc<dyn Bus>,
    cfg: RelayConfig,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), RelayError> {
    if !bus.durable() {
        let (_keep, always) = watch::channel(true);
        return active(&store, bus.as_ref(), &cfg, &mut shutdown, always).await;
    }
    let name = checkpoint_name(bus.as_ref());
    let mut role = lease::role(store.pool().clone(), name, cfg.lease.clone(), shutdown.clone());
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        let leading = *role.borrow_and_update();
        let result = if leading {
            active(&store, bus.as_ref(), &cfg, &mut shutdown, role.clone()).await
        } else {
            standby(&store, bus.as_ref(), &cfg, &mut shutdown, &mut role).await
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "standby relay could not publish; looking again in a second");
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.changed() => {}
                _ = role.changed() => {}
            }
        }
    }
}

/// A standby: publishes what the active relay leaves unpublished for a look, until this process
/// leads (`role` turns true) or `shutdown`.
async fn standby(
    store: &PgEventStore,
    bus: &dyn Bus,
    cfg: &RelayConfig,
    shutdown: &mut watch::Receiver<bool>,
    role: &mut watch::Receiver<bool>,
) -> Result<(), RelayError> {
    let name = checkpoint_name(bus);
    let store_id = store.store_id().await?;
    // The checkpoint at the last look, and the last one this standby saved itself.
    let (mut seen, mut mine): (Option<i64>, Option<i64>) = (None, None);
    let mut stepping_in = false;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(STANDBY_LOOK) => {}
            _ = shutdown.changed() => return Ok(()),
            _ = role.changed() => if *role.borrow() { return Ok(()) },
        }
        if *shutdown.borrow() || *role.borrow() {
            return Ok(());
        }
        let at = checkpoint(store, &name).await?;
        // The active relay moved it since the last look: it is alive and publishing.
        let moving = seen.is_some_and(|s| at > s) && Some(at) != mine;
        let first = seen.is_none();
        seen = Some(at);
        if moving || first {
            stepping_in = false;
            continue;
        }
        let events = store.read_all(at, cfg.batch).await?;
        let Some(last) = events.last().map(|e| e.global_position) else {
            continue;
        };
        if !stepping_in {
            tracing::warn!(
                checkpoint = at,
                "the active relay published nothing for a look while the log moved: this standby publishes meanwhile"
            );
            stepping_in = true;
        }
        bus.publish(store_id, at, &events).await?;
        save_checkpoint(store, &name, last).await?;
        (seen, mine) = (Some(last), Some(last));
        metrics::counter!("prism_relay_standby_events_total").increment(events.len() as u64);
    }
}

/// Publishes until `shutdown`, or `leading` (the lease) turns false.
async fn active(
    store: &PgEventStore,
    bus: &dyn Bus,
    cfg: &RelayConfig,
    shutdown: &mut watch::Receiver<bool>,
    mut leading: watch::Receiver<bool>,
) -> Result<(), RelayError> {
    tracing::info!(bus = %bus.name(), "relay active");
    let store_id = store.store_id().await?;
    // Where a non-durable bus starts: what is already in the log is read from it by consumers.
    let mut from = if bus.durable() {
        None
    } else {
        Some(store.safe_horizon().await?)
    };
    let mut backoff = Duration::from_millis(100);
    let mut failing = false;
    loop {
        if *shutdown.borrow() || !*leading.borrow() {
            break;
        }
        let mut relay = Relay {
            store,
            bus,
            cfg,
            store_id,
            failing: &mut failing,
        };
        let started = tokio::time::Instant::now();
        let run = tokio::select! {
            r = relay.publish_loop(&mut from, shutdown) => r,
            _ = leading.changed() => continue,
        };
        // A failure after a good while is a new incident: start again from a short wait.
        if started.elapsed() > Duration::from_secs(10) {
            backoff = Duration::from_millis(100);
        }
        match run {
            Ok(()) => break,
            Err(e) => {
                failing = true;
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "relay interrupted; retrying");
                metrics::counter!("prism_relay_errors_total").increment(1);
                if let Err(e) = record_failure(store, &checkpoint_name(bus), &e.to_string()).await {
                    tracing::warn!(error = %e, "relay could not record its failure");
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => break,
                    _ = leading.changed() => break,
                }
                // At most a second: consumers follow the log meanwhile, and every second more
                // the bus is not fed is a second more they read Postgres instead.
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
    tracing::info!("relay stopped");
    Ok(())
}

struct Relay<'a> {
    store: &'a PgEventStore,
    bus: &'a dyn Bus,
    cfg: &'a RelayConfig,
    store_id: Uuid,
    /// A failure is on record (a non-durable bus clears it with its first publish after).
    failing: &'a mut bool,
}

impl Relay<'_> {
    /// Publishes from `from` (a non-durable bus's position, kept across retries) or the
    /// checkpoint.
    async fn publish_loop(
        &mut self,
        from: &mut Option<i64>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), RelayError> {
        let name = checkpoint_name(self.bus);
        let mut position = match *from {
            Some(p) => p,
            None => checkpoint(self.store, &name).await?,
        };
        let mut committed = self.store.committed();
        let mut idle = MIN_IDLE;
        loop {
            let events = self.store.read_all(position, self.cfg.batch).await?;
            let Some(last) = events.last().map(|e| e.global_position) else {
                tokio::select! {
                    _ = committed.changed() => idle = MIN_IDLE,
                    _ = tokio::time::sleep(idle) => idle = (idle * 2).min(MAX_IDLE),
                    _ = shutdown.changed() => return Ok(()),
                }
                continue;
            };
            idle = MIN_IDLE;
            self.bus.publish(self.store_id, position, &events).await?;
            position = last;
            match from {
                // A non-durable bus's position is the process's own; the row only says how it is.
                Some(p) => {
                    *p = position;
                    if *self.failing {
                        save_checkpoint(self.store, &name, position).await?;
                    }
                }
                None => save_checkpoint(self.store, &name, position).await?,
            }
            *self.failing = false;
            metrics::gauge!("prism_relay_position").set(position as f64);
            tracing::trace!(events = events.len(), position, "relay published");
        }
    }
}

/// A relay's checkpoint (0 before its first publish).
pub async fn checkpoint(store: &PgEventStore, name: &str) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT position FROM relay_checkpoints WHERE name = $1")
            .bind(name)
            .fetch_optional(store.pool())
            .await?
            .unwrap_or(0),
    )
}

async fn save_checkpoint(store: &PgEventStore, name: &str, position: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO relay_checkpoints (name, position) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET position = greatest(relay_checkpoints.position, EXCLUDED.position),
                                          updated_at = now(),
                                          last_error = NULL, failing_since = NULL",
    )
    .bind(name)
    .bind(position)
    .execute(store.pool())
    .await?;
    Ok(())
}

/// Says, in the relay's row, that it cannot publish (and since when).
async fn record_failure(store: &PgEventStore, name: &str, error: &str) -> Result<(), StoreError> {
    let error: String = error.chars().take(500).collect();
    sqlx::query(
        "INSERT INTO relay_checkpoints (name, position, last_error, failing_since) VALUES ($1, 0, $2, now())
         ON CONFLICT (name) DO UPDATE SET last_error = EXCLUDED.last_error,
                                          failing_since = coalesce(relay_checkpoints.failing_since, now())",
    )
    .bind(name)
    .bind(error)
    .execute(store.pool())
    .await?;
    Ok(())
}
