//! The read models, built through the real relay and each bus (the in-process bus, and NATS
//! JetStream with a unique stream prefix per test), match the log exactly, whatever happens to
//! the projector on the way.

use std::sync::Arc;
use std::time::{Duration, Instant};

use prism_auth::{Jwt, PasswordHasherId};
use prism_bus::relay::{self, RelayConfig};
use prism_bus::{LocalBus, NatsBus, NatsConfig};
use prism_commands::{CommandContext, Commands};
use prism_domain::{MessageId, UserId, WorkspaceId};
use prism_event_store::PgEventStore;
use prism_projections::read_models::ReadModels;
use prism_projections::{Projector, ProjectorConfig};
use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

fn nats_url() -> String {
    std::env::var("PRISM_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// A bus for a test: the projectors' configuration, and the stream to purge or delete (NATS).
struct Bed {
    cfg: ProjectorConfig,
    nats: Option<NatsConfig>,
}

impl Bed {
    fn local() -> Self {
        Self {
            cfg: ProjectorConfig::new(Arc::new(LocalBus::new()), 64),
            nats: None,
        }
    }

    fn nats() -> Self {
        let nats = NatsConfig {
            prefix: format!("t{}", &Uuid::now_v7().simple().to_string()[20..]),
            ..Default::default()
        };
        Self {
            cfg: ProjectorConfig::new(Arc::new(NatsBus::new(nats_url(), nats.clone())), 64),
            nats: Some(nats),
        }
    }

    /// A projector with no bus at all: it follows the Postgres log.
    fn offline() -> Self {
        let nats = NatsConfig::default();
        Self {
            cfg: ProjectorConfig::new(Arc::new(NatsBus::new("nats://127.0.0.1:1", nats)), 64),
            nats: None,
        }
    }

    async fn done(self) {
        if let Some(n) = self.nats {
            let js = async_nats::jetstream::new(async_nats::connect(nats_url()).await.expect("nats"));
            let _ = js.delete_stream(n.stream_name()).await;
        }
    }
}

fn commands(store: &PgEventStore) -> Commands {
    Commands::new(
        store.clone(),
        Jwt::new(b"projection-tests-projection-tests!!", Jwt::DEFAULT_TTL),
        PasswordHasherId::new(1024, 1).expect("params"),
    )
}

struct Running {
    stop: watch::Sender<bool>,
    relay: tokio::task::JoinHandle<Result<(), relay::RelayError>>,
}

fn start_relay(store: &PgEventStore, cfg: &ProjectorConfig) -> Running {
    let (stop, stopped) = watch::channel(false);
    let relay = tokio::spawn(relay::run(
        store.clone(),
        cfg.bus.clone(),
        RelayConfig {
            batch: 128,
            ..Default::default()
        },
        stopped,
    ));
    Running { stop, relay }
}

fn start_projector(store: &PgEventStore, cfg: &ProjectorConfig) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = watch::channel(false);
    let p = Projector::new(store.clone(), Arc::new(ReadModels), cfg.clone());
    let h = tokio::spawn(async move {
        let _ = p.run(stopped).await;
    });
    (stop, h)
}

/// Writes a workspace with a channel, `n` messages, reactions and an edit; answers the head.
async fn write(c: &Commands, n: usize) -> i64 {
    let owner = CommandContext::new(UserId::new());
    let ws = c.create_workspace(&owner, "Acme").await.expect("ws");
    let ws_id = WorkspaceId(ws.id);
    let ch = c.create_channel(&owner, ws_id, "general").await.expect("channel").id;
    let mut head = 0;
    for i in 0..n {
        let m = c
            .post_message(&owner, ch, &format!("message {i}"), None)
            .await
            .expect("post");
        head = m.position.expect("position");
        if i % 3 == 0 {
            head = c
                .toggle_reaction(&owner, MessageId(m.id), "👍")
                .await
                .expect("react")
                .position
                .expect("position");
        }
        if i % 5 == 0 {
            head = c
                .edit_message(&owner, MessageId(m.id), &format!("edited {i}"))
                .await
                .expect("edit")
                .position
                .expect("position");
        }
    }
    head
}

async fn wait_for(pool: &PgPool, position: i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let p = prism_projections::status::position(pool, "read_models")
            .await
            .expect("status");
        if p >= position {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the projection stopped at {p}, wanted {position}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Every read-model count equals what the log says.
async fn assert_matches_log(pool: &PgPool) {
    let q = |sql: &'static str| async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await.expect(sql) };
    let created = q("SELECT count(*) FROM events WHERE event_type = 'message.created'").await;
    assert_eq!(q("SELECT count(*) FROM rm_messages").await, created);
    let reactions = q("SELECT count(*) FILTER (WHERE (payload->>'added')::boolean) - count(*) FILTER (WHERE NOT (payload->>'added')::boolean) FROM events WHERE event_type = 'reaction.toggled'").await;
    assert_eq!(q("SELECT count(*) FROM rm_reactions").await, reactions);
    let edits = q("SELECT count(*) FROM events WHERE event_type = 'message.updated'").await;
    assert_eq!(
        q("SELECT count(*) FROM rm_messages WHERE edited_at IS NOT NULL").await,
        edits
    );
    assert_eq!(
        q("SELECT count(*) FROM rm_workspaces").await,
        q("SELECT count(*) FROM events WHERE event_type = 'workspace.created'").await
    );
    assert_eq!(
        q("SELECT count(*) FROM rm_channels").await,
        q("SELECT count(*) FROM events WHERE event_type = 'channel.created'").await
    );
    // Versions agree with the log, message by message.
    let off = q("SELECT count(*) FROM rm_messages m WHERE m.version <> (SELECT max(sequence) FROM events e WHERE e.aggregate_id = m.message_id)").await;
    assert_eq!(off, 0);
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn read_models_follow_the_log_through_the_local_bus(pool: PgPool) {
    read_models_follow_the_log(pool, Bed::local()).await
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn read_models_follow_the_log_through_nats(pool: PgPool) {
    read_models_follow_the_log(pool, Bed::nats()).await
}

async fn read_models_follow_the_log(pool: PgPool, bed: Bed) {
    let store = PgEventStore::new(pool.clone(), 0).with_group_commit(2, 64);
    let cfg = bed.cfg.clone();
    let relay = start_relay(&store, &cfg);
    let (stop, projector) = start_projector(&store, &cfg);
    let head = write(&commands(&store), 30).await;
    wait_for(&pool, head).await;
    assert_matches_log(&pool).await;
    let body: String = sqlx::query_scalar("SELECT body FROM rm_messages ORDER BY message_id LIMIT 1")
        .fetch_one(&pool)
        .await
        .expect("body");
    assert_eq!(body, "edited 0");
    stop.send(true).expect("stop");
    projector.await.expect("projector");
    relay.stop.send(true).expect("stop");
    relay.relay.await.expect("join").expect("relay");
    bed.done().await;
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_projector_killed_mid_stream_resumes_exactly_once_on_the_local_bus(pool: PgPool) {
    a_projector_killed_mid_stream_resumes_exactly_once(pool, Bed::local()).await
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_projector_killed_mid_stream_resumes_exactly_once_on_nats(pool: PgPool) {
    a_projector_killed_mid_stream_resumes_exactly_once(pool, Bed::nats()).await
}

async fn a_projector_killed_mid_stream_resumes_exactly_once(pool: PgPool, bed: Bed) {
    let store = PgEventStore::new(pool.clone(), 0).with_group_commit(2, 64);
    let cfg = bed.cfg.clone();
    let relay = start_relay(&store, &cfg);
    let c = commands(&store);
    // The projector we kill gets a pool of its own, as a process of its own would: killing a
    // task mid-transaction must not hand a half-used connection to the writers.
    let own_pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect_with(pool.connect_options().as_ref().clone())
        .await
        .expect("second pool");
    let (_stop, first) = start_projector(&PgEventStore::new(own_pool.clone(), 0), &cfg);
    let writer = tokio::spawn({
        let c = c.clone();
        async move { write(&c, 60).await }
    });
    // Kill the projector while it is busy: its transaction in flight is rolled back.
    tokio::time::sleep(Duration::from_millis(150)).await;
    first.abort();
    let _ = first.await;
    own_pool.close().await;
    let head = writer.await.expect("writer");
    let (stop, second) = start_projector(&store, &cfg);
    wait_for(&pool, head).await;
    assert_matches_log(&pool).await;
    stop.send(true).expect("stop");
    second.await.expect("projector");
    relay.stop.send(true).expect("stop");
    relay.relay.await.expect("join").expect("relay");
    bed.done().await;
}

/// Two standbys of a leader that holds its lease and applies nothing (hung, cut off from
/// NATS): they apply what it leaves, without waiting for its lease, each event exactly once.
#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn warm_standbys_apply_what_a_hung_leader_leaves_exactly_once(pool: PgPool) {
    let store = PgEventStore::new(pool.clone(), 0).with_group_commit(2, 64);
    let bed = Bed::nats();
    sqlx::query(
        "INSERT INTO leases (name, holder, expires_at, since, holder_name)
         VALUES ('projector:read_models', $1, now() + interval '1 hour', now(), 'hung:1')",
    )
    .bind(Uuid::now_v7())
    .execute(&pool)
    .await
    .expect("lease");
    let relay = start_relay(&store, &bed.cfg);
    let node = |n: &str| {
        let mut cfg = bed.cfg.clone();
        cfg.lease.node = n.into();
        cfg
    };
    let (stop_a, a) = start_projector(&store, &node("a"));
    let (stop_b, b) = start_projector(&store, &node("b"));
    let head = write(&commands(&store), 30).await;
    wait_for(&pool, head).await;
    assert_matches_log(&pool).await;
    let holder: String = sqlx::query_scalar("SELECT holder_name FROM leases WHERE name = 'projector:read_models'")
        .fetch_one(&pool)
        .await
        .expect("holder");
    assert_eq!(holder, "hung:1", "a standby took the lease: this test proves nothing");
    for (stop, h) in [(stop_a, a), (stop_b, b)] {
        stop.send(true).expect("stop");
        h.await.expect("projector");
    }
    relay.stop.send(true).expect("stop");
    relay.relay.await.expect("join").expect("relay");
    bed.done().await;
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_purged_stream_is_caught_up_from_postgres(pool: PgPool) {
    let store = PgEventStore::new(pool.clone(), 0).with_group_commit(2, 64);
    let bed = Bed::nats();
    let (cfg, nats) = (bed.cfg.clone(), bed.nats.clone().expect("nats"));
    let relay = start_relay(&store, &cfg);
    let c = commands(&store);
    let first_head = write(&c, 10).await;
    // Wait for the relay, then purge everything it published; only then does a projector start.
    let deadline = Instant::now() + Duration::from_secs(20);
    while relay::checkpoint(&store, &relay::checkpoint_name(cfg.bus.as_ref()))
        .await
        .expect("cp")
        < first_head
    {
        assert!(Instant::now() < deadline, "relay stuck");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let js = async_nats::jetstream::new(async_nats::connect(nats_url()).await.expect("nats"));
    js.get_stream(nats.stream_name())
        .await
        .expect("stream")
        .purge()
        .await
        .expect("purge");
    let (stop, projector) = start_projector(&store, &cfg);
    let head = write(&c, 10).await;
    wait_for(&pool, head).await;
    assert_matches_log(&pool).await;
    stop.send(true).expect("stop");
    projector.await.expect("projector");
    relay.stop.send(true).expect("stop");
    relay.relay.await.expect("join").expect("relay");
    bed.done().await;
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_rebuild_gives_the_same_read_models_and_swaps_them_in(pool: PgPool) {
    let store = PgEventStore::new(pool.clone(), 0).with_group_commit(2, 64);
    let c = commands(&store);
    write(&c, 25).await;
    let cfg = Bed::offline().cfg;
    let live = Projector::new(store.clone(), Arc::new(ReadModels), cfg.clone());
    live.catch_up().await.expect("live");
    let snapshot = |pool: PgPool| async move {
        sqlx::query_scalar::<_, String>(
            "SELECT string_agg(message_id::text || body || deleted::text || version::text, ',' ORDER BY message_id) FROM rm_messages",
        )
        .fetch_one(&pool)
        .await
        .expect("snapshot")
    };
    let before = snapshot(pool.clone()).await;
    // Every index of the live tables, as defined: the copy builds its secondary ones last.
    let indexes = |pool: PgPool| async move {
        sqlx::query_scalar::<_, String>(
            "SELECT string_agg(indexdef, E'\n' ORDER BY indexname) FROM pg_indexes
              WHERE schemaname = 'public' AND tablename LIKE 'rm\\_%'",
        )
        .fetch_one(&pool)
        .await
        .expect("indexes")
    };
    let defined = indexes(pool.clone()).await;
    assert!(defined.contains("(channel_id, message_id DESC)"), "{defined}");
    // Vandalise the live copy: the rebuild must not read from it.
    sqlx::query("UPDATE rm_messages SET body = 'vandalised'")
        .execute(&pool)
        .await
        .expect("vandalise");
    let mut seen = 0;
    let report =
        prism_projections::rebuild::rebuild(&store, &ReadModels, prism_projections::read_models::TABLES, 16, |p| {
            seen = p.applied
        })
        .await
        .expect("rebuild");
    assert!(seen > 0 && report.applied >= seen);
    assert_eq!(snapshot(pool.clone()).await, before);
    assert_eq!(
        indexes(pool.clone()).await,
        defined,
        "the swapped-in tables have every index"
    );
    assert_matches_log(&pool).await;
    let head: i64 = sqlx::query_scalar("SELECT max(global_position) FROM events")
        .fetch_one(&pool)
        .await
        .expect("head");
    assert_eq!(
        prism_projections::status::position(&pool, "read_models")
            .await
            .expect("status"),
        head
    );
}

/// The read models applied one event at a time (the definition of right).
struct OneByOne;
impl prism_projections::Projection for OneByOne {
    fn name(&self) -> &'static str {
        "read_models"
    }
    fn apply<'a>(
        &'a self,
        tx: &'a mut sqlx::PgConnection,
        e: &'a prism_event_store::StoredEvent,
    ) -> futures::future::BoxFuture<'a, Result<(), prism_projections::ProjectionError>> {
        ReadModels.apply(tx, e)
    }
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn set_based_apply_equals_one_by_one(pool: PgPool) {
    let store = PgEventStore::new(pool.clone(), 0).with_group_commit(2, 64);
    let c = commands(&store);
    let owner = CommandContext::new(UserId::new());
    let ws = WorkspaceId(c.create_workspace(&owner, "Acme").await.expect("ws").id);
    let ch = c.create_channel(&owner, ws, "general").await.expect("channel").id;
    // Long runs of message.created, with replies to messages of the same run and of earlier ones.
    let mut parents = Vec::new();
    for i in 0..40 {
        let parent = if i % 4 == 3 { parents.last().copied() } else { None };
        let m = c
            .post_message(&owner, ch, &format!("m{i}"), parent.map(MessageId))
            .await
            .expect("post")
            .id;
        parents.push(m);
        if i == 20 {
            c.toggle_reaction(&owner, MessageId(parents[0]), "👍")
                .await
                .expect("react");
        }
        // Edits and reactions inside the runs, several on one message, toggled on and off.
        if i % 3 == 1 {
            let target = MessageId(parents[i / 2]);
            c.edit_message(&owner, target, &format!("edit {i}"))
                .await
                .expect("edit");
            c.toggle_reaction(&owner, target, "🎉").await.expect("react");
            c.edit_message(&owner, target, &format!("edit again {i}"))
                .await
                .expect("edit");
            if i % 2 == 0 {
                c.toggle_reaction(&owner, target, "🎉").await.expect("un-react");
            }
        }
        if i == 30 {
            c.delete_message(&owner, MessageId(parents[5])).await.expect("delete");
        }
    }
    let snapshot = || async {
        let mut all = Vec::new();
        for t in ["rm_messages", "rm_reactions"] {
            let rows: Vec<String> = sqlx::query_scalar(&format!("SELECT to_jsonb(t)::text FROM {t} t ORDER BY 1"))
                .fetch_all(&pool)
                .await
                .expect("snapshot");
            all.extend(rows);
        }
        all
    };
    let tables = prism_projections::read_models::TABLES;
    prism_projections::rebuild::rebuild(&store, &OneByOne, tables, 1000, |_| {})
        .await
        .expect("one by one");
    let expected = snapshot().await;
    prism_projections::rebuild::rebuild(&store, &ReadModels, tables, 1000, |_| {})
        .await
        .expect("set based");
    assert_eq!(snapshot().await, expected);
    let replies: i64 = sqlx::query_scalar("SELECT sum(reply_count) FROM rm_messages")
        .fetch_one(&pool)
        .await
        .expect("sum");
    assert_eq!(replies, 10);
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn an_unreadable_event_halts_the_projection_visibly_and_is_never_skipped(pool: PgPool) {
    let store = PgEventStore::new(pool.clone(), 0).with_group_commit(2, 64);
    let c = commands(&store);
    let before = write(&c, 2).await;
    // An event this projection cannot read (a payload that is not a message.created).
    sqlx::query(
        "INSERT INTO events (event_id, tenant_id, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, recorded_at, hash)
         VALUES (gen_random_uuid(), NULL, 'message', gen_random_uuid(), 1, 'message.created', 2, '{\"nonsense\": true}', '{}', now(), '\\x00')",
    )
    .execute(&pool)
    .await
    .expect("bad event");
    let after = write(&c, 2).await;
    let cfg = Bed::offline().cfg; // no bus at all: the projector follows Postgres
    let (stop, stopped) = watch::channel(false);
    let projector = tokio::spawn(Projector::new(store.clone(), Arc::new(ReadModels), cfg).run(stopped));
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        let all = prism_projections::status::all(&pool).await.expect("status");
        if let Some((s, lag)) = all.into_iter().find(|(s, _)| s.last_error.is_some()) {
            break (s, lag);
        }
        assert!(Instant::now() < deadline, "the projection never reported its error");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let (s, lag) = status;
    assert!(s.halted_at.is_some());
    assert!(
        s.last_error.as_deref().is_some_and(|e| e.contains("cannot be applied")),
        "{:?}",
        s.last_error
    );
    assert!(
        s.position >= before && s.position < after,
        "it stopped at the bad event, not past it: {} (ok up to {before})",
        s.position
    );
    assert!(lag > 0);
    // Still halted a moment later: it retries, it does not skip.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        prism_projections::status::position(&pool, "read_models")
            .await
            .expect("position")
            < after
    );
    stop.send(true).expect("stop");
    projector.await.expect("join").expect("projector");
}
