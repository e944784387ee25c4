//! Hot pages, as one node runs them (`prism serve`): the relay, the in-process bus, the read
//! models' projector and the node's hot pages. A first page is answered from memory, and every
//! change a reader could see — a new message, a reaction, an edit, a deletion, a member removed,
//! an author erased — shows on the very next read that asks for its position.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use prism_auth::{Jwt, PasswordHasherId};
use prism_bus::relay::{self, RelayConfig};
use prism_bus::{Bus, LocalBus};
use prism_commands::{CommandContext, Commands};
use prism_domain::{MessageId, UserId, WorkspaceId};
use prism_event_store::PgEventStore;
use prism_projections::read_models::hot::HotPages;
use prism_projections::read_models::ReadModels;
use prism_projections::{Projector, ProjectorConfig};
use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::watch;
use tower::ServiceExt;
use uuid::Uuid;

const SECRET: &[u8] = b"hot-pages-tests-hot-pages-tests-hot!";

struct Node {
    app: axum::Router,
    jwt: Jwt,
    c: Commands,
    hot: HotPages,
    pool: PgPool,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    ann: CommandContext,
    bob: CommandContext,
    ws: Uuid,
    channel: Uuid,
}

impl Node {
    async fn start(pool: PgPool) -> Self {
        let store = PgEventStore::new(pool.clone(), 0).with_group_commit(2, 64);
        let jwt = Jwt::new(SECRET, Jwt::DEFAULT_TTL);
        let c = Commands::new(
            store.clone(),
            jwt.clone(),
            PasswordHasherId::new(1024, 1).expect("params"),
        );
        let bus: Arc<dyn Bus> = Arc::new(LocalBus::new());
        let hot = HotPages::new(store.safe_horizon().await.expect("horizon"));
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        let (s, b, st) = (store.clone(), bus.clone(), stopped.clone());
        tasks.push(tokio::spawn(async move {
            relay::run(s, b, RelayConfig::default(), st).await.expect("relay");
        }));
        let cfg = ProjectorConfig::new(bus, 64);
        for p in [
            Projector::new(store.clone(), Arc::new(ReadModels), cfg.clone()),
            Projector::with_target(store.clone(), Arc::new(hot.clone()), cfg),
        ] {
            let st = stopped.clone();
            tasks.push(tokio::spawn(async move {
                p.run(st).await.expect("projector");
            }));
        }
        let mut people = Vec::new();
        for name in ["ann", "bob"] {
            let t = c
                .register(&format!("{name}@example.com"), "correct horse battery", name, None)
                .await
                .expect("register");
            people.push(CommandContext::new(t.user_id));
        }
        let (ann, bob) = (people[0].clone(), people[1].clone());
        let created = c.create_workspace(&ann, "Acme").await.expect("ws");
        let ws = created.id;
        let code = created.body()["join_code"].as_str().expect("code").to_owned();
        c.join_workspace(&bob, WorkspaceId(ws), &code).await.expect("join");
        let channel = c
            .create_channel(&ann, WorkspaceId(ws), "general")
            .await
            .expect("channel")
            .id;
        let state = prism_read_api::AppState::new(pool.clone(), jwt.clone())
            .with_hot_pages(hot.clone())
            .with_max_wait(Duration::from_secs(10));
        Self {
            app: prism_read_api::app(state),
            jwt,
            c,
            hot,
            pool,
            stop,
            tasks,
            ann,
            bob,
            ws,
            channel,
        }
    }

    async fn stop(self) {
        self.stop.send(true).expect("stop");
        for t in self.tasks {
            t.await.expect("a task panicked");
        }
    }

