//! NATS goes down while commands are written: every command succeeds, the read models keep
//! up from the Postgres log, and when NATS is back the relay catches up the stream.
//! This test runs its own private nats-server on a free port and stops only that one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use prism_auth::{Jwt, PasswordHasherId};
use prism_bus::relay::{self, RelayConfig};
use prism_bus::{Bus, NatsBus, NatsConfig};
use prism_commands::{CommandContext, Commands};
use prism_domain::{UserId, WorkspaceId};
use prism_event_store::PgEventStore;
use prism_projections::read_models::ReadModels;
use prism_projections::{Projector, ProjectorConfig};
use sqlx::PgPool;
use tokio::sync::watch;

mod common;
use common::{free_port, wait_for, wait_for_relay, PrivateNats};

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn commands_succeed_and_read_models_complete_while_nats_is_down(pool: PgPool) {
    let dir = std::env::temp_dir().join(format!("prism-nats-{}", uuid::Uuid::now_v7().simple()));
    let mut nats = PrivateNats::start(free_port(), &dir);
    let store = PgEventStore::new(pool.clone(), 0).with_group_commit(2, 64);
    let bus: Arc<dyn Bus> = Arc::new(NatsBus::new(
        nats.url(),
        NatsConfig {
            prefix: "down".into(),
            ..Default::default()
        },
    ));
    let cfg = ProjectorConfig::new(bus.clone(), 64);
    let (stop, stopped) = watch::channel(false);
    let relay = tokio::spawn(relay::run(
        store.clone(),
        bus.clone(),
        RelayConfig::default(),
        stopped.clone(),
    ));
    let projector = Projector::new(store.clone(), Arc::new(ReadModels), cfg.clone());
    let projector = tokio::spawn(projector.run(stopped));
    let c = Commands::new(
        store.clone(),
        Jwt::new(b"nats-down-nats-down-nats-down-nats!!", Jwt::DEFAULT_TTL),
        PasswordHasherId::new(1024, 1).expect("p"),
    );
    let owner = CommandContext::new(UserId::new());
    let ws = WorkspaceId(c.create_workspace(&owner, "Acme").await.expect("ws").id);
    let ch = c.create_channel(&owner, ws, "general").await.expect("channel").id;
    let head = c
        .post_message(&owner, ch, "before", None)
        .await
        .expect("post")
        .position
        .expect("position");
    wait_for(&pool, head).await;

    nats.stop();
    let mut head = 0;
    for i in 0..20 {
        head = c
            .post_message(&owner, ch, &format!("during {i}"), None)
            .await
            .expect("a command while nats is down")
            .position
            .expect("position");
    }
    // Postgres is the path that always works: the read models keep up without NATS.
    wait_for(&pool, head).await;
    // The relay says it cannot publish (what `/readyz` and `projections status` show).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let relays = prism_projections::status::relays(&pool).await.expect("relays");
        if relays
            .iter()
            .any(|r| r.failing_since.is_some() && r.last_error.is_some())
        {
            assert!(relays[0].lag > 0, "{relays:?}");
            break;
        }
        assert!(Instant::now() < deadline, "the relay never said it was failing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let mut nats = PrivateNats::start(nats.port, &nats.dir.clone());
    for i in 0..5 {
        head = c
            .post_message(&owner, ch, &format!("after {i}"), None)
            .await
            .expect("post")
            .position
            .expect("position");
    }
    wait_for(&pool, head).await;
    // The relay caught the stream up too.
    wait_for_relay(
        &store,
        &relay::checkpoint_name(bus.as_ref()),
        head,
        "the relay never caught up after NATS came back",
    )
    .await;
    let relays = prism_projections::status::relays(&pool).await.expect("relays");
    assert!(
        relays
            .iter()
            .all(|r| r.failing_since.is_none() && r.last_error.is_none()),
        "{relays:?}"
    );
    let bodies: Vec<String> = sqlx::query_scalar("SELECT body FROM rm_messages ORDER BY message_id")
        .fetch_all(&pool)
        .await
        .expect("bodies");
    let expected: Vec<String> = std::iter::once("before".to_owned())
        .chain((0..20).map(|i| format!("during {i}")))
        .chain((0..5).map(|i| format!("after {i}")))
        .collect();
    assert_eq!(bodies, expected, "complete and in order");
    stop.send(true).expect("stop");
    relay.await.expect("join").expect("relay");
    projector.await.expect("join").expect("projector");
    nats.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
