//! Leases: one holder at a time; a standby takes over from a holder that stops renewing (dead,
//! hung or cut off: the lease cannot tell, and need not), and a holder that cannot renew in time
//! stands down by itself.

use std::time::{Duration, Instant};

use prism_bus::lease::{self, LeaseConfig};
use sqlx::PgPool;

fn cfg() -> LeaseConfig {
    LeaseConfig {
        ttl: Duration::from_millis(600),
        ..Default::default()
    }
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_standby_takes_over_within_the_lease_when_the_holder_stops_renewing(pool: PgPool) {
    let (_stop, mut shutdown) = tokio::sync::watch::channel(false);
    let a = lease::acquire(&pool, "relay:test", &cfg(), &mut shutdown)
        .await
        .expect("acquire")
        .expect("free");
    let (pool_b, mut shutdown_b) = (pool.clone(), shutdown.clone());
    let standby = tokio::spawn(async move {
        let held = lease::acquire(&pool_b, "relay:test", &cfg(), &mut shutdown_b).await;
        (Instant::now(), held)
    });
    // While A renews, B stands by (three leases' worth).
    tokio::time::sleep(Duration::from_millis(1800)).await;
    assert!(
        !standby.is_finished(),
        "the standby took a lease that was being renewed"
    );
    assert!(!*a.lost().borrow(), "a renewing holder lost its lease");

    // A stops renewing without a word (kill -9, a hung host, a cut cable: all alike here).
    let stopped = Instant::now();
    drop(a);
    let (took_over, held) = standby.await.expect("join");
    let _b = held.expect("acquire").expect("taken over");
    let after = took_over - stopped;
    assert!(
        after <= cfg().ttl + Duration::from_millis(400),
        "the standby took {after:?} to take over a {:?} lease",
        cfg().ttl
    );
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM leases WHERE name = 'relay:test'")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(rows, 1, "one row per lease");
    let who: String = sqlx::query_scalar("SELECT holder_name FROM leases WHERE name = 'relay:test'")
        .fetch_one(&pool)
        .await
        .expect("holder");
    assert_eq!(
        who,
        format!("local:{}", std::process::id()),
        "the row says who holds it"
    );
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_holder_that_cannot_renew_in_time_stands_down_and_a_clean_stop_hands_over_at_once(pool: PgPool) {
    let (_stop, mut shutdown) = tokio::sync::watch::channel(false);
    let a = lease::acquire(&pool, "projector:test", &cfg(), &mut shutdown)
        .await
        .expect("acquire")
        .expect("free");
    let mut lost = a.lost();
    // Postgres stops answering A's renewals (a lock stands in for a partition).
    let mut blocker = pool.begin().await.expect("begin");
    sqlx::query("SELECT 1 FROM leases WHERE name = 'projector:test' FOR UPDATE")
        .execute(&mut *blocker)
        .await
        .expect("lock");
    tokio::time::timeout(cfg().ttl * 2, lost.wait_for(|l| *l))
        .await
        .expect("the holder kept going on a lease it could not renew")
        .expect("watch");
    blocker.rollback().await.expect("rollback");

    // B takes the expired lease; A, back, does not get it again by renewing.
    let b = lease::acquire(&pool, "projector:test", &cfg(), &mut shutdown)
        .await
        .expect("acquire")
        .expect("taken over");
    tokio::time::sleep(cfg().ttl).await;
    assert!(!*b.lost().borrow(), "the new holder lost its lease to the old one");

    // A clean stop gives the lease back: the next one takes it at its first look.
    b.release().await;
    let started = Instant::now();
    let _c = lease::acquire(&pool, "projector:test", &cfg(), &mut shutdown)
        .await
        .expect("acquire")
        .expect("free again");
    assert!(
        started.elapsed() < cfg().ttl / 2,
        "a released lease was not free at once"
    );
}