    /// GET `path` as `who`, waiting for position `at`.
    async fn get(&self, path: &str, who: &CommandContext, at: i64) -> (StatusCode, Value) {
        let token = self.jwt.issue(who.actor.user_id, vec![]).expect("token");
        let req = Request::builder()
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .header("x-min-position", at.to_string())
            .body(Body::empty())
            .expect("request");
        let res = self.app.clone().oneshot(req).await.expect("response");
        let status = res.status();
        let body = res.into_body().collect().await.expect("body").to_bytes();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    async fn page(&self, who: &CommandContext, at: i64) -> Vec<Value> {
        let (status, v) = self
            .get(&format!("/v1/channels/{}/messages", self.channel), who, at)
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        v["items"].as_array().expect("items").clone()
    }

    async fn post(&self, who: &CommandContext, body: &str) -> (Uuid, i64) {
        let o = self.c.post_message(who, self.channel, body, None).await.expect("post");
        (o.id, o.position.expect("position"))
    }

    /// Changes every stored body behind the cache's back: a page that still shows the old
    /// bodies came from memory.
    async fn tamper(&self) {
        sqlx::query("UPDATE rm_messages SET body = 'changed behind the cache'")
            .execute(&self.pool)
            .await
            .expect("tamper");
    }
}

fn bodies(items: &[Value]) -> Vec<&str> {
    items.iter().map(|m| m["body"].as_str().unwrap_or_default()).collect()
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_first_page_comes_from_memory_and_every_change_shows_on_the_next_read(pool: PgPool) {
    let n = Node::start(pool).await;
    n.post(&n.ann, "one").await;
    let (two, _) = n.post(&n.bob, "two").await;
    let (_, at) = n.post(&n.ann, "three").await;
    assert_eq!(bodies(&n.page(&n.ann, at).await), ["three", "two", "one"]);
    assert_eq!(n.hot.len().0, 1, "the first page is kept");

    // Given the page is kept, when the table changes behind its back, the page is served from
    // memory (what the projection wrote, not what was slipped in).
    n.tamper().await;
    assert_eq!(bodies(&n.page(&n.ann, at).await), ["three", "two", "one"]);
    assert_eq!(
        bodies(&n.page(&n.bob, at).await),
        ["three", "two", "one"],
        "another member, same page"
    );

    // A new message: the next read at its position shows it (and, reloaded, the tampering).
    let (_, at) = n.post(&n.bob, "four").await;
    let items = n.page(&n.ann, at).await;
    assert_eq!(bodies(&items)[0], "four");
    assert_eq!(items.len(), 4);

    // Given a fresh page in memory, a reaction, an edit and a deletion each show at once.
    n.tamper().await;
    let at =
        n.c.toggle_reaction(&n.ann, MessageId(two), "👍")
            .await
            .expect("react")
            .position
            .expect("position");
    let items = n.page(&n.ann, at).await;
    let two_row = items.iter().find(|m| m["id"] == two.to_string()).expect("two");
    assert_eq!(two_row["reactions"]["👍"], 1, "{two_row}");
    let at =
        n.c.edit_message(&n.bob, MessageId(two), "two, edited")
            .await
            .expect("edit")
            .position
            .expect("position");
    let items = n.page(&n.ann, at).await;
    let two_row = items.iter().find(|m| m["id"] == two.to_string()).expect("two");
    assert_eq!(two_row["body"], "two, edited");
    assert_eq!(two_row["edited"], true);
    let at =
        n.c.delete_message(&n.bob, MessageId(two))
            .await
            .expect("delete")
            .position
            .expect("position");
    let items = n.page(&n.ann, at).await;
    let two_row = items.iter().find(|m| m["id"] == two.to_string()).expect("two");
    assert_eq!(two_row["deleted"], true, "{two_row}");

    // Other page sizes and later pages are their own answers, never the first page's.
    let (status, v) = n
        .get(&format!("/v1/channels/{}/messages?limit=2", n.channel), &n.ann, at)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["items"].as_array().map(Vec::len), Some(2));
    let cursor = v["next_cursor"].as_str().expect("cursor").to_owned();
    let (status, v) = n
        .get(
            &format!("/v1/channels/{}/messages?limit=2&cursor={cursor}", n.channel),
            &n.ann,
            at,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["items"].as_array().map(Vec::len), Some(2), "{v}");
    n.stop().await;
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_removed_member_and_a_stranger_never_get_a_kept_page(pool: PgPool) {
    let n = Node::start(pool).await;
    let (_, at) = n.post(&n.ann, "members only").await;
    assert_eq!(n.page(&n.bob, at).await.len(), 1);
    assert_eq!(n.hot.len(), (1, 1), "the page and bob's access are kept");

    let stranger = CommandContext::new(UserId::new());
    let (status, _) = n
        .get(&format!("/v1/channels/{}/messages", n.channel), &stranger, at)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a kept page is no one else's");

    let at =
        n.c.remove_member(&n.ann, WorkspaceId(n.ws), UserId(n.bob.actor.user_id.0))
            .await
            .expect("remove")
            .position
            .expect("position");
    let (status, v) = n.get(&format!("/v1/channels/{}/messages", n.channel), &n.bob, at).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "removed, yet served: {v}");
    assert_eq!(n.page(&n.ann, at).await.len(), 1);
    n.stop().await;
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn an_erased_author_leaves_the_kept_page(pool: PgPool) {
    let n = Node::start(pool).await;
    let (_, at) = n.post(&n.bob, "from bob").await;
    let items = n.page(&n.ann, at).await;
    assert_eq!(items[0]["author_name"], "bob");
    let at = n.c.erase_me(&n.bob).await.expect("erase").position.expect("position");
    let items = n.page(&n.ann, at).await;
    assert_ne!(
        items[0]["author_name"], "bob",
        "an erased name stayed in memory: {}",
        items[0]
    );
    n.stop().await;
}
