//! The bus is not trusted: a forged message changes no projection; an event too large for the
//! server travels as a reference without stopping the stream; NATS accounts keep everyone but
//! the relay from publishing events.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use prism_auth::{Jwt, PasswordHasherId};
use prism_bus::relay::{self, RelayConfig};
use prism_bus::signing::{BusKeys, NatsAuth};
use prism_bus::{Bus, NatsBus, NatsConfig};
use prism_commands::{CommandContext, Commands};
use prism_domain::{UserId, WorkspaceId};
use prism_event_store::{PgEventStore, StoredEvent};
use prism_projections::read_models::ReadModels;
use prism_projections::{Projector, ProjectorConfig};
use serde_json::json;
use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

mod common;
use common::{free_port, wait_for, wait_for_relay, PrivateNats};

const BUS_KEY: &[u8] = b"bus-trust-tests-bus-key-of-enough-length";

struct Running {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    commands: Commands,
    store: PgEventStore,
    nats: NatsConfig,
}

impl Running {
    /// A relay and the read-models projector on `url`, signing with [`BUS_KEY`].
    fn start(pool: &PgPool, url: String, prefix: &str, auth: NatsAuth, projector_auth: NatsAuth) -> Self {
        let store = PgEventStore::new(pool.clone(), 0).with_group_commit(2, 64);
        let nats = NatsConfig {
            prefix: prefix.into(),
            keys: BusKeys::new(BUS_KEY, &[]),
            auth,
            ..Default::default()
        };
        let relay_bus: Arc<dyn Bus> = Arc::new(NatsBus::new(url.clone(), nats.clone()));
        let projector_bus = NatsBus::new(
            url,
            NatsConfig {
                auth: projector_auth,
                ..nats.clone()
            },
        );
        let cfg = ProjectorConfig::new(Arc::new(projector_bus), 64);
        let (stop, stopped) = watch::channel(false);
        let relay = tokio::spawn({
            let (store, stopped) = (store.clone(), stopped.clone());
            async move {
                relay::run(store, relay_bus, RelayConfig::default(), stopped)
                    .await
                    .expect("relay");
            }
        });
        let projector = Projector::new(store.clone(), Arc::new(ReadModels), cfg.clone());
        let projector = tokio::spawn(async move {
            projector.run(stopped).await.expect("projector");
        });
        let commands = Commands::new(
            store.clone(),
            Jwt::new(b"bus-trust-bus-trust-bus-trust-bus-trust", Jwt::DEFAULT_TTL),
            PasswordHasherId::new(1024, 1).expect("params"),
        );
        Self {
            stop,
            tasks: vec![relay, projector],
            commands,
            store,
            nats,
        }
    }

    async fn stop(self) {
        self.stop.send(true).expect("stop");
        for t in self.tasks {
            t.await.expect("a task panicked");
        }
    }
}

