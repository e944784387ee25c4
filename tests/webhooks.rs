//! Outgoing webhooks end to end: registered through the write API, fed by the log, delivered
//! to a local HTTP receiver that checks every signature, fails on purpose and recovers; dead
//! letters replay once; direct messages never leave.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, Method};
use base64::Engine;
use prism_auth::{Jwt, PasswordHasherId};
use prism_commands::Commands;
use prism_event_store::PgEventStore;
use prism_projections::webhooks::{WebhookConfig, WebhookDeliverer, WebhookOutbox};
use serde_json::{json, Value};
use sqlx::PgPool;
use support::call;

const SECRET: &[u8] = b"webhooks-e2e-webhooks-e2e-webhooks-e2e!";

/// A receiver on a free port: it records what it gets and fails the first `fail` requests.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(HeaderMap, bytes::Bytes)>>>,
    fail: Arc<AtomicUsize>,
}

impl Receiver {
    async fn start(fail: usize) -> (Self, String) {
        let me = Self::default();
        me.fail.store(fail, Ordering::SeqCst);
        let state = me.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: bytes::Bytes| {
                let state = state.clone();
                async move {
                    state.got.lock().expect("lock").push((headers, body));
                    let left = state.fail.load(Ordering::SeqCst);
                    if left > 0 {
                        state.fail.store(left - 1, Ordering::SeqCst);
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        axum::http::StatusCode::NO_CONTENT
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        (me, format!("http://{addr}/hook"))
    }

    fn requests(&self) -> Vec<(HeaderMap, bytes::Bytes)> {
        self.got.lock().expect("lock").clone()
    }
}

/// Checks a request's Standard Webhooks signature against `secret`; answers its body as JSON.
fn verified(secret: &str, headers: &HeaderMap, body: &[u8]) -> Value {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).expect(n).to_owned();
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .expect("base64 secret");
    let ts: i64 = h("webhook-timestamp").parse().expect("timestamp");
    assert!((chrono::Utc::now().timestamp() - ts).abs() < 60, "a fresh timestamp");
    let expected = prism_projections::webhooks::deliver::sign(&key, &h("webhook-id"), ts, body);
    assert_eq!(h("webhook-signature"), expected, "the signature verifies");
    serde_json::from_slice(body).expect("a JSON body")
}

struct World {
    commands: Commands,
    pool: PgPool,
    write: axum::Router,
    read: axum::Router,
    store: PgEventStore,
    deliverer: WebhookDeliverer,
    owner: String,
    member: String,
    ws: String,
    channel: String,
}

async fn world(pool: PgPool) -> World {
    let jwt = Jwt::new(SECRET, Jwt::DEFAULT_TTL);
    let store = PgEventStore::new(pool.clone(), 0).with_group_commit(2, 64);
    let commands = Commands::new(
        store.clone(),
        jwt.clone(),
        PasswordHasherId::new(1024, 1).expect("params"),
    )
    .with_webhook_private_targets(true);
    let write = prism_write_api::app(
        prism_write_api::AppState::new(commands.clone())
            .with_dead_letters(Arc::new(prism::wiring::WebhookDeadLetters(pool.clone()))),
    );
    let read = prism_read_api::app(prism_read_api::AppState::new(pool.clone(), jwt));
    let cfg = WebhookConfig {
        allow_private: true,
        timeout: Duration::from_secs(2),
        schedule: vec![Duration::from_millis(20); 7],
        concurrency: 8,
        ..WebhookConfig::default()
    };
    let deliverer = WebhookDeliverer::new(store.clone(), commands.vault().clone(), cfg).expect("deliverer");
    let token = |b: Value| b["access_token"].as_str().expect("token").to_owned();
    let owner = token(support::register(&write, &format!("o{}@example.com", uuid::Uuid::now_v7().simple())).await);
    let member = token(support::register(&write, &format!("m{}@example.com", uuid::Uuid::now_v7().simple())).await);
    let (s, w) = call(
        &write,
        Method::POST,
        "/v1/workspaces",
        Some(&owner),
        Some(json!({"name": "Acme"})),
    )
    .await;
    assert_eq!(s, 201, "{w}");
    let ws = w["id"].as_str().expect("id").to_owned();
    let (s, b) = call(
        &write,
        Method::POST,
        &format!("/v1/workspaces/{ws}/join"),
        Some(&member),
        Some(json!({"join_code": w["join_code"]})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, c) = call(
        &write,
        Method::POST,
        &format!("/v1/workspaces/{ws}/channels"),
        Some(&owner),
        Some(json!({"name": "general"})),
    )
    .await;
    assert_eq!(s, 201, "{c}");
    World {
        commands,
        pool,
        write,
        read,
        store,
        deliverer,
        owner,
        member,
        channel: c["id"].as_str().expect("id").to_owned(),
        ws,
    }
}

impl World {
    async fn hook(&self, url: &str, events: &[&str]) -> (String, String) {
        let (s, b) = call(
            &self.write,
            Method::POST,
            &format!("/v1/workspaces/{}/webhooks", self.ws),
            Some(&self.owner),
            Some(json!({"url": url, "events": events, "description": "ci"})),
        )
        .await;
        assert_eq!(s, 201, "{b}");
        let secret = b["secret"].as_str().expect("the secret, once").to_owned();
        assert!(secret.starts_with("whsec_"), "{secret}");
        (b["id"].as_str().expect("id").to_owned(), secret)
    }

    async fn post(&self, channel: &str, body: &str) -> Value {
        let (s, m) = call(
            &self.write,
            Method::POST,
            &format!("/v1/channels/{channel}/messages"),
            Some(&self.owner),
            Some(json!({ "body": body })),
        )
        .await;
        assert_eq!(s, 201, "{m}");
        m
    }

    /// Runs the outbox and the worker until `done` holds of the deliveries (5 s at most).
    async fn deliver_until(&self, hook: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        support::project(&self.store, WebhookOutbox).await;
        let started = Instant::now();
        loop {
            self.deliverer.deliver_due().await.expect("deliver");
            let list = self.deliveries(hook, "").await;
            if done(&list) {
                return list;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "deliveries: {list:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn deliveries(&self, hook: &str, query: &str) -> Vec<Value> {
        support::project(&self.store, WebhookOutbox).await;
        support::project_read_models(&self.store).await;
        let (s, b) = call(
            &self.read,
            Method::GET,
            &format!("/v1/webhooks/{hook}/deliveries{query}"),
            Some(&self.owner),
            None,
        )
        .await;
        assert_eq!(s, 200, "{b}");
        b["items"].as_array().expect("items").clone()
    }
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_receiver_that_fails_five_times_gets_the_event_six_times_then_a_dead_letter_replays_once(pool: PgPool) {
    let w = world(pool).await;
    let (flaky, url) = Receiver::start(5).await;
    let (hook, secret) = w.hook(&url, &["message.created"]).await;
    let m = w.post(&w.channel, "the deploy finished").await;
    // Not asked for, and a direct message: neither leaves.
    let (s, dm) = call(
        &w.write,
        Method::POST,
        &format!("/v1/workspaces/{}/conversations", w.ws),
        Some(&w.owner),
        Some(json!({"member_id": Jwt::new(SECRET, Jwt::DEFAULT_TTL).verify(&w.member).expect("token").sub})),
    )
    .await;
    assert!(s == 200 || s == 201, "{dm}");
    w.post(dm["id"].as_str().expect("id"), "just between us").await;

    let list = w
        .deliver_until(&hook, |l| l.iter().any(|d| d["status"] == "delivered"))
        .await;
    assert_eq!(list.len(), 1, "one delivery: the channel message only: {list:?}");
    assert_eq!(list[0]["attempts"], 6);
    assert_eq!(list[0]["last_status"], 204);
    let got = flaky.requests();
    assert_eq!(got.len(), 6, "five failures and the success, nothing more");
    let ids: std::collections::HashSet<_> = got
        .iter()
        .map(|(h, _)| {
            h.get("webhook-id")
                .and_then(|v| v.to_str().ok())
                .expect("id")
                .to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "every retry carries the same webhook-id");
    for (headers, body) in &got {
        let envelope = verified(&secret, headers, body);
        assert_eq!(envelope["event_type"], "message.created");
        assert_eq!(envelope["aggregate_id"], m["id"]);
        assert_eq!(envelope["payload"]["body"], "the deploy finished");
        assert!(!String::from_utf8_lossy(body).contains("just between us"));
    }

    // A receiver that is down for good: eight attempts, then a dead letter.
    let (down, url) = Receiver::start(usize::MAX).await;
    let (dead_hook, dead_secret) = w.hook(&url, &["message.created"]).await;
    w.post(&w.channel, "anyone there?").await;
    let list = w
        .deliver_until(&dead_hook, |l| l.iter().any(|d| d["status"] == "dead"))
        .await;
    assert_eq!(list[0]["attempts"], 8);
    assert_eq!(down.requests().len(), 8);
    let dead = w.deliveries(&dead_hook, "?status=dead").await;
    assert_eq!(dead.len(), 1);
    // Replayed (once) after it recovers: exactly one more request.
    down.fail.store(0, Ordering::SeqCst);
    let (s, b) = call(
        &w.write,
        Method::POST,
        &format!("/v1/webhooks/{dead_hook}/replay-dead"),
        Some(&w.owner),
        None,
    )
    .await;
    assert_eq!((s, b["replayed"].as_u64()), (202, Some(1)), "{b}");
    let list = w
        .deliver_until(&dead_hook, |l| l.iter().all(|d| d["status"] == "delivered"))
        .await;
    assert_eq!(list[0]["attempts"], 1, "counted afresh");
    let got = down.requests();
    assert_eq!(got.len(), 9);
    verified(&dead_secret, &got[8].0, &got[8].1);
    let (s, b) = call(
        &w.write,
        Method::POST,
        &format!("/v1/webhooks/{dead_hook}/replay-dead"),
        Some(&w.owner),
        None,
    )
    .await;
    assert_eq!((s, b["replayed"].as_u64()), (202, Some(0)), "nothing dead is left: {b}");
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn only_admins_manage_webhooks_secrets_stay_secret_and_rotation_re_signs(pool: PgPool) {
    let w = world(pool.clone()).await;
    let (rx, url) = Receiver::start(0).await;
    // Members do not; bad targets and event types are refused whole.
    let path = format!("/v1/workspaces/{}/webhooks", w.ws);
    let (s, b) = call(
        &w.write,
        Method::POST,
        &path,
        Some(&w.member),
        Some(json!({"url": url, "events": ["message.created"]})),
    )
    .await;
    assert_eq!(s, 403, "{b}");
    for bad in [
        json!({"url": "ftp://example.com/", "events": ["message.created"]}),
        json!({"url": url, "events": ["conversation.created"]}),
        json!({"url": url, "events": []}),
    ] {
        let (s, b) = call(&w.write, Method::POST, &path, Some(&w.owner), Some(bad.clone())).await;
        assert_eq!(s, 422, "{bad}: {b}");
    }
    let (hook, first) = w.hook(&url, &["message.created", "doc.created"]).await;

    // Listed for admins without the secret; the log holds it sealed only.
    support::project(&w.store, WebhookOutbox).await;
    support::project_read_models(&w.store).await;
    let (s, list) = call(&w.read, Method::GET, &path, Some(&w.owner), None).await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list["items"][0]["url"], url.as_str());
    assert!(!list.to_string().contains(&first[6..]), "{list}");
    let (s, _) = call(&w.read, Method::GET, &path, Some(&w.member), None).await;
    assert_eq!(s, 403);
    let logged: String = sqlx::query_scalar("SELECT payload::text FROM events WHERE event_type = 'webhook.created'")
        .fetch_one(&pool)
        .await
        .expect("event");
    assert!(!logged.contains(&first[6..]), "sealed in the log");

    // A new secret signs what follows.
    let (s, b) = call(
        &w.write,
        Method::POST,
        &format!("/v1/webhooks/{hook}/rotate-secret"),
        Some(&w.owner),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let second = b["secret"].as_str().expect("secret").to_owned();
    assert_ne!(second, first);
    w.post(&w.channel, "signed anew").await;
    w.deliver_until(&hook, |l| l.iter().any(|d| d["status"] == "delivered"))
        .await;
    let got = rx.requests();
    verified(&second, &got[0].0, &got[0].1);

    // Disabled, then deleted: nothing more goes out.
    let (s, b) = call(
        &w.write,
        Method::PATCH,
        &format!("/v1/webhooks/{hook}"),
        Some(&w.owner),
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    w.post(&w.channel, "while disabled").await;
    support::project(&w.store, WebhookOutbox).await;
    w.deliverer.deliver_due().await.expect("deliver");
    assert_eq!(rx.requests().len(), 1);
    assert_eq!(
        support::delete(&w.write, &format!("/v1/webhooks/{hook}"), &w.owner).await,
        204
    );
    assert_eq!(
        support::delete(&w.write, &format!("/v1/webhooks/{hook}"), &w.owner).await,
        404
    );
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn an_endpoint_that_keeps_failing_is_disabled_with_an_event_that_says_so(pool: PgPool) {
    let w = world(pool.clone()).await;
    let (down, url) = Receiver::start(usize::MAX).await;
    let (hook, _) = w.hook(&url, &["message.created"]).await;
    let commands = Commands::new(
        w.store.clone(),
        Jwt::new(SECRET, Jwt::DEFAULT_TTL),
        PasswordHasherId::new(1024, 1).expect("params"),
    );
    for i in 0..prism::writers::FAILING_IN_A_ROW {
        w.post(&w.channel, &format!("#{i}")).await;
    }
    w.deliver_until(&hook, |l| l.len() == 5 && l.iter().all(|d| d["status"] == "dead"))
        .await;
    assert_eq!(down.requests().len(), 5 * 8);
    support::project(&w.store, WebhookOutbox).await;
    assert_eq!(
        prism::writers::disable_failing_webhooks(&commands, &pool)
            .await
            .expect("pass"),
        1
    );
    let reason: String =
        sqlx::query_scalar("SELECT payload->>'reason' FROM events WHERE event_type = 'webhook.disabled'")
            .fetch_one(&pool)
            .await
            .expect("webhook.disabled");
    assert!(reason.contains("failed"), "{reason}");
    support::project(&w.store, WebhookOutbox).await;
    assert_eq!(
        prism::writers::disable_failing_webhooks(&commands, &pool)
            .await
            .expect("pass"),
        0,
        "once"
    );
    let (_, list) = call(
        &w.read,
        Method::GET,
        &format!("/v1/workspaces/{}/webhooks", w.ws),
        Some(&w.owner),
        None,
    )
    .await;
    assert_eq!(list["items"][0]["enabled"], false, "{list}");
    // Nothing more is queued for it.
    w.post(&w.channel, "after").await;
    support::project(&w.store, WebhookOutbox).await;
    assert_eq!(w.deliveries(&hook, "").await.len(), 5);
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn another_workspace_gets_nothing_of_a_webhook_and_its_events_go_to_no_one_else(pool: PgPool) {
    let w = world(pool.clone()).await;
    let other = world(pool).await;
    let (rx, url) = Receiver::start(0).await;
    let (hook, _) = w.hook(&url, &["message.created"]).await;
    // The other workspace's owner: as if the webhook did not exist.
    support::project_read_models(&w.store).await;
    for (method, path) in [
        (Method::PATCH, format!("/v1/webhooks/{hook}")),
        (Method::DELETE, format!("/v1/webhooks/{hook}")),
        (Method::POST, format!("/v1/webhooks/{hook}/replay-dead")),
    ] {
        let (s, b) = call(
            &w.write,
            method,
            &path,
            Some(&other.owner),
            Some(json!({"enabled": false})),
        )
        .await;
        assert_eq!(s, 404, "{path}: {b}");
    }
    for path in [
        format!("/v1/webhooks/{hook}/deliveries"),
        format!("/v1/workspaces/{}/webhooks", w.ws),
    ] {
        let (s, b) = call(&w.read, Method::GET, &path, Some(&other.owner), None).await;
        assert_eq!(s, 404, "{path}: {b}");
    }
    // The other workspace's messages are not this webhook's.
    other.post(&other.channel, "not yours").await;
    w.post(&w.channel, "yours").await;
    let list = w
        .deliver_until(&hook, |l| l.iter().any(|d| d["status"] == "delivered"))
        .await;
    assert_eq!(list.len(), 1, "{list:?}");
    let got = rx.requests();
    assert_eq!(got.len(), 1);
    assert!(!String::from_utf8_lossy(&got[0].1).contains("not yours"));
}

/// A webhook set up by an admin who is then removed stops receiving, in the same append as
/// the removal, and the owner sees why; an owner who turns it back on vouches for it.
#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_removed_admins_webhook_receives_nothing_new_until_an_owner_turns_it_back_on(pool: PgPool) {
    let w = world(pool).await;
    let admin = Jwt::new(SECRET, Jwt::DEFAULT_TTL).verify(&w.member).expect("token").sub;
    let members = format!("/v1/workspaces/{}/members/{admin}", w.ws);
    let (s, b) = call(
        &w.write,
        Method::PATCH,
        &members,
        Some(&w.owner),
        Some(json!({"role": "admin"})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (receiver, url) = Receiver::start(0).await;
    let (s, b) = call(
        &w.write,
        Method::POST,
        &format!("/v1/workspaces/{}/webhooks", w.ws),
        Some(&w.member),
        Some(json!({"url": url, "events": ["message.created"]})),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let hook = b["id"].as_str().expect("id").to_owned();
    w.post(&w.channel, "before the removal").await;
    w.deliver_until(&hook, |l| l.len() == 1 && l[0]["status"] == "delivered")
        .await;

    let (s, b) = call(&w.write, Method::DELETE, &members, Some(&w.owner), None).await;
    assert!(s == 200 || s == 204, "{s} {b}");
    w.post(&w.channel, "after the removal").await;
    // Everything up to the message is projected and every due delivery tried: nothing new.
    let list = w.deliver_until(&hook, |_| true).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert!(
        receiver
            .requests()
            .iter()
            .all(|(_, body)| !String::from_utf8_lossy(body).contains("after the removal")),
        "a removed admin's endpoint got a message sent after the removal"
    );
    let (s, hooks) = call(
        &w.read,
        Method::GET,
        &format!("/v1/workspaces/{}/webhooks", w.ws),
        Some(&w.owner),
        None,
    )
    .await;
    assert_eq!(s, 200, "{hooks}");
    assert_eq!(hooks["items"][0]["enabled"], false, "{hooks}");
    assert_eq!(
        hooks["items"][0]["disabled_reason"], "grantor_lost_authority",
        "{hooks}"
    );

    // The owner turns it back on: it is theirs now, and carries what comes next.
    let (s, b) = call(
        &w.write,
        Method::PATCH,
        &format!("/v1/webhooks/{hook}"),
        Some(&w.owner),
        Some(json!({"enabled": true})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    w.post(&w.channel, "vouched for by the owner").await;
    w.deliver_until(&hook, |l| l.iter().filter(|d| d["status"] == "delivered").count() == 2)
        .await;
}

/// A retry goes out as the log stands when it is sent: text edited or deleted since the first
/// attempt is not re-sent.
#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_retry_never_resends_text_edited_or_deleted_since(pool: PgPool) {
    let w = world(pool).await;
    let (flaky, url) = Receiver::start(usize::MAX).await;
    let (hook, secret) = w.hook(&url, &["message.created"]).await;
    let edited = w.post(&w.channel, "first-draft-words").await;
    let deleted = w.post(&w.channel, "regretted-words").await;
    // The first attempt fails (the endpoint's line waits behind it).
    w.deliver_until(&hook, |l| l.len() == 2 && l.iter().any(|d| d["attempts"] != 0))
        .await;
    let before = flaky.requests();
    assert!(String::from_utf8_lossy(&before[0].1).contains("first-draft-words"));
    let (s, b) = call(
        &w.write,
        Method::PATCH,
        &format!("/v1/messages/{}", edited["id"].as_str().expect("id")),
        Some(&w.owner),
        Some(json!({"body": "final-words"})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = call(
        &w.write,
        Method::DELETE,
        &format!("/v1/messages/{}", deleted["id"].as_str().expect("id")),
        Some(&w.owner),
        None,
    )
    .await;
    assert!(s == 200 || s == 204, "{s} {b}");
    flaky.fail.store(0, Ordering::SeqCst);
    w.deliver_until(&hook, |l| l.iter().all(|d| d["status"] == "delivered"))
        .await;
    let got = flaky.requests();
    assert!(got.len() >= 3, "failures, then two successes");
    for (headers, body) in &got[got.len() - 2..] {
        let envelope = verified(&secret, headers, body);
        assert_eq!(envelope["event_type"], "message.created");
        assert!(envelope["payload"].get("body").is_none(), "{envelope}");
        assert_eq!(envelope["payload"]["redacted"], json!(["body"]), "{envelope}");
        let text = String::from_utf8_lossy(body);
        assert!(
            !text.contains("first-draft-words") && !text.contains("regretted-words"),
            "{text}"
        );
    }
}

/// A receiver that holds every request until it is let go; it counts what arrived.
#[derive(Clone)]
struct Holding {
    arrived: Arc<AtomicUsize>,
    go: tokio::sync::watch::Sender<bool>,
}

impl Holding {
    async fn start() -> (Self, String) {
        let (go, _) = tokio::sync::watch::channel(false);
        let me = Self {
            arrived: Arc::default(),
            go,
        };
        let state = me.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move || {
                let state = state.clone();
                async move {
                    state.arrived.fetch_add(1, Ordering::SeqCst);
                    let _ = state.go.subscribe().wait_for(|go| *go).await;
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        (me, format!("http://{addr}/hook"))
    }
}

impl World {
    /// Another workspace of the owner's (another tenant), with a channel: (workspace, channel).
    async fn other_tenant(&self) -> (String, String) {
        let (s, ws) = call(
            &self.write,
            Method::POST,
            "/v1/workspaces",
            Some(&self.owner),
            Some(json!({"name": "Other"})),
        )
        .await;
        assert_eq!(s, 201, "{ws}");
        let ws = ws["id"].as_str().expect("id").to_owned();
        let (s, c) = call(
            &self.write,
            Method::POST,
            &format!("/v1/workspaces/{ws}/channels"),
            Some(&self.owner),
            Some(json!({"name": "general"})),
        )
        .await;
        assert_eq!(s, 201, "{c}");
        (ws, c["id"].as_str().expect("id").to_owned())
    }

    fn deliverer(&self, cfg: WebhookConfig) -> WebhookDeliverer {
        WebhookDeliverer::new(self.store.clone(), self.commands.vault().clone(), cfg).expect("deliverer")
    }
}

/// One tenant's receivers that hold every request cannot take every delivery slot: another
/// tenant's event is delivered while they hang (it once waited behind them).
#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_tenants_hanging_receivers_hold_only_its_share_of_the_slots(pool: PgPool) {
    let w = world(pool).await;
    let (hanging, url) = Holding::start().await;
    for _ in 0..4 {
        w.hook(&url, &["message.created"]).await;
    }
    let (other_ws, other_channel) = w.other_tenant().await;
    let (quick, quick_url) = Receiver::start(0).await;
    let (s, b) = call(
        &w.write,
        Method::POST,
        &format!("/v1/workspaces/{other_ws}/webhooks"),
        Some(&w.owner),
        Some(json!({"url": quick_url, "events": ["message.created"]})),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    w.post(&w.channel, "to the slow tenant's four receivers").await;
    w.post(&other_channel, "to the other tenant").await;
    support::project(&w.store, WebhookOutbox).await;

    let deliverer = w.deliverer(WebhookConfig {
        allow_private: true,
        timeout: Duration::from_secs(30),
        concurrency: 4,
        per_tenant: 2,
        ..WebhookConfig::default()
    });
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(deliverer.run(Duration::from_millis(10), stopped));
    let started = Instant::now();
    while quick.requests().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the other tenant's delivery waited behind {} hanging ones",
            hanging.arrived.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        hanging.arrived.load(Ordering::SeqCst) <= 2,
        "the slow tenant held more than its share"
    );
    // Let them go: the slow tenant's four are delivered in the end.
    let _ = hanging.go.send(true);
    while hanging.arrived.load(Ordering::SeqCst) < 4 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the slow tenant's deliveries stalled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = stop.send(true);
    worker.await.expect("worker");
}

/// An endpoint that answers 2xx, but slowly, is put back each time (one delivery per claim,
/// then a growing wait) and, if it stays slow, disabled with an event that says so.
#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_receiver_that_is_always_slow_is_held_back_then_disabled(pool: PgPool) {
    let w = world(pool).await;
    let slow = Arc::new(AtomicUsize::new(0));
    let counted = slow.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(150)).await;
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let (hook, _) = w.hook(&format!("http://{addr}/hook"), &["message.created"]).await;
    for i in 0..3 {
        w.post(&w.channel, &format!("slowly {i}")).await;
    }
    support::project(&w.store, WebhookOutbox).await;
    let deliverer = w.deliverer(WebhookConfig {
        allow_private: true,
        timeout: Duration::from_secs(5),
        slow: Duration::from_millis(50),
        slow_backoff: Duration::from_millis(100),
        ..WebhookConfig::default()
    });
    // One delivery per claim once it is slow: the first claim takes the line of three and stops
    // after the first slow answer.
    assert_eq!(deliverer.deliver_due().await.expect("deliver"), 3);
    assert_eq!(slow.load(Ordering::SeqCst), 1, "the rest of the line waits");
    let in_a_row: i32 = sqlx::query_scalar("SELECT slow_in_a_row FROM webhook_endpoints WHERE webhook_id = $1::uuid")
        .bind(&hook)
        .fetch_one(&w.pool)
        .await
        .expect("count");
    assert_eq!(in_a_row, 1);
    let started = Instant::now();
    while slow.load(Ordering::SeqCst) < 3 {
        deliverer.deliver_due().await.expect("deliver");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the slow endpoint never got the rest"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let in_a_row: i32 = sqlx::query_scalar("SELECT slow_in_a_row FROM webhook_endpoints WHERE webhook_id = $1::uuid")
        .bind(&hook)
        .fetch_one(&w.pool)
        .await
        .expect("count");
    assert_eq!(in_a_row, 3);
    // A write node disables what stays slow, with an event that says why.
    let disabled = prism::writers::disable_webhooks(&w.commands, &w.pool, 5, 3)
        .await
        .expect("disable");
    assert_eq!(disabled, 1);
    support::project(&w.store, WebhookOutbox).await;
    support::project_read_models(&w.store).await;
    let (s, hooks) = call(
        &w.read,
        Method::GET,
        &format!("/v1/workspaces/{}/webhooks", w.ws),
        Some(&w.owner),
        None,
    )
    .await;
    assert_eq!(s, 200, "{hooks}");
    assert_eq!(hooks["items"][0]["enabled"], false, "{hooks}");
    assert!(
        hooks["items"][0]["disabled_reason"]
            .as_str()
            .is_some_and(|r| r.contains("slower")),
        "{hooks}"
    );
}

/// A receiver that counts the requests it is answering at once (each takes a while).
#[derive(Clone, Default)]
struct Counting {
    now: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl Counting {
    async fn start() -> (Self, String) {
        let me = Self::default();
        let state = me.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |body: bytes::Bytes| {
                let state = state.clone();
                async move {
                    let now = state.now.fetch_add(1, Ordering::SeqCst) + 1;
                    state.most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(25)).await;
                    state
                        .bodies
                        .lock()
                        .expect("lock")
                        .push(serde_json::from_slice(&body).unwrap_or_default());
                    state.now.fetch_sub(1, Ordering::SeqCst);
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        (me, format!("http://{addr}/hook"))
    }
}

/// Two delivery workers (two processes' worth: each its own claims) share one endpoint's line:
/// never two deliveries in flight to it at once, and it gets them in log order.
#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn two_workers_never_have_two_deliveries_in_flight_for_one_endpoint(pool: PgPool) {
    let w = world(pool).await;
    let (receiver, url) = Counting::start().await;
    w.hook(&url, &["message.created"]).await;
    // Three lines' worth (a claim takes up to 16 of an endpoint's deliveries).
    let n = 48;
    for i in 0..n {
        w.post(&w.channel, &format!("in order {i}")).await;
    }
    support::project(&w.store, WebhookOutbox).await;
    let cfg = WebhookConfig {
        allow_private: true,
        timeout: Duration::from_secs(5),
        concurrency: 4,
        ..WebhookConfig::default()
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let workers: Vec<_> = (0..2)
        .map(|_| tokio::spawn(w.deliverer(cfg.clone()).run(Duration::from_millis(2), stopped.clone())))
        .collect();
    let started = Instant::now();
    while receiver.bodies.lock().expect("lock").len() < n {
        assert!(started.elapsed() < Duration::from_secs(20), "deliveries stalled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = stop.send(true);
    for worker in workers {
        worker.await.expect("worker");
    }
    assert_eq!(
        receiver.most.load(Ordering::SeqCst),
        1,
        "two deliveries were in flight to one endpoint"
    );
    let bodies: Vec<String> = receiver
        .bodies
        .lock()
        .expect("lock")
        .iter()
        .map(|b| b["payload"]["body"].as_str().unwrap_or_default().to_owned())
        .collect();
    let expected: Vec<String> = (0..n).map(|i| format!("in order {i}")).collect();
    assert_eq!(bodies, expected, "the endpoint got its events out of order or twice");
}
