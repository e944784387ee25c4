//! The bus on a NATS cluster: a private three-server JetStream cluster on free ports (a test
//! stops only its own servers), named by a server list as operators write it.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use prism_bus::{Bus, BusError, Delivery, NatsBus, NatsConfig, Subscription};
use prism_event_store::StoredEvent;
use serde_json::json;
use uuid::Uuid;

#[path = "../../tests/support/nats_cluster.rs"]
mod cluster;
use cluster::{free_port, Cluster};

fn config(replicas: usize) -> NatsConfig {
    NatsConfig {
        prefix: format!("cl{}", &Uuid::now_v7().simple().to_string()[20..]),
        replicas,
        ..Default::default()
    }
}

/// Prepares `bus` once the cluster has elected its JetStream leader (a fresh cluster takes a
/// few seconds; until then a stream cannot be made).
async fn prepared(bus: &NatsBus, url: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match bus.prepare().await {
            Ok(()) if stream_replicas(bus, url).await.is_some() => return,
            Ok(()) | Err(BusError::Settings(_)) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(250)).await
            }
            other => panic!("the cluster never took the stream: {other:?}"),
        }
    }
}

async fn jetstream(bus: &NatsBus, url: &str) -> async_nats::jetstream::Context {
    async_nats::jetstream::new(bus.config().connect(url).await.expect("connect"))
}

/// The stream's configured replicas and how many servers hold it, once it exists.
async fn stream_replicas(bus: &NatsBus, url: &str) -> Option<(usize, usize)> {
    let js = jetstream(bus, url).await;
    let mut s = js.get_stream(bus.config().stream_name()).await.ok()?;
    let info = s.info().await.ok()?;
    let copies = info.cluster.as_ref().map_or(1, |c| 1 + c.replicas.len());
    Some((info.config.num_replicas, copies))
}

fn events(from: i64, n: i64) -> Vec<StoredEvent> {
    (from..from + n)
        .map(|p| StoredEvent {
            global_position: p,
            event_id: Uuid::now_v7(),
            tenant_id: None,
            aggregate_type: "probe".into(),
            aggregate_id: Uuid::now_v7(),
            sequence: 1,
            event_type: "probe.happened".into(),
            event_version: 1,
            payload: json!({"n": p}),
            metadata: json!({"actor_kind": "system"}),
            recorded_at: Utc::now(),
            hash: vec![7; 32],
        })
        .collect()
}

/// Receives until every position of `want` came (a durable bus may deliver one twice across a
/// failover; the projector runtime drops what it has applied), subscribing again as the
/// projector runtime does when a subscription fails.
async fn receive_all(bus: &NatsBus, store: Uuid, sub: &mut Box<dyn Subscription>, want: &[i64]) -> Vec<i64> {
    // Generous: a loaded CI machine (the whole suite on two cores) takes its time electing a
    // new leader for the stream and the consumer.
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut got = std::collections::BTreeSet::new();
    let mut quiet_since = Instant::now();
    while !want.iter().all(|p| got.contains(p)) && Instant::now() < deadline {
        // A pull subscription whose server died can stay silent after the client reconnects
        // (seen under a loaded CI): after two quiet seconds, subscribe again. (The projector
        // runtime reads the log meanwhile; resubscribing there when the log moves on while
        // the bus is silent is still to do.)
        if quiet_since.elapsed() > Duration::from_secs(2) {
            if let Ok(s) = bus.subscribe(store, "probe").await {
                *sub = s;
            }
            quiet_since = Instant::now();
        }
        match sub.next(64, Duration::from_millis(200)).await {
            Ok(batch) if batch.is_empty() => {}
            Ok(batch) => {
                quiet_since = Instant::now();
                for d in batch {
                    if let Delivery::Event { event, .. } = d {
                        got.insert(event.global_position);
                    }
                }
                let _ = sub.ack().await;
            }
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if let Ok(s) = bus.subscribe(store, "probe").await {
                    *sub = s;
                }
            }
        }
    }
    got.into_iter().collect()
}

