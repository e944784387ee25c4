//! Leases: which process does a job that must run once per deployment — the relay, and each
//! projection's projector on a durable bus. Others of the same kind stand by and take over when
//! the holder stops renewing.
//!
//! Why a lease and not a session advisory lock (what the relay held before): a lock is freed only
//! when Postgres notices the holder's connection is gone. `kill -9` closes the socket, but a hung
//! or partitioned host closes nothing, and the lock would stay held until TCP gives up (minutes).
//! A lease expires on Postgres's clock whatever happened to its holder: a standby takes over
//! within [`LeaseConfig::ttl`] plus one poll. A holder that cannot renew in time stops the job
//! itself (its [`Held::lost`] turns true), so two holders overlap by at most the time a renewal
//! takes to fail — and every job under a lease is safe to overlap anyway: projections apply under
//! their status-row lock, the relay's re-publishes are dropped by `Nats-Msg-Id`.
//!
//! A holder that stops cleanly gives its lease back, and a standby takes over within one poll.
//!
//! [`role`] keeps a process in the running for good: a watch that is `true` while it holds the
//! lease. The relay and the projectors use it to stand by *warm* — a standby keeps following
//! the log or the bus and steps in for whatever the active one leaves undone for a moment (see
//! `relay` and the projector runtime), so a death costs a fraction of a second of lag instead
//! of a lease's time.
//! Takeovers are logged and counted (`prism_lease_takeovers_total{job}`); `prism_lease_held{job}`
//! is 1 in the process that holds a lease, 0 where it stands by.
//!
//! It owns the `leases` table.

use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// How long a lease lasts without renewal (`PRISM_LEASE_MS`, default 1,000).
    pub ttl: Duration,
    /// This node's name (`PRISM_NODE_ID`): with the process id, it says in the lease's row who
    /// holds it (`<node>:<pid>`), for an operator.
    pub node: String,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        Self {
            ttl: Duration::from_millis(1000),
            node: "local".into(),
        }
    }
}

impl LeaseConfig {
    /// How often a holder renews, and a standby looks: a fifth of the lease, so a renewal may
    /// fail three times in a row (a busy Postgres, a slow scheduler) before the lease runs out.
    fn tick(&self) -> Duration {
        (self.ttl / 5).max(Duration::from_millis(20))
    }
}

/// A lease this process holds, renewed in the background until dropped.
pub struct Held {
    lost: watch::Receiver<bool>,
    renewer: tokio::task::JoinHandle<()>,
    pool: PgPool,
    name: String,
    holder: Uuid,
}

impl Held {
    /// Turns true when the lease was lost (not renewed in time, or taken): stop the job.
    pub fn lost(&self) -> watch::Receiver<bool> {
        self.lost.clone()
    }

