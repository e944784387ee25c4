//! NATS goes down while commands are written: every command succeeds, the read models keep
//! up from the Postgres log, and when NATS is back the relay catches up the stream.
//! This test runs its own private nats-server on a free port and stops only that one.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prism_auth::{Jwt, PasswordHasherId};
use prism_commands::{CommandContext, Commands};
use prism_domain::{UserId, WorkspaceId};
use prism_event_store::relay::{self, RelayConfig};
use prism_event_store::PgEventStore;
use prism_projections::read_models::ReadModels;
use prism_projections::{Projector, ProjectorConfig};
use sqlx::PgPool;
use tokio::sync::watch;

struct PrivateNats {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl PrivateNats {
    fn start(port: u16, dir: &std::path::Path) -> Self {
        let bin = [
            "/usr/sbin/nats-server",
            "/usr/bin/nats-server",
            "/usr/local/bin/nats-server",
        ]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or("nats-server");
        let child = Command::new(bin)
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a private nats-server");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "private nats-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            port,
            dir: dir.to_owned(),
        }
    }
    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

async fn wait_for(pool: &PgPool, position: i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while prism_projections::status::position(pool, "read_models")
        .await
        .expect("status")
        < position
    {
        assert!(Instant::now() < deadline, "the projection never reached {position}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn commands_succeed_and_read_models_complete_while_nats_is_down(pool: PgPool) {
    let dir = std::env::temp_dir().join(format!("prism-nats-{}", uuid::Uuid::now_v7().simple()));
    let mut nats = PrivateNats::start(free_port(), &dir);
    let store = PgEventStore::new(pool.clone(), 0).with_group_commit(2, 64);
    let cfg = ProjectorConfig {
        nats_url: nats.url(),
        relay: RelayConfig {
            prefix: "down".into(),
            ..Default::default()
        },
        batch: 64,
    };
    let (stop, stopped) = watch::channel(false);
    let relay = tokio::spawn(relay::run(
        store.clone(),
        cfg.nats_url.clone(),
        cfg.relay.clone(),
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
    let ws = WorkspaceId(c.create_workspace(&owner, "Acme").await.expect("ws").id().expect("id"));
    let ch = c
        .create_channel(&owner, ws, "general")
        .await
        .expect("channel")
        .id()
        .expect("id");
    let head = c
        .post_message(&owner, ch, "before", None)
        .await
        .expect("post")
        .position();
    wait_for(&pool, head).await;

    nats.stop();
    let mut head = 0;
    for i in 0..20 {
        head = c
            .post_message(&owner, ch, &format!("during {i}"), None)
            .await
            .expect("a command while nats is down")
            .position();
    }
    // Postgres is the path that always works: the read models keep up without NATS.
    wait_for(&pool, head).await;

    let mut nats = PrivateNats::start(nats.port, &nats.dir.clone());
    for i in 0..5 {
        head = c
            .post_message(&owner, ch, &format!("after {i}"), None)
            .await
            .expect("post")
            .position();
    }
    wait_for(&pool, head).await;
    // The relay caught the stream up too.
    let deadline = Instant::now() + Duration::from_secs(30);
    while relay::checkpoint(&store, &cfg.relay).await.expect("cp") < head {
        assert!(
            Instant::now() < deadline,
            "the relay never caught up after NATS came back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