/// Publishes, retrying while the cluster moves the stream's leadership (the relay does the same,
/// with backoff; a repeat is dropped by `Nats-Msg-Id`).
async fn publish(bus: &NatsBus, store: Uuid, prev: i64, events: &[StoredEvent]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match bus.publish(store, prev, events).await {
            Ok(()) => return,
            Err(e) if Instant::now() < deadline => {
                eprintln!("publish: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("the cluster never took the events: {e}"),
        }
    }
}

#[tokio::test]
async fn a_server_list_connects_at_three_replicas_and_survives_the_loss_of_the_first_server() {
    let mut cluster = Cluster::start(3);
    let url = cluster.url();
    let store = Uuid::now_v7();

    // A stream and a consumer first made with one copy each are scaled to three.
    let one = config(1);
    let three = NatsConfig {
        replicas: 3,
        ..one.clone()
    };
    let old = NatsBus::new(cluster.url(), one);
    prepared(&old, &url).await;
    assert_eq!(stream_replicas(&old, &url).await, Some((1, 1)));
    drop(old.subscribe(store, "probe").await.expect("subscribe at R1"));

    let bus = NatsBus::new(cluster.url(), three);
    prepared(&bus, &url).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while stream_replicas(&bus, &url).await != Some((3, 3)) {
        assert!(
            Instant::now() < deadline,
            "the stream never had three copies: {:?}",
            stream_replicas(&bus, &url).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut sub = bus.subscribe(store, "probe").await.expect("subscribe");
    let js = jetstream(&bus, &cluster.url()).await;
    let mut stream = js.get_stream(bus.config().stream_name()).await.expect("stream");
    let durable = format!("{}_probe", bus.config().prefix);
    let consumer = stream
        .get_consumer::<async_nats::jetstream::consumer::pull::Config>(&durable)
        .await
        .expect("consumer");
    let mut consumer = consumer;
    assert_eq!(consumer.info().await.expect("consumer info").config.num_replicas, 3);
    assert_eq!(stream.info().await.expect("info").config.num_replicas, 3);

    let first = events(1, 10);
    publish(&bus, store, 0, &first).await;
    assert_eq!(
        receive_all(&bus, store, &mut sub, &(1..=10).collect::<Vec<_>>()).await,
        (1..=10).collect::<Vec<_>>()
    );

    // The first server of the list goes away: the clients move to the others, the stream and
    // the consumer keep two copies of three, and events keep flowing.
    cluster.kill(0);
    let second = events(11, 10);
    publish(&bus, store, 10, &second).await;
    let got = receive_all(&bus, store, &mut sub, &(11..=20).collect::<Vec<_>>()).await;
    assert!(
        (11..=20).all(|p| got.contains(&p)),
        "after losing one server of three, the bus lost events: got {got:?}"
    );

    // A process started now, with the first server still down, connects through the others.
    let late = NatsBus::new(cluster.url(), bus.config().clone());
    late.prepare().await.expect("a server list with one server down");
    publish(&late, store, 20, &events(21, 1)).await;
    let got = receive_all(&bus, store, &mut sub, &[21]).await;
    assert!(got.contains(&21), "a process started after the loss could not publish");
}

#[tokio::test]
async fn replicas_a_server_cannot_give_refuse_the_start_and_say_why() {
    // One server, not a cluster: it cannot keep three copies.
    let dir = std::env::temp_dir().join(format!("prism-nats-single-{}", Uuid::now_v7().simple()));
    let port = free_port();
    let mut single = Command::new(cluster::nats_server())
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nats-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let bus = NatsBus::new(format!("nats://127.0.0.1:{port}"), config(3));
    let err = bus.prepare().await.expect_err("three replicas on one server");
    let _ = single.kill();
    let _ = single.wait();
    let _ = std::fs::remove_dir_all(&dir);
    match err {
        BusError::Settings(why) => assert!(why.contains("3 replicas"), "{why}"),
        other => panic!("expected a settings error, got {other:?}"),
    }

    // A bus that cannot be reached at all is no reason not to start (Postgres is the truth).
    let down = NatsBus::new(format!("nats://127.0.0.1:{}", free_port()), config(3));
    down.prepare()
        .await
        .expect("an unreachable bus is not a settings error");
}

#[test]
fn a_server_list_parses_as_nats_clients_take_it() {
    use prism_bus::nats::servers;
    assert_eq!(
        servers("nats://a:4222,nats://b:4222, nats://c:4222")
            .expect("list")
            .len(),
        3
    );
    assert_eq!(servers("tls://a:4222").expect("tls").len(), 1);
    assert!(servers("tls://a:4222").expect("tls")[0].tls_required());
    assert_eq!(servers("a:4222,b").expect("bare hosts").len(), 2);
    for bad in ["", " , ", "nats://a:notaport", "nats://a:4222,nats://b:99999"] {
        assert!(matches!(servers(bad), Err(BusError::Settings(_))), "{bad:?} was taken");
    }
}