    /// Gives the lease back (a clean stop): a standby takes over at its next look.
    pub async fn release(self) {
        self.renewer.abort();
        metrics::gauge!("prism_lease_held", "job" => self.name.clone()).set(0.0);
        let _ = sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(&self.name)
            .bind(self.holder)
            .execute(&self.pool)
            .await;
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

/// Waits until this process holds the lease `name` (standing by while another does), or
/// `shutdown` turns true (`None`).
pub async fn acquire(
    pool: &PgPool,
    name: &str,
    cfg: &LeaseConfig,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<Option<Held>, sqlx::Error> {
    let holder = Uuid::now_v7();
    let ttl = cfg.ttl.as_secs_f64();
    let mut said = false;
    loop {
        if *shutdown.borrow() {
            return Ok(None);
        }
        // Taken when free, expired or already ours; answers who held it before (NULL: nobody).
        let got: Option<(Option<Uuid>, Option<f64>)> = sqlx::query_as(
            "WITH before AS (SELECT holder, extract(epoch FROM now() - expires_at)::float8 AS expired_for
                               FROM leases WHERE name = $1)
             INSERT INTO leases (name, holder, expires_at, since, holder_name)
             VALUES ($1, $2, now() + make_interval(secs => $3), now(), $4)
             ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at, since = now(),
                                              holder_name = EXCLUDED.holder_name
              WHERE leases.expires_at < now() OR leases.holder = EXCLUDED.holder
             RETURNING (SELECT holder FROM before), (SELECT expired_for FROM before)",
        )
        .bind(name)
        .bind(holder)
        .bind(ttl)
        .bind(format!("{}:{}", cfg.node, std::process::id()))
        .fetch_optional(pool)
        .await?;
        if let Some((before, expired_for)) = got {
            if let Some(previous) = before.filter(|b| *b != holder) {
                // The label is a lease's name: a bounded set the code names (`relay:<prefix>`,
                // `projector:<consumer>`), never input.
                metrics::counter!("prism_lease_takeovers_total", "job" => name.to_owned()).increment(1);
                tracing::warn!(
                    lease = name,
                    %previous,
                    expired_ms = (expired_for.unwrap_or(0.0) * 1000.0).round() as i64,
                    "took over: the previous holder stopped renewing"
                );
            } else {
                tracing::info!(lease = name, "lease taken: active");
            }
            metrics::gauge!("prism_lease_held", "job" => name.to_owned()).set(1.0);
            let (tx, lost) = watch::channel(false);
            let renewer = tokio::spawn(renew(pool.clone(), name.to_owned(), holder, cfg.clone(), tx));
            return Ok(Some(Held {
                lost,
                renewer,
                pool: pool.clone(),
                name: name.to_owned(),
                holder,
            }));
        }
        if !said {
            metrics::gauge!("prism_lease_held", "job" => name.to_owned()).set(0.0);
            tracing::info!(lease = name, "another process holds the lease: standing by");
            said = true;
        }
        tokio::select! {
            _ = tokio::time::sleep(cfg.tick()) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// This process's role for the job `name`: the watch is `true` while it holds the lease, `false`
/// while it stands by. It keeps trying until `shutdown` turns true (or every receiver is
/// dropped), then gives the lease back.
pub fn role(
    pool: PgPool,
    name: String,
    cfg: LeaseConfig,
    mut shutdown: watch::Receiver<bool>,
) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        loop {
            let held = tokio::select! {
                got = acquire(&pool, &name, &cfg, &mut shutdown) => got,
                _ = tx.closed() => return,
            };
            let held = match held {
                Ok(Some(held)) => held,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(lease = %name, error = %e, "lease: Postgres unreachable; standing by");
                    tokio::select! {
                        _ = tokio::time::sleep(cfg.tick()) => continue,
                        _ = shutdown.changed() => return,
                    }
                }
            };
            tx.send_replace(true);
            let mut lost = held.lost();
            tokio::select! {
                _ = lost.wait_for(|l| *l) => {}
                _ = shutdown.wait_for(|s| *s) => {}
                _ = tx.closed() => {}
            }
            tx.send_replace(false);
            held.release().await;
            if *shutdown.borrow() || tx.is_closed() {
                return;
            }
        }
    });
    rx
}

/// Renews until the lease is lost: taken by another (after it expired), or not renewed before
/// it would expire on this process's own clock (Postgres unreachable or too slow).
async fn renew(pool: PgPool, name: String, holder: Uuid, cfg: LeaseConfig, lost: watch::Sender<bool>) {
    let ttl = cfg.ttl.as_secs_f64();
    let mut renewed = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(cfg.tick()).await;
        let attempt = sqlx::query(
            "UPDATE leases SET expires_at = now() + make_interval(secs => $3) WHERE name = $1 AND holder = $2",
        )
        .bind(&name)
        .bind(holder)
        .bind(ttl)
        .execute(&pool);
        // A renewal that cannot finish before the lease would run out is a failed one.
        let left = (renewed + cfg.ttl).saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, attempt).await {
            Ok(Ok(r)) if r.rows_affected() == 1 => renewed = tokio::time::Instant::now(),
            Ok(Ok(_)) => {
                tracing::warn!(lease = %name, "lease taken by another process: standing down");
                metrics::gauge!("prism_lease_held", "job" => name.clone()).set(0.0);
                let _ = lost.send(true);
                return;
            }
            Ok(Err(e)) if renewed.elapsed() < cfg.ttl => {
                tracing::warn!(lease = %name, error = %e, "lease renewal failed; retrying");
            }
            _ => {
                tracing::warn!(lease = %name, "lease not renewed in time: standing down");
                metrics::gauge!("prism_lease_held", "job" => name.clone()).set(0.0);
                let _ = lost.send(true);
                return;
            }
        }
    }
}
