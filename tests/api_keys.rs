//! API keys, end to end on both APIs: owners and admins make them; a key acts only in its own
//! workspace, only within its scopes, as its own principal (`actor_kind: api_key` in the log
//! and the audit trail); it is shown once, listed without its secret, rate-limited, and stops
//! working everywhere once revoked or expired.

mod support;

use std::time::Duration;

use axum::http::Method;
use prism_auth::{Jwt, PasswordHasherId};
use prism_commands::Commands;
use prism_event_store::PgEventStore;
use serde_json::{json, Value};
use sqlx::PgPool;
use support::call;

const SECRET: &[u8] = b"api-keys-e2e-api-keys-e2e-api-keys-e2e!";

struct Apps {
    write: axum::Router,
    read: axum::Router,
    store: PgEventStore,
}

fn apps(pool: PgPool, limits: &str) -> Apps {
    let jwt = Jwt::new(SECRET, Jwt::DEFAULT_TTL);
    let store = PgEventStore::new(pool.clone(), 0).with_group_commit(2, 64);
    let commands = Commands::new(
        store.clone(),
        jwt.clone(),
        PasswordHasherId::new(1024, 1).expect("params"),
    );
    let limits = prism_write_api::limits::Limits::parse(limits).expect("limits");
    let (n, per) = limits.quota(prism_write_api::limits::Limit::ApiKey);
    Apps {
        store,
        write: prism_write_api::app(prism_write_api::AppState::new(commands).with_limits(limits)),
        read: prism_read_api::app(prism_read_api::AppState::new(pool, jwt).with_api_key_quota(n, per)),
    }
}

/// A workspace with an owner, a plain member and a channel.
struct World {
    owner: String,
    member: String,
    ws: String,
    channel: String,
}

impl Apps {
    async fn register(&self) -> String {
        let email = format!("u{}@example.com", uuid::Uuid::now_v7().simple());
        let b = support::register(&self.write, &email).await;
        b["access_token"].as_str().expect("access").to_owned()
    }

    async fn world(&self) -> World {
        let owner = self.register().await;
        let member = self.register().await;
        let (s, w) = call(
            &self.write,
            Method::POST,
            "/v1/workspaces",
            Some(&owner),
            Some(json!({"name": "Acme"})),
        )
        .await;
        assert_eq!(s, 201, "{w}");
        let ws = w["id"].as_str().expect("id").to_owned();
        let code = w["join_code"].as_str().expect("code");
        let (s, b) = call(
            &self.write,
            Method::POST,
            &format!("/v1/workspaces/{ws}/join"),
            Some(&member),
            Some(json!({"join_code": code})),
        )
        .await;
        assert_eq!(s, 200, "{b}");
        let (s, c) = call(
            &self.write,
            Method::POST,
            &format!("/v1/workspaces/{ws}/channels"),
            Some(&owner),
            Some(json!({"name": "general"})),
        )
        .await;
        assert_eq!(s, 201, "{c}");
        World {
            owner,
            member,
            ws,
            channel: c["id"].as_str().expect("id").to_owned(),
        }
    }

    async fn user_id(&self, token: &str) -> String {
        let jwt = Jwt::new(SECRET, Jwt::DEFAULT_TTL);
        jwt.verify(token).expect("token").sub.to_string()
    }

    async fn key(&self, token: &str, ws: &str, body: Value) -> (u16, Value) {
        call(
            &self.write,
            Method::POST,
            &format!("/v1/workspaces/{ws}/api-keys"),
            Some(token),
            Some(body),
        )
        .await
    }

    async fn new_key(&self, token: &str, ws: &str, scopes: &[&str]) -> (String, String) {
        let (s, b) = self.key(token, ws, json!({"name": "ci bot", "scopes": scopes})).await;
        assert_eq!(s, 201, "{b}");
        let key = b["key"].as_str().expect("the key is shown").to_owned();
        assert!(key.starts_with("prism_") && key.len() > 40, "{key}");
        (b["id"].as_str().expect("id").to_owned(), key)
    }

    async fn post(&self, token: &str, channel: &str, body: &str) -> (u16, Value) {
        call(
            &self.write,
            Method::POST,
            &format!("/v1/channels/{channel}/messages"),
            Some(token),
            Some(json!({ "body": body })),
        )
        .await
    }

