//! Reads from a Postgres streaming replica (`PRISM_READ_DATABASE_URL`): the read models, search
//! audiences and the console's reads go there; everything that writes (an API key's last use),
//! the log (history, the live stream), readiness and the vault's keys (an erasure must show at
//! once) stay on the primary.
//!
//! - `X-Min-Position` needs nothing special: a projection's checkpoint row is written in the
//!   transaction that applies its batch, so the replica's own row vouches for exactly the rows
//!   it has replayed ([`crate::consistency`] reads it from the pool reads go to).
//! - A watcher asks the replica every [`CHECK_EVERY`] for its read models' position and
//!   compares it with the primary's: the difference is its lag, in events
//!   (`prism_read_replica_lag_events`), beside `prism_read_replica_up`.
//! - A replica that does not answer within [`ANSWER_WITHIN`] is down: reads go to the primary
//!   until it answers again. The fallback is logged once each way and counted
//!   (`prism_read_replica_fallbacks_total`). A read already under way on a replica that dies
//!   fails once (503); the next ones go to the primary.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;

/// How often the replica is looked at.
pub const CHECK_EVERY: Duration = Duration::from_millis(100);
/// How long it has to answer.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(1);

pub struct Replica {
    pool: PgPool,
    up: AtomicBool,
}

impl Replica {
    /// The replica at `pool`, up until it is seen otherwise.
    pub fn new(pool: PgPool) -> Arc<Self> {
        Arc::new(Self {
            pool,
            up: AtomicBool::new(true),
        })
    }

    /// The replica's pool while it answers.
    pub fn pool(&self) -> Option<&PgPool> {
        self.up.load(Ordering::Acquire).then_some(&self.pool)
    }

    /// Watches the replica until the last handle to it is gone.
    pub fn watch(self: &Arc<Self>, primary: PgPool) {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(replica) = me.upgrade() else { return };
                replica.check(&primary).await;
                drop(replica);
                tokio::time::sleep(CHECK_EVERY).await;
            }
        });
    }

    async fn check(&self, primary: &PgPool) {
        let name = prism_projections::read_models::NAME;
        let answered = tokio::time::timeout(ANSWER_WITHIN, prism_projections::status::position(&self.pool, name)).await;
        let at = match &answered {
            Ok(Ok(p)) => Some(*p),
            _ => None,
        };
        let up = at.is_some();
        let was = self.up.swap(up, Ordering::AcqRel);
        metrics::gauge!("prism_read_replica_up").set(if up { 1.0 } else { 0.0 });
        match (was, up) {
            (true, false) => {
                metrics::counter!("prism_read_replica_fallbacks_total").increment(1);
                let why = match &answered {
                    Ok(Err(e)) => e.to_string(),
                    _ => "no answer within a second".into(),
                };
                tracing::warn!(error = %why, "the read replica is down: reading the primary until it is back");
            }
            (false, true) => tracing::info!("the read replica is back: reading it again"),
            _ => {}
        }
        if let (Some(at), Ok(head)) = (at, prism_projections::status::position(primary, name).await) {
            metrics::gauge!("prism_read_replica_lag_events").set((head - at).max(0) as f64);
        }
    }
}