fn nats_url() -> String {
    std::env::var("PRISM_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// Publishes `event` on the bus by hand, as the relay would, with `key` (or no signature).
async fn forge(url: &str, cfg: &NatsConfig, store_id: Uuid, event: &StoredEvent, prev: i64, key: Option<&BusKeys>) {
    let client = async_nats::connect(url).await.expect("connect");
    let js = jetstream::new(client);
    let body = serde_json::to_vec(event).expect("json");
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", Uuid::now_v7().to_string().as_str());
    headers.insert("Prism-Store-Id", store_id.to_string().as_str());
    headers.insert("Prism-Position", event.global_position.to_string().as_str());
    headers.insert("Prism-Prev-Position", prev.to_string().as_str());
    if let Some(k) = key {
        headers.insert("Prism-Key-Id", k.key_id());
        let sig = k.sign(&prism_bus::signing::Signed {
            store: store_id,
            position: event.global_position,
            prev,
            reference: false,
            body: &body,
        });
        headers.insert("Prism-Signature", sig.as_str());
    }
    js.publish_with_headers(cfg.subject(event), headers, body.into())
        .await
        .expect("publish")
        .await
        .expect("ack");
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_forged_member_joined_changes_no_projection(pool: PgPool) {
    let prefix = format!("forge{}", Uuid::now_v7().simple());
    let url = nats_url();
    let run = Running::start(&pool, url.clone(), &prefix, NatsAuth::None, NatsAuth::None);
    let c = &run.commands;
    let owner = CommandContext::new(UserId::new());
    let ws = c.create_workspace(&owner, "Acme").await.expect("ws").id;
    let ch = c
        .create_channel(&owner, WorkspaceId(ws), "general")
        .await
        .expect("ch")
        .id;
    let head = c
        .post_message(&owner, ch, "before", None)
        .await
        .expect("post")
        .position
        .expect("position");
    wait_for(&pool, head).await;
    // The projector may have caught up from Postgres before the relay made the stream: the
    // forgeries need it to exist (the relay publishing `head` proves it does).
    wait_for_relay(
        &run.store,
        &relay::checkpoint_name(&NatsBus::new(String::new(), run.nats.clone())),
        head,
        "the relay never published the head",
    )
    .await;

    // The attacker can reach NATS and knows the store id and the next position. Forgeries:
    // unsigned, and signed with a key of their own.
    let outsider = Uuid::now_v7();
    let store_id = run.store.store_id().await.expect("store id");
    let mut forged = run.store.read_all(head - 1, 1).await.expect("read").remove(0);
    forged.global_position = head + 1;
    forged.event_id = Uuid::now_v7();
    forged.tenant_id = Some(ws);
    forged.aggregate_type = "workspace".into();
    forged.aggregate_id = ws;
    forged.event_type = "member.joined".into();
    forged.payload = json!({"user_id": outsider, "role": "owner"});
    forge(&url, &run.nats, store_id, &forged, head, None).await;
    let attacker_key = BusKeys::new(b"an-attackers-own-key-of-enough-length!!", &[]);
    forge(&url, &run.nats, store_id, &forged, head, Some(&attacker_key)).await;

    // The genuine event at that position, and a few after it.
    let mut last = 0;
    for i in 0..3 {
        last = c
            .post_message(&owner, ch, &format!("genuine {i}"), None)
            .await
            .expect("post")
            .position
            .expect("position");
    }
    assert_eq!(last, head + 3, "the genuine events took the forged position");
    wait_for(&pool, last).await;

    let members: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT user_id, role FROM rm_members WHERE workspace_id = $1 ORDER BY user_id")
            .bind(ws)
            .fetch_all(&pool)
            .await
            .expect("members");
    assert_eq!(members, vec![(owner.actor.user_id.0, "owner".to_owned())]);
    let bodies: Vec<String> = sqlx::query_scalar("SELECT body FROM rm_messages ORDER BY message_id")
        .fetch_all(&pool)
        .await
        .expect("bodies");
    assert_eq!(
        bodies,
        ["before", "genuine 0", "genuine 1", "genuine 2"],
        "nothing genuine was skipped"
    );
    run.stop().await;
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn an_event_over_the_servers_max_payload_travels_as_a_reference(pool: PgPool) {
    let dir = std::env::temp_dir().join(format!("prism-nats-{}", Uuid::now_v7().simple()));
    let nats = PrivateNats::start_with(free_port(), &dir, Some("max_payload: 32768\n"));
    let run = Running::start(&pool, nats.url(), "small", NatsAuth::None, NatsAuth::None);
    let c = &run.commands;
    let owner = CommandContext::new(UserId::new());
    let ws = WorkspaceId(c.create_workspace(&owner, "Acme").await.expect("ws").id);
    let body = "long words ".repeat(10_000);
    let doc = c.create_doc(&owner, ws, "Big", &body).await.expect("a legal doc").id;
    let ch = c.create_channel(&owner, ws, "general").await.expect("ch").id;
    let last = c
        .post_message(&owner, ch, "after the big one", None)
        .await
        .expect("post")
        .position
        .expect("position");
    wait_for(&pool, last).await;
    let stored: String = sqlx::query_scalar("SELECT body FROM rm_docs WHERE doc_id = $1")
        .bind(doc)
        .fetch_one(&pool)
        .await
        .expect("doc");
    assert_eq!(stored, body);
    // The relay went on past it: the stream holds the reference and what came after.
    wait_for_relay(
        &run.store,
        &relay::checkpoint_name(&NatsBus::new(String::new(), run.nats.clone())),
        last,
        "the relay is stuck on the large event",
    )
    .await;
    let js = jetstream::new(async_nats::connect(nats.url()).await.expect("connect"));
    let stream = js.get_stream(run.nats.stream_name()).await.expect("stream");
    let msg = stream
        .get_last_raw_message_by_subject(&format!("small.events.{}.doc.doc.created", ws.0))
        .await
        .expect("the doc's message");
    assert_eq!(
        msg.headers.get("Prism-Payload").map(|v| v.as_str()),
        Some(prism_bus::nats::REFERENCE),
        "published as a reference"
    );
    let failing: Option<String> = sqlx::query_scalar("SELECT last_error FROM relay_checkpoints")
        .fetch_one(&pool)
        .await
        .expect("relay row");
    assert_eq!(failing, None);
    run.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn with_the_deployed_accounts_only_the_relay_may_publish(pool: PgPool) {
    let dir = std::env::temp_dir().join(format!("prism-nats-{}", Uuid::now_v7().simple()));
    // deploy/nats.conf as compose runs it, passwords as its environment would give them.
    let conf = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/nats.conf"))
        .expect("deploy/nats.conf")
        .replace("$PRISM_NATS_RELAY_PASSWORD", "\"relay-secret\"")
        .replace("$PRISM_NATS_PROJECTOR_PASSWORD", "\"projector-secret\"");
    let nats = PrivateNats::start_with(free_port(), &dir, Some(&conf));
    let relay_auth = NatsAuth::UserPassword {
        user: "relay".into(),
        password: "relay-secret".into(),
    };
    let projector_auth = NatsAuth::UserPassword {
        user: "projector".into(),
        password: "projector-secret".into(),
    };
    // Strangers cannot even connect.
    let stranger = async_nats::ConnectOptions::new()
        .max_reconnects(Some(1))
        .connect(nats.url())
        .await;
    assert!(stranger.is_err(), "a stranger connected without credentials");
    let run = Running::start(&pool, nats.url(), "prism", relay_auth.clone(), projector_auth.clone());
    let c = &run.commands;
    let owner = CommandContext::new(UserId::new());
    let ws = WorkspaceId(c.create_workspace(&owner, "Acme").await.expect("ws").id);
    let ch = c.create_channel(&owner, ws, "general").await.expect("ch").id;
    let last = c
        .post_message(&owner, ch, "through the accounts", None)
        .await
        .expect("post")
        .position
        .expect("position");
    wait_for(&pool, last).await;
    wait_for_relay(
        &run.store,
        &relay::checkpoint_name(&NatsBus::new(String::new(), run.nats.clone())),
        last,
        "the relay could not publish with its account",
    )
    .await;
    // A projector's credentials cannot put anything on the events subjects: the server says
    // so, and the stream holds nothing from it.
    let (events_tx, mut events_rx) = tokio::sync::mpsc::unbounded_channel();
    let client = projector_auth
        .options()
        .event_callback(move |e| {
            let tx = events_tx.clone();
            async move {
                let _ = tx.send(e.to_string());
            }
        })
        .connect(nats.url())
        .await
        .expect("projector connects");
    // (A workspace no genuine event names, so anything found there is the forgery.)
    let subject = format!("prism.events.{}.workspace.member.joined", Uuid::now_v7());
    client.publish(subject.clone(), "forged".into()).await.expect("sent");
    client.flush().await.expect("flush");
    let violation = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(e) = events_rx.recv().await {
            if e.to_lowercase().contains("permissions violation") {
                return e;
            }
        }
        String::new()
    })
    .await
    .expect("the server reported no permissions violation");
    assert!(violation.contains(&subject), "{violation}");
    // Read back with the relay's account (the projector's may not read single messages).
    let js = jetstream::new(relay_auth.options().connect(nats.url()).await.expect("relay connects"));
    let stream = js.get_stream(run.nats.stream_name()).await.expect("stream");
    let ours = format!("prism.events.{}.message.message.created", ws.0);
    assert!(
        stream.get_last_raw_message_by_subject(&ours).await.is_ok(),
        "the check can read"
    );
    assert!(
        stream.get_last_raw_message_by_subject(&subject).await.is_err(),
        "a projector's account published an event"
    );
    run.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