    async fn project(&self) {
        support::project_read_models(&self.store).await;
        support::project(&self.store, prism_projections::audit::AuditTrail).await;
    }
}

fn code(b: &Value) -> &str {
    b["error"]["code"].as_str().unwrap_or_default()
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_key_posts_and_reads_in_its_workspace_as_itself_and_the_audit_says_so(pool: PgPool) {
    let apps = apps(pool.clone(), "");
    let w = apps.world().await;
    let (key_id, key) = apps.new_key(&w.owner, &w.ws, &["read", "write"]).await;

    let (s, m) = apps.post(&key, &w.channel, "deploy finished").await;
    assert_eq!(s, 201, "{m}");
    let (s, b) = call(
        &apps.write,
        Method::POST,
        &format!("/v1/messages/{}/reactions", m["id"].as_str().expect("id")),
        Some(&key),
        Some(json!({"emoji": "🚀"})),
    )
    .await;
    assert_eq!(s, 200, "{b}");

    // The log names the key, of kind api_key.
    let meta: Value = sqlx::query_scalar("SELECT metadata FROM events WHERE event_type = 'message.created'")
        .fetch_one(&pool)
        .await
        .expect("event");
    assert_eq!(meta["actor_kind"], "api_key");
    assert_eq!(meta["actor_id"], key_id.as_str());

    apps.project().await;
    let (s, page) = call(
        &apps.read,
        Method::GET,
        &format!("/v1/channels/{}/messages", w.channel),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["items"][0]["body"], "deploy finished");
    assert_eq!(page["items"][0]["author_id"], key_id.as_str());
    for path in [
        format!("/v1/workspaces/{}/members", w.ws),
        format!("/v1/workspaces/{}/channels", w.ws),
        format!("/v1/workspaces/{}/docs", w.ws),
        format!("/v1/messages/{}", m["id"].as_str().expect("id")),
    ] {
        let (s, b) = call(&apps.read, Method::GET, &path, Some(&key), None).await;
        assert_eq!(s, 200, "{path}: {b}");
    }

    // The audit trail shows the key as the actor, of its kind.
    let (s, trail) = call(
        &apps.read,
        Method::GET,
        &format!("/v1/workspaces/{}/audit?action=message.created", w.ws),
        Some(&w.owner),
        None,
    )
    .await;
    assert_eq!(s, 200, "{trail}");
    let entry = &trail["items"][0];
    assert_eq!(entry["actor_kind"], "api_key", "{trail}");
    assert_eq!(entry["actor_id"], key_id.as_str());

    // Listed for the owner without any secret, with when it was last used.
    let (s, list) = call(
        &apps.read,
        Method::GET,
        &format!("/v1/workspaces/{}/api-keys", w.ws),
        Some(&w.owner),
        None,
    )
    .await;
    assert_eq!(s, 200, "{list}");
    let listed = &list["items"][0];
    assert_eq!(listed["id"], key_id.as_str());
    assert_eq!(listed["name"], "ci bot");
    assert_eq!(listed["scopes"], json!(["read", "write"]));
    assert!(listed["last_used_at"].is_string(), "{list}");
    let text = list.to_string();
    assert!(
        !text.contains(&key) && !text.contains(&key[6..]) && !text.contains("secret"),
        "{text}"
    );

    // The log's copy of the key's digest leaves through no route: the workspace's history
    // shows the creation to its owner without it.
    let (s, events) = call(
        &apps.read,
        Method::GET,
        &format!("/v1/aggregates/workspace/{}/events", w.ws),
        Some(&w.owner),
        None,
    )
    .await;
    assert_eq!(s, 200, "{events}");
    let created = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|e| e["event_type"] == "api_key.created")
        .expect("api_key.created");
    assert!(created["payload"].get("secret_sha256").is_none(), "{created}");
    assert_eq!(created["payload"]["redacted"], json!(["secret_sha256"]));
    let (s, b) = call(
        &apps.read,
        Method::GET,
        &format!("/v1/workspaces/{}/api-keys", w.ws),
        Some(&w.member),
        None,
    )
    .await;
    assert_eq!((s, code(&b)), (403, "forbidden"), "members do not see the keys: {b}");
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_key_is_nobody_outside_its_workspace_and_its_scopes(pool: PgPool) {
    let apps = apps(pool, "");
    let w = apps.world().await;
    let other = apps.world().await;
    let (_, key) = apps.new_key(&w.owner, &w.ws, &["read", "write"]).await;
    let (_, reader) = apps.new_key(&w.owner, &w.ws, &["read"]).await;
    let (_, writer) = apps.new_key(&w.owner, &w.ws, &["write"]).await;

    // Another workspace's channel: as if it did not exist.
    let (s, b) = apps.post(&key, &other.channel, "hello?").await;
    assert_eq!((s, code(&b)), (404, "not_found"), "{b}");
    apps.project().await;
    for path in [
        format!("/v1/channels/{}/messages", other.channel),
        format!("/v1/workspaces/{}/members", other.ws),
        format!("/v1/workspaces/{}/docs", other.ws),
    ] {
        let (s, b) = call(&apps.read, Method::GET, &path, Some(&key), None).await;
        assert_eq!(s, 404, "{path}: {b}");
    }

    // A direct conversation is its two people's only.
    let (s, dm) = call(
        &apps.write,
        Method::POST,
        &format!("/v1/workspaces/{}/conversations", w.ws),
        Some(&w.owner),
        Some(json!({"member_id": apps.user_id(&w.member).await})),
    )
    .await;
    assert!(s == 200 || s == 201, "{dm}");
    let dm = dm["id"].as_str().expect("id");
    let (s, b) = apps.post(&w.owner, dm, "just between us").await;
    assert_eq!(s, 201, "{b}");
    apps.project().await;
    let (s, b) = call(
        &apps.read,
        Method::GET,
        &format!("/v1/channels/{dm}/messages"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(s, 404, "{b}");
    let (s, b) = apps.post(&key, dm, "let me in").await;
    assert_eq!(s, 404, "{b}");

    // Scopes.
    let (s, b) = apps.post(&reader, &w.channel, "x").await;
    assert_eq!((s, code(&b)), (403, "insufficient_scope"), "{b}");
    let (s, b) = call(
        &apps.read,
        Method::GET,
        &format!("/v1/channels/{}/messages", w.channel),
        Some(&writer),
        None,
    )
    .await;
    assert_eq!((s, code(&b)), (403, "insufficient_scope"), "{b}");
    let (s, b) = call(
        &apps.write,
        Method::POST,
        "/v1/workspaces",
        Some(&reader),
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!((s, code(&b)), (403, "api_key_not_allowed"), "not a scope matter: {b}");
    let (s, b) = apps.post(&writer, &w.channel, "written by a write-only key").await;
    assert_eq!(s, 201, "{b}");

    // A key is a member at most, and never a person.
    let (s, b) = call(
        &apps.write,
        Method::DELETE,
        &format!("/v1/channels/{}", w.channel),
        Some(&key),
        None,
    )
    .await;
    assert_eq!((s, code(&b)), (403, "forbidden"), "{b}");
    for (method, path, body) in [
        (
            Method::POST,
            format!("/v1/workspaces/{}/api-keys", w.ws),
            json!({"name": "k", "scopes": ["read"]}),
        ),
        (Method::POST, "/v1/workspaces".to_owned(), json!({"name": "mine"})),
        (
            Method::POST,
            format!("/v1/workspaces/{}/invitations", w.ws),
            json!({"email": "a@b.co", "role": "member"}),
        ),
        (Method::POST, "/v1/mirror/sessions".to_owned(), json!({})),
        (
            Method::POST,
            "/v1/auth/password".to_owned(),
            json!({"current_password": "a", "new_password": "b"}),
        ),
        (Method::PATCH, "/v1/me".to_owned(), json!({"name": "bot"})),
        (
            Method::POST,
            format!("/v1/workspaces/{}/conversations", w.ws),
            json!({"member_id": uuid::Uuid::now_v7()}),
        ),
    ] {
        let (s, b) = call(&apps.write, method, &path, Some(&key), Some(body)).await;
        assert_eq!((s, code(&b)), (403, "api_key_not_allowed"), "{path}: {b}");
    }
    for path in [
        "/v1/me",
        "/v1/workspaces",
        "/v1/mirror/sessions",
        "/v1/me/export",
        "/v1/me/sessions",
    ] {
        let (s, b) = call(&apps.read, Method::GET, path, Some(&key), None).await;
        assert_eq!((s, code(&b)), (403, "api_key_not_allowed"), "{path}: {b}");
    }

    // Only owners and admins make keys; bad requests are refused whole.
    let (s, b) = apps
        .key(&w.member, &w.ws, json!({"name": "mine", "scopes": ["read"]}))
        .await;
    assert_eq!((s, code(&b)), (403, "forbidden"), "{b}");
    let (s, b) = apps
        .key(&w.owner, &other.ws, json!({"name": "theirs", "scopes": ["read"]}))
        .await;
    assert_eq!(s, 404, "{b}");
    for bad in [
        json!({"name": "", "scopes": ["read"]}),
        json!({"name": "k", "scopes": []}),
        json!({"name": "k", "scopes": ["admin"]}),
        json!({"name": "k", "scopes": ["read"], "expires_at": "2020-01-01T00:00:00Z"}),
        json!({"name": "k", "scopes": ["read"], "expires_at": "tomorrow"}),
        json!({"name": "k", "scopes": ["read"], "expires_at": ""}),
    ] {
        let (s, b) = apps.key(&w.owner, &w.ws, bad.clone()).await;
        assert_eq!((s, code(&b)), (422, "validation_failed"), "{bad}: {b}");
    }
    let (s, b) = call(
        &apps.read,
        Method::GET,
        "/v1/workspaces/x/members",
        Some("prism_not-a-real-key"),
        None,
    )
    .await;
    assert_eq!((s, code(&b)), (401, "invalid_token"), "{b}");
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_revoked_or_expired_key_stops_working_on_both_apis(pool: PgPool) {
    let apps = apps(pool, "");
    let w = apps.world().await;
    let (id, key) = apps.new_key(&w.owner, &w.ws, &["read", "write"]).await;
    let (s, b) = apps.post(&key, &w.channel, "before").await;
    assert_eq!(s, 201, "{b}");

    // A member may not revoke it; an admin or owner may, once.
    let (s, _) = call(
        &apps.write,
        Method::DELETE,
        &format!("/v1/api-keys/{id}"),
        Some(&w.member),
        None,
    )
    .await;
    assert_eq!(s, 403);
    let (s, b) = call(
        &apps.write,
        Method::DELETE,
        &format!("/v1/api-keys/{id}"),
        Some(&w.owner),
        None,
    )
    .await;
    assert_eq!(s, 204, "{b}");
    let (s, _) = call(
        &apps.write,
        Method::DELETE,
        &format!("/v1/api-keys/{}", uuid::Uuid::now_v7()),
        Some(&w.owner),
        None,
    )
    .await;
    assert_eq!(s, 404);
    let refused = support::until_refused(
        &apps.write,
        &apps.read,
        &key,
        (
            &format!("/v1/channels/{}/messages", w.channel),
            json!({"body": "after"}),
        ),
        &format!("/v1/channels/{}/messages", w.channel),
    )
    .await;
    assert_eq!(refused, ("api_key_revoked".into(), "api_key_revoked".into()));
    apps.project().await;
    let (_, list) = call(
        &apps.read,
        Method::GET,
        &format!("/v1/workspaces/{}/api-keys", w.ws),
        Some(&w.owner),
        None,
    )
    .await;
    assert!(list["items"][0]["revoked_at"].is_string(), "{list}");

    // An expiring key works until its time, then says why it does not.
    let expires = chrono::Utc::now() + chrono::Duration::seconds(2);
    let (s, b) = apps
        .key(
            &w.owner,
            &w.ws,
            json!({"name": "short", "scopes": ["write"], "expires_at": expires}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let short = b["key"].as_str().expect("key").to_owned();
    let (s, b) = apps.post(&short, &w.channel, "in time").await;
    assert_eq!(s, 201, "{b}");
    let wait = (expires - chrono::Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(100);
    tokio::time::sleep(wait).await;
    let (s, b) = apps.post(&short, &w.channel, "too late").await;
    assert_eq!((s, code(&b)), (401, "api_key_expired"), "{b}");
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_key_is_shown_once_and_rate_limited_on_its_own(pool: PgPool) {
    let apps = apps(pool, "api_key=3/60");
    let w = apps.world().await;
    let req = |key: &str| {
        axum::http::Request::builder()
            .method(Method::POST)
            .uri(format!("/v1/workspaces/{}/api-keys", w.ws))
            .header("authorization", format!("Bearer {}", w.owner))
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .body(axum::body::Body::from(
                json!({"name": "once", "scopes": ["write"]}).to_string(),
            ))
            .expect("request")
    };
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let first = apps.write.clone().oneshot(req("k-1")).await.expect("answer");
    assert_eq!(first.status(), 201);
    let first: Value =
        serde_json::from_slice(&first.into_body().collect().await.expect("body").to_bytes()).expect("json");
    let again = apps.write.clone().oneshot(req("k-1")).await.expect("answer");
    assert_eq!(again.status(), 201);
    let again: Value =
        serde_json::from_slice(&again.into_body().collect().await.expect("body").to_bytes()).expect("json");
    assert_eq!(again["id"], first["id"], "the replay names the same key");
    assert!(
        first["key"].is_string() && again.get("key").is_none(),
        "shown once: {again}"
    );

    let key = first["key"].as_str().expect("key");
    let (_, other) = apps.new_key(&w.owner, &w.ws, &["write"]).await;
    for i in 0..3 {
        let (s, b) = apps.post(key, &w.channel, &format!("#{i}")).await;
        assert_eq!(s, 201, "{b}");
    }
    let (s, b) = apps.post(key, &w.channel, "one too many").await;
    assert_eq!((s, code(&b)), (429, "rate_limited"), "{b}");
    // Another key, and the people, have allowances of their own.
    let (s, b) = apps.post(&other, &w.channel, "mine").await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = apps.post(&w.owner, &w.channel, "mine too").await;
    assert_eq!(s, 201, "{b}");
}

/// A grant is worth what its grantor may still grant: an admin's key stops working on both
/// APIs once the admin is removed, in the same append, and owners see why.
#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_removed_admins_key_stops_working_and_owners_see_why(pool: PgPool) {
    let apps = apps(pool.clone(), "");
    let w = apps.world().await;
    let admin = apps.user_id(&w.member).await;
    let members = format!("/v1/workspaces/{}/members/{admin}", w.ws);
    let (s, b) = call(
        &apps.write,
        Method::PATCH,
        &members,
        Some(&w.owner),
        Some(json!({"role": "admin"})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (id, key) = apps.new_key(&w.member, &w.ws, &["read", "write"]).await;
    let (owners_id, owners_key) = apps.new_key(&w.owner, &w.ws, &["read", "write"]).await;
    let (s, b) = apps.post(&key, &w.channel, "while my admin is an admin").await;
    assert_eq!(s, 201, "{b}");

    let (s, b) = call(&apps.write, Method::DELETE, &members, Some(&w.owner), None).await;
    assert!(s == 200 || s == 204, "{s} {b}");
    let refused = support::until_refused(
        &apps.write,
        &apps.read,
        &key,
        (
            &format!("/v1/channels/{}/messages", w.channel),
            json!({"body": "after"}),
        ),
        &format!("/v1/channels/{}/messages", w.channel),
    )
    .await;
    assert_eq!(refused, ("api_key_revoked".into(), "api_key_revoked".into()));
    // The revocation is in the same transaction as the removal, saying why.
    let same: Vec<(String, i64)> = sqlx::query_as(
        "SELECT event_type, transaction_id::text::bigint FROM events
          WHERE aggregate_type = 'workspace' AND event_type IN ('member.left', 'api_key.revoked')
          ORDER BY global_position",
    )
    .fetch_all(&pool)
    .await
    .expect("events");
    assert_eq!(same.len(), 2, "{same:?}");
    assert_eq!(same[0].1, same[1].1, "one append: {same:?}");
    // The owner's own key is untouched.
    let (s, b) = apps.post(&owners_key, &w.channel, "the owner's key still works").await;
    assert_eq!(s, 201, "{b}");
    apps.project().await;
    let (_, list) = call(
        &apps.read,
        Method::GET,
        &format!("/v1/workspaces/{}/api-keys", w.ws),
        Some(&w.owner),
        None,
    )
    .await;
    let item = |k: &str| {
        list["items"]
            .as_array()
            .and_then(|a| a.iter().find(|i| i["id"] == k))
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(item(&id)["revoked_reason"], "grantor_lost_authority", "{list}");
    assert!(item(&id)["revoked_at"].is_string(), "{list}");
    assert_eq!(item(&owners_id)["revoked_at"], Value::Null, "{list}");
}
