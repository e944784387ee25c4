//! The bus contract: one suite, run against every [`Bus`] (the in-process bus and NATS JetStream
//! with a unique stream prefix per test). The projector runtime relies on nothing else.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use prism_bus::{Bus, Delivery, LocalBus, NatsBus, NatsConfig, Subscription};
use prism_event_store::StoredEvent;
use serde_json::json;
use uuid::Uuid;

/// A bus under test, and what to clean up after it.
struct Fixture {
    bus: Arc<dyn Bus>,
    stream: Option<String>,
}

impl Fixture {
    fn local() -> Self {
        Self {
            bus: Arc::new(LocalBus::new()),
            stream: None,
        }
    }

    fn nats() -> Self {
        let cfg = NatsConfig {
            prefix: format!("bus{}", &Uuid::now_v7().simple().to_string()[20..]),
            ..Default::default()
        };
        Self {
            stream: Some(cfg.stream_name()),
            bus: Arc::new(NatsBus::new(nats_url(), cfg)),
        }
    }

    async fn done(self) {
        if let Some(stream) = self.stream {
            let client = async_nats::connect(nats_url()).await.expect("nats");
            let _ = async_nats::jetstream::new(client).delete_stream(stream).await;
        }
    }
}

fn nats_url() -> String {
    std::env::var("PRISM_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// Events at positions `from..from+n`, as the log would hold them.
fn events(from: i64, n: i64) -> Vec<StoredEvent> {
    (from..from + n)
        .map(|p| StoredEvent {
            global_position: p,
            event_id: Uuid::now_v7(),
            tenant_id: Some(Uuid::now_v7()),
            aggregate_type: "probe".into(),
            aggregate_id: Uuid::now_v7(),
            sequence: 1,
            event_type: "probe.happened".into(),
            event_version: 1,
            payload: json!({"n": p, "text": "ünïcode ✓"}),
            metadata: json!({"actor_kind": "system"}),
            recorded_at: Utc::now(),
            hash: vec![7; 32],
        })
        .collect()
}

/// Receives until `n` deliveries came or 10 s passed.
async fn receive(sub: &mut Box<dyn Subscription>, n: usize) -> Vec<Delivery> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    while got.len() < n && Instant::now() < deadline {
        got.extend(sub.next(64, Duration::from_millis(100)).await.expect("next"));
    }
    got
}

/// Asserts `got` is exactly `sent`, each event naming the one before it, the first `prev`.
fn assert_chain(got: &[Delivery], sent: &[StoredEvent], mut prev: i64) {
    assert_eq!(got.len(), sent.len(), "deliveries: {got:?}");
    for (d, e) in got.iter().zip(sent) {
        match d {
            Delivery::Event { prev: p, event } => {
                assert_eq!(*p, prev, "the continuity proof");
                assert_eq!(event, e, "the event as published");
            }
            other => panic!("expected an event, got {other:?}"),
        }
        prev = e.global_position;
    }
}

async fn delivers_every_event_in_order_with_its_predecessor(f: Fixture) {
    let store = Uuid::now_v7();
    let mut sub = f.bus.subscribe(store, "reader").await.expect("subscribe");
    let sent = events(1, 300);
    for (i, chunk) in sent.chunks(100).enumerate() {
        f.bus.publish(store, i as i64 * 100, chunk).await.expect("publish");
    }
    let got = receive(&mut sub, 300).await;
    sub.ack().await.expect("ack");
    assert_chain(&got, &sent, 0);
    f.done().await;
}

async fn every_consumer_gets_everything(f: Fixture) {
    let store = Uuid::now_v7();
    let mut a = f.bus.subscribe(store, "a").await.expect("a");
    let mut b = f.bus.subscribe(store, "b").await.expect("b");
    let sent = events(41, 20);
    f.bus.publish(store, 40, &sent).await.expect("publish");
    for sub in [&mut a, &mut b] {
        let got = receive(sub, 20).await;
        sub.ack().await.expect("ack");
        assert_chain(&got, &sent, 40);
    }
    f.done().await;
}

async fn a_quiet_bus_answers_nothing_after_the_idle_wait(f: Fixture) {
    let store = Uuid::now_v7();
    let mut sub = f.bus.subscribe(store, "quiet").await.expect("subscribe");
    let started = Instant::now();
    let got = sub.next(10, Duration::from_millis(150)).await.expect("next");
    assert!(got.is_empty(), "{got:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(140),
        "next returned before its idle wait"
    );
    f.done().await;
}

async fn next_answers_at_most_max(f: Fixture) {
    let store = Uuid::now_v7();
    let mut sub = f.bus.subscribe(store, "bounded").await.expect("subscribe");
    let sent = events(1, 50);
    f.bus.publish(store, 0, &sent).await.expect("publish");
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.len() < 50 && Instant::now() < deadline {
        let some = sub.next(7, Duration::from_millis(100)).await.expect("next");
        assert!(some.len() <= 7, "{} deliveries for max 7", some.len());
        got.extend(some);
    }
    sub.ack().await.expect("ack");
    assert_chain(&got, &sent, 0);
    f.done().await;
}

async fn an_acknowledged_delivery_is_not_delivered_again(f: Fixture) {
    let store = Uuid::now_v7();
    let mut sub = f.bus.subscribe(store, "again").await.expect("subscribe");
    let first = events(1, 5);
    f.bus.publish(store, 0, &first).await.expect("publish");
    assert_chain(&receive(&mut sub, 5).await, &first, 0);
    sub.ack().await.expect("ack");
    drop(sub);
    // The same consumer comes back (a restarted projector): only what is new.
    let mut sub = f.bus.subscribe(store, "again").await.expect("subscribe again");
    let second = events(6, 5);
    f.bus.publish(store, 5, &second).await.expect("publish");
    let got = receive(&mut sub, 5).await;
    assert_chain(&got, &second, 5);
    assert!(sub.next(10, Duration::from_millis(300)).await.expect("next").is_empty());
    f.done().await;
}

/// Presence beats reach every listener, the sender's own included, in the order sent.
async fn presence_beats_reach_every_listener(f: Fixture) {
    use futures::StreamExt;
    let mut one = f.bus.beats().await.expect("listen");
    let mut two = f.bus.beats().await.expect("listen");
    let beat = |online| prism_bus::presence::Beat {
        workspace_id: Uuid::now_v7(),
        user_id: Uuid::now_v7(),
        node: "n1".into(),
        online,
    };
    let (on, off) = (beat(true), beat(false));
    f.bus.beat(&on).await.expect("beat");
    f.bus.beat(&off).await.expect("beat");
    for l in [&mut one, &mut two] {
        let got = tokio::time::timeout(Duration::from_secs(5), l.by_ref().take(2).collect::<Vec<_>>())
            .await
            .expect("beats in time");
        assert_eq!(got, vec![on.clone(), off.clone()]);
    }
    f.done().await;
}

macro_rules! contract {
    ($($bus:ident),*) => {$(
        mod $bus {
            use super::*;

            #[tokio::test]
            async fn delivers_every_event_in_order_with_its_predecessor() {
                super::delivers_every_event_in_order_with_its_predecessor(Fixture::$bus()).await
            }
            #[tokio::test]
            async fn every_consumer_gets_everything() {
                super::every_consumer_gets_everything(Fixture::$bus()).await
            }
            #[tokio::test]
            async fn a_quiet_bus_answers_nothing_after_the_idle_wait() {
                super::a_quiet_bus_answers_nothing_after_the_idle_wait(Fixture::$bus()).await
            }
            #[tokio::test]
            async fn next_answers_at_most_max() {
                super::next_answers_at_most_max(Fixture::$bus()).await
            }
            #[tokio::test]
            async fn an_acknowledged_delivery_is_not_delivered_again() {
                super::an_acknowledged_delivery_is_not_delivered_again(Fixture::$bus()).await
            }
            #[tokio::test]
            async fn presence_beats_reach_every_listener() {
                super::presence_beats_reach_every_listener(Fixture::$bus()).await
            }
        }
    )*};
}

contract!(local, nats);

/// Only NATS: a beat anyone could publish without the bus key is never heard.
#[tokio::test]
async fn nats_drops_forged_beats() {
    use futures::StreamExt;
    let f = Fixture::nats();
    let mut heard = f.bus.beats().await.expect("listen");
    let prefix = f.bus.name();
    let client = async_nats::connect(nats_url()).await.expect("nats");
    let forged = prism_bus::presence::Beat {
        workspace_id: Uuid::now_v7(),
        user_id: Uuid::now_v7(),
        node: "mallory".into(),
        online: true,
    };
    let subject = format!("{prefix}.presence");
    client
        .publish(subject.clone(), serde_json::to_vec(&forged).expect("json").into())
        .await
        .expect("publish unsigned");
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Prism-Key-Id", "0000000000000000");
    headers.insert("Prism-Signature", "00");
    client
        .publish_with_headers(subject, headers, serde_json::to_vec(&forged).expect("json").into())
        .await
        .expect("publish badly signed");
    client.flush().await.expect("flush");
    // A real beat after them: it is the first thing heard.
    let real = prism_bus::presence::Beat {
        node: "n1".into(),
        ..forged.clone()
    };
    f.bus.beat(&real).await.expect("beat");
    let first = tokio::time::timeout(Duration::from_secs(5), heard.next())
        .await
        .expect("in time")
        .expect("a beat");
    assert_eq!(first, real);
    f.done().await;
}

/// Only the local bus: a consumer that falls behind is told so, never silently skipped.
#[tokio::test]
async fn local_tells_a_consumer_that_fell_behind() {
    let bus = LocalBus::new();
    let store = Uuid::now_v7();
    let mut sub = bus.subscribe(store, "slow").await.expect("subscribe");
    let mut prev = 0;
    for e in events(1, prism_bus::local::CAPACITY as i64 + 10) {
        let at = e.global_position;
        bus.publish(store, prev, &[e]).await.expect("publish");
        prev = at;
    }
    let got = sub.next(10, Duration::from_millis(100)).await.expect("next");
    assert!(matches!(got.first(), Some(Delivery::Gap)), "{got:?}");
}
