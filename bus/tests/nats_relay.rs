//! The relay against a real NATS JetStream (a unique stream prefix per test): what lands in the
//! stream, message by message.

use std::time::{Duration, Instant};

use async_nats::jetstream;
use futures::StreamExt;
use std::sync::Arc;

use prism_bus::relay::{self, RelayConfig};
use prism_bus::{Bus, NatsBus, NatsConfig};
use prism_event_store::hash::GENESIS;
use prism_event_store::*;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

fn nats_url() -> String {
    std::env::var("PRISM_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

fn config() -> NatsConfig {
    NatsConfig {
        prefix: format!("t{}", &Uuid::now_v7().simple().to_string()[20..]),
        ..Default::default()
    }
}

type Relay = tokio::task::JoinHandle<Result<(), relay::RelayError>>;

/// The NATS bus for `cfg`.
fn bus(cfg: &NatsConfig) -> Arc<dyn Bus> {
    Arc::new(NatsBus::new(nats_url(), cfg.clone()))
}

/// A relay onto `bus`, until `stopped`.
fn start(store: &PgEventStore, bus: &Arc<dyn Bus>, stopped: tokio::sync::watch::Receiver<bool>) -> Relay {
    tokio::spawn(relay::run(
        store.clone(),
        bus.clone(),
        RelayConfig {
            batch: 64,
            ..Default::default()
        },
        stopped,
    ))
}

async fn append_n(store: &PgEventStore, n: usize) {
    for _ in 0..n {
        let id = Uuid::now_v7();
        store
            .append(AppendBatch {
                tenant_id: Some(id),
                aggregate_type: "probe".into(),
                aggregate_id: id,
                expected_version: 0,
                prev_hash: GENESIS,
                events: vec![NewEvent {
                    event_type: "probe.happened".into(),
                    event_version: 1,
                    payload: json!({"n": 1}),
                }],
                metadata: Metadata {
                    actor_kind: "system".into(),
                    correlation_id: id,
                    ..Default::default()
                },
                claims: vec![],
                releases: vec![],
                guards: vec![],
                idempotency: None,
            })
            .await
            .expect("append");
    }
}

/// Every message in the stream: (position, prev position, subject).
async fn stream_contents(js: &jetstream::Context, cfg: &NatsConfig, expect: usize) -> Vec<(i64, i64, String)> {
    let stream = js.get_stream(cfg.stream_name()).await.expect("stream");
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::Config {
            deliver_policy: jetstream::consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut msgs = consumer.messages().await.expect("messages");
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while out.len() < expect {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(Some(Ok(m))) = tokio::time::timeout(left, msgs.next()).await else {
            break;
        };
        let h = |k: &str| {
            m.headers
                .as_ref()
                .and_then(|h| h.get(k))
                .map(|v| v.as_str().parse::<i64>().expect("number"))
                .expect(k)
        };
        out.push((h("Prism-Position"), h("Prism-Prev-Position"), m.subject.to_string()));
        m.ack().await.expect("ack");
    }
    // Nothing more than expected arrives.
    if let Ok(Some(Ok(extra))) = tokio::time::timeout(Duration::from_millis(300), msgs.next()).await {
        panic!("unexpected extra message {}", extra.subject);
    }
    out
}

async fn wait_for_stream(js: &jetstream::Context, cfg: &NatsConfig, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(mut s) = js.get_stream(cfg.stream_name()).await {
            if s.info().await.map(|i| i.state.messages).unwrap_or(0) >= n {
                return;
            }
        }
        assert!(Instant::now() < deadline, "the stream never reached {n} messages");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn the_relay_publishes_every_event_once_in_order(pool: PgPool) {
    let store = PgEventStore::new(pool.clone(), 0).with_group_commit(2, 64);
    let cfg = config();
    append_n(&store, 50).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let bus = bus(&cfg);
    let relay = start(&store, &bus, stopped);
    append_n(&store, 70).await;
    let js = jetstream::new(async_nats::connect(nats_url()).await.expect("nats"));
    wait_for_stream(&js, &cfg, 120).await;
    let got = stream_contents(&js, &cfg, 120).await;
    let positions: Vec<i64> = sqlx::query_scalar("SELECT global_position FROM events ORDER BY 1")
        .fetch_all(&pool)
        .await
        .expect("events");
    assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), positions);
    // Each message names the one before it: a consumer can prove it missed nothing.
    let mut prev = 0;
    for (pos, p, subject) in &got {
        assert_eq!(*p, prev);
        assert!(
            subject.starts_with(&format!("{}.events.", cfg.prefix)) && subject.ends_with(".probe.probe.happened"),
            "{subject}"
        );
        prev = *pos;
    }
    let checkpoint = relay::checkpoint(&store, &relay::checkpoint_name(bus.as_ref())).await;
    assert_eq!(checkpoint.expect("checkpoint"), prev);
    stop.send(true).expect("stop");
    relay.await.expect("join").expect("relay");
    let _ = js.delete_stream(cfg.stream_name()).await;
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn two_relays_publish_once_and_the_standby_takes_over(pool: PgPool) {
    let store = PgEventStore::new(pool.clone(), 0);
    let cfg = config();
    let js = jetstream::new(async_nats::connect(nats_url()).await.expect("nats"));
    let (_stop_a, stopped_a) = tokio::sync::watch::channel(false);
    let a = start(&store, &bus(&cfg), stopped_a);
    append_n(&store, 20).await;
    wait_for_stream(&js, &cfg, 20).await; // A is the active one
    let (stop_b, stopped_b) = tokio::sync::watch::channel(false);
    let b = start(&store, &bus(&cfg), stopped_b);
    append_n(&store, 20).await;
    wait_for_stream(&js, &cfg, 40).await;
    // The active relay dies (its connections with it); B takes over.
    a.abort();
    let _ = a.await;
    append_n(&store, 20).await;
    wait_for_stream(&js, &cfg, 60).await;
    let got = stream_contents(&js, &cfg, 60).await;
    let mut positions: Vec<i64> = got.iter().map(|g| g.0).collect();
    let n = positions.len();
    positions.dedup();
    assert_eq!(positions.len(), n, "an event was published twice");
    assert_eq!(n, 60);
    stop_b.send(true).expect("stop");
    b.await.expect("join").expect("relay");
    let _ = js.delete_stream(cfg.stream_name()).await;
}

/// A leader that holds its lease and publishes nothing (hung, cut off from NATS): the standbys
/// publish what it leaves, each event once and in order, without waiting for the lease.
#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn standbys_publish_what_a_hung_leader_leaves_once_and_in_order(pool: PgPool) {
    let store = PgEventStore::new(pool.clone(), 0);
    let cfg = config();
    let js = jetstream::new(async_nats::connect(nats_url()).await.expect("nats"));
    let bus = bus(&cfg);
    // The hung leader: a lease renewed for the whole test by a process that does nothing.
    sqlx::query(
        "INSERT INTO leases (name, holder, expires_at, since, holder_name)
         VALUES ($1, $2, now() + interval '1 hour', now(), 'hung:1')",
    )
    .bind(relay::checkpoint_name(bus.as_ref()))
    .bind(Uuid::now_v7())
    .execute(&pool)
    .await
    .expect("lease");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let a = start(&store, &bus, stopped.clone());
    let b = start(&store, &bus, stopped);
    append_n(&store, 30).await;
    wait_for_stream(&js, &cfg, 30).await;
    append_n(&store, 30).await;
    wait_for_stream(&js, &cfg, 60).await;
    let got = stream_contents(&js, &cfg, 60).await;
    let positions: Vec<i64> = got.iter().map(|g| g.0).collect();
    let mut sorted = positions.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(positions, sorted, "out of order, or published twice");
    assert_eq!(positions.len(), 60);
    for w in got.windows(2) {
        assert_eq!(w[1].1, w[0].0, "each message names the one before it");
    }
    let holder: String = sqlx::query_scalar("SELECT holder_name FROM leases WHERE name = $1")
        .bind(relay::checkpoint_name(bus.as_ref()))
        .fetch_one(&pool)
        .await
        .expect("holder");
    assert_eq!(holder, "hung:1", "a standby took the lease: this test proves nothing");
    stop.send(true).expect("stop");
    a.await.expect("join").expect("relay");
    b.await.expect("join").expect("relay");
    let _ = js.delete_stream(cfg.stream_name()).await;
}
