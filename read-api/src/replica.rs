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
//! - The watcher asks on a connection of its own, not one from the pool: a pool that has lost
//!   its server keeps a caller waiting its whole acquire timeout while it retries to connect,
//!   and a busy pool would look like a dead replica. Its own connection sees the server go at
//!   once (the next query fails), so reads leave a dead replica within one [`CHECK_EVERY`].
//! - The replica's pool is closed when it goes down: reads waiting on it for a connection fail
//!   at once instead of waiting out the acquire timeout (a client retries and lands on the
//!   primary). A fresh pool is made when the replica answers again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;

/// How often the replica is looked at.
pub const CHECK_EVERY: Duration = Duration::from_millis(50);
/// How long it has to answer (or to take a connection).
pub const ANSWER_WITHIN: Duration = Duration::from_millis(500);

pub struct Replica {
    pool: std::sync::RwLock<PgPool>,
    up: AtomicBool,
}

impl Replica {
    /// The replica at `pool`, up until it is seen otherwise.
    pub fn new(pool: PgPool) -> Arc<Self> {
        Arc::new(Self {
            pool: std::sync::RwLock::new(pool),
            up: AtomicBool::new(true),
        })
    }

    /// The replica's pool while it answers (a handle: a pool is an `Arc` inside).
    pub fn pool(&self) -> Option<PgPool> {
        self.up.load(Ordering::Acquire).then(|| self.current())
    }

    fn current(&self) -> PgPool {
        self.pool.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Watches the replica until the last handle to it is gone.
    pub fn watch(self: &Arc<Self>, primary: PgPool) {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut conn: Option<sqlx::PgConnection> = None;
            loop {
                let Some(replica) = me.upgrade() else { return };
                replica.check(&mut conn, &primary).await;
                drop(replica);
                tokio::time::sleep(CHECK_EVERY).await;
            }
        });
    }

    /// Asks the replica on `conn` (opened, or opened again, here) for its read models' position.
    async fn ask(&self, conn: &mut Option<sqlx::PgConnection>) -> Result<i64, String> {
        use sqlx::Connection;
        if conn.is_none() {
            let options = self.current().connect_options();
            let opened = tokio::time::timeout(ANSWER_WITHIN, sqlx::PgConnection::connect_with(&options))
                .await
                .map_err(|_| "no connection within the time allowed".to_owned())?
                .map_err(|e| e.to_string())?;
            *conn = Some(opened);
        }
        let Some(c) = conn.as_mut() else {
            return Err("no connection".into());
        };
        let name = prism_projections::read_models::NAME;
        let asked = sqlx::query_scalar::<_, i64>("SELECT position FROM projection_status WHERE name = $1")
            .bind(name)
            .fetch_optional(c);
        match tokio::time::timeout(ANSWER_WITHIN, asked).await {
            Ok(Ok(p)) => Ok(p.unwrap_or(0)),
            failed => {
                *conn = None; // a connection that failed once is not trusted again
                Err(match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => "no answer within the time allowed".into(),
                })
            }
        }
    }

    async fn check(&self, conn: &mut Option<sqlx::PgConnection>, primary: &PgPool) {
        let name = prism_projections::read_models::NAME;
        let answered = self.ask(conn).await;
        let at = answered.as_ref().ok().copied();
        let up = at.is_some();
        if up && !self.up.load(Ordering::Acquire) {
            // Back: a fresh pool (the old one was closed), before reads are sent to it.
            let old = self.current();
            let fresh = sqlx::postgres::PgPoolOptions::new()
                .max_connections(old.options().get_max_connections())
                .acquire_timeout(old.options().get_acquire_timeout())
                .connect_lazy_with((*old.connect_options()).clone());
            *self.pool.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        }
        let was = self.up.swap(up, Ordering::AcqRel);
        metrics::gauge!("prism_read_replica_up").set(if up { 1.0 } else { 0.0 });
        match (was, up) {
            (true, false) => {
                metrics::counter!("prism_read_replica_fallbacks_total").increment(1);
                let why = answered.err().unwrap_or_default();
                tracing::warn!(error = %why, "the read replica is down: reading the primary until it is back");
                let old = self.current();
                tokio::spawn(async move { old.close().await });
            }
            (false, true) => tracing::info!("the read replica is back: reading it again"),
            _ => {}
        }
        if let (Some(at), Ok(head)) = (at, prism_projections::status::position(primary, name).await) {
            metrics::gauge!("prism_read_replica_lag_events").set((head - at).max(0) as f64);
        }
    }
}
