//! Impersonation with audit, end to end on both APIs: a platform admin acts as a user with a
//! reason; every event written so names the admin (`impersonator`) in the log, `/v1/events`-
//! style history and the audit trail; journals, account security and new impersonations stay
//! out of reach; the user sees who did it and why; ending it kills the token everywhere.

mod support;

use axum::http::Method;
use prism_auth::{Jwt, PasswordHasherId};
use prism_commands::Commands;
use prism_domain::UserId;
use prism_event_store::PgEventStore;
use serde_json::{json, Value};
use sqlx::PgPool;
use support::call;

const SECRET: &[u8] = b"impersonation-e2e-impersonation-e2e!!!!";

struct Apps {
    write: axum::Router,
    read: axum::Router,
    store: PgEventStore,
    commands: Commands,
}

fn apps(pool: PgPool) -> Apps {
    let jwt = Jwt::new(SECRET, Jwt::DEFAULT_TTL);
    let store = PgEventStore::new(pool.clone(), 0).with_group_commit(2, 64);
    let commands = Commands::new(
        store.clone(),
        jwt.clone(),
        PasswordHasherId::new(1024, 1).expect("params"),
    );
    Apps {
        store,
        write: prism_write_api::app(prism_write_api::AppState::new(commands.clone())),
        read: prism_read_api::app(prism_read_api::AppState::new(pool, jwt)),
        commands,
    }
}

/// A person: their token and id.
struct Person {
    token: String,
    id: String,
}

impl Apps {
    async fn person(&self) -> Person {
        let b = support::register(&self.write, &format!("u{}@example.com", uuid::Uuid::now_v7().simple())).await;
        Person {
            token: b["access_token"].as_str().expect("token").to_owned(),
            id: b["user_id"].as_str().expect("user_id").to_owned(),
        }
    }

    async fn admin(&self) -> Person {
        let p = self.person().await;
        let id = UserId(p.id.parse().expect("uuid"));
        assert!(self.commands.grant_platform_role(id, "admin").await.expect("grant"));
        p
    }

    async fn impersonate(&self, token: &str, user: &str, reason: &str) -> (u16, Value) {
        call(
            &self.write,
            Method::POST,
            "/v1/admin/impersonations",
            Some(token),
            Some(json!({"user_id": user, "reason": reason})),
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
async fn an_admin_acts_as_a_user_in_the_open_and_the_token_dies_when_it_ends(pool: PgPool) {
    let apps = apps(pool.clone());
    let admin = apps.admin().await;
    let bob = apps.person().await;
    let (s, ws) = call(
        &apps.write,
        Method::POST,
        "/v1/workspaces",
        Some(&bob.token),
        Some(json!({"name": "Bob's"})),
    )
    .await;
    assert_eq!(s, 201, "{ws}");
    let ws = ws["id"].as_str().expect("id").to_owned();
    let (s, ch) = call(
        &apps.write,
        Method::POST,
        &format!("/v1/workspaces/{ws}/channels"),
        Some(&bob.token),
        Some(json!({"name": "general"})),
    )
    .await;
    assert_eq!(s, 201, "{ch}");
    let ch = ch["id"].as_str().expect("id").to_owned();

    let (s, imp) = apps
        .impersonate(&admin.token, &bob.id, "ticket 4711: messages vanish")
        .await;
    assert_eq!(s, 201, "{imp}");
    let as_bob = imp["access_token"].as_str().expect("token").to_owned();
    let id = imp["id"].as_str().expect("id").to_owned();
    let expires_in = imp["expires_in"].as_u64().expect("expires_in");
    assert!(expires_in > 0 && expires_in <= 900, "{imp}");
    let claims = Jwt::new(SECRET, Jwt::DEFAULT_TTL)
        .verify(&as_bob)
        .expect("a valid token");
    assert_eq!(claims.sub.to_string(), bob.id);
    assert_eq!(
        claims.act.map(|a| a.sub.to_string()),
        Some(admin.id.clone()),
        "act names the admin"
    );
    assert!(claims.roles.is_empty());

    // The admin sees what Bob sees, and what they write names them.
    let (s, m) = call(
        &apps.write,
        Method::POST,
        &format!("/v1/channels/{ch}/messages"),
        Some(&as_bob),
        Some(json!({"body": "testing the fix"})),
    )
    .await;
    assert_eq!(s, 201, "{m}");
    let meta: Value = sqlx::query_scalar("SELECT metadata FROM events WHERE event_type = 'message.created'")
        .fetch_one(&pool)
        .await
        .expect("event");
    assert_eq!(meta["actor_id"], bob.id.as_str());
    assert_eq!(meta["impersonator"], admin.id.as_str());
    apps.project().await;
    let (s, page) = call(&apps.read, Method::GET, "/v1/workspaces", Some(&as_bob), None).await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["items"][0]["id"], ws.as_str());
    let (s, trail) = call(
        &apps.read,
        Method::GET,
        &format!("/v1/workspaces/{ws}/audit?action=message.created"),
        Some(&bob.token),
        None,
    )
    .await;
    assert_eq!(s, 200, "{trail}");
    assert_eq!(trail["items"][0]["actor_id"], bob.id.as_str());
    assert_eq!(trail["items"][0]["impersonator"], admin.id.as_str(), "{trail}");
    let (s, events) = call(
        &apps.read,
        Method::GET,
        &format!("/v1/aggregates/message/{}/events", m["id"].as_str().expect("id")),
        Some(&bob.token),
        None,
    )
    .await;
    assert_eq!(s, 200, "{events}");
    assert_eq!(
        events["items"][0]["metadata"]["impersonator"],
        admin.id.as_str(),
        "{events}"
    );

    // What is Bob's alone stays his.
    for (method, path, body) in [
        (Method::POST, "/v1/mirror/sessions", json!({})),
        (Method::POST, "/v1/turns", json!({"text": "a hard day"})),
        (Method::POST, "/v1/lens/goals", json!({"title": "sleep"})),
        (
            Method::POST,
            "/v1/auth/password",
            json!({"current_password": "x", "new_password": "a new horse battery"}),
        ),
        (Method::DELETE, "/v1/me", json!({})),
        (
            Method::POST,
            &format!("/v1/workspaces/{ws}/api-keys"),
            json!({"name": "k", "scopes": ["read"]}),
        ),
        (
            Method::POST,
            "/v1/admin/impersonations",
            json!({"user_id": admin.id, "reason": "chain"}),
        ),
        // No way in of the admin's own that outlives the token.
        (
            Method::POST,
            &format!("/v1/workspaces/{ws}/invitations"),
            json!({"email": "admin@example.com", "role": "owner"}),
        ),
        (Method::POST, &format!("/v1/workspaces/{ws}/join-code"), json!({})),
    ] {
        let (s, b) = call(&apps.write, method, path, Some(&as_bob), Some(body)).await;
        assert_eq!((s, code(&b)), (403, "impersonation_not_allowed"), "{path}: {b}");
    }
    for path in [
        "/v1/mirror/sessions",
        "/v1/turns",
        "/v1/lens/goals",
        "/v1/me/export",
        "/v1/spectrum/weekly",
        "/v1/me/sessions",
        "/v1/me/impersonations",
        &format!("/v1/aggregates/user/{}/events", bob.id),
    ] {
        let (s, b) = call(&apps.read, Method::GET, path, Some(&as_bob), None).await;
        assert_eq!((s, code(&b)), (403, "impersonation_not_allowed"), "{path}: {b}");
    }
    // Bob, an owner, sees his workspace's join code in its history; his impersonator does not.
    let history = |token: String| {
        let path = format!("/v1/aggregates/workspace/{ws}/events");
        let read = apps.read.clone();
        async move {
            let (s, b) = call(&read, Method::GET, &path, Some(&token), None).await;
            assert_eq!(s, 200, "{b}");
            b["items"][0]["payload"].clone()
        }
    };
    assert!(history(bob.token.clone()).await["join_code"].is_string());
    let seen = history(as_bob.clone()).await;
    assert!(seen.get("join_code").is_none(), "{seen}");

    // Bob sees who and why.
    let (s, list) = call(&apps.read, Method::GET, "/v1/me/impersonations", Some(&bob.token), None).await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list["items"][0]["id"], id.as_str());
    assert_eq!(list["items"][0]["admin_id"], admin.id.as_str());
    assert_eq!(list["items"][0]["reason"], "ticket 4711: messages vanish");
    assert!(list["items"][0]["ended_at"].is_null());
    let reason_in_log: String =
        sqlx::query_scalar("SELECT payload->>'reason' FROM events WHERE event_type = 'impersonation.started'")
            .fetch_one(&pool)
            .await
            .expect("event");
    assert!(!reason_in_log.contains("4711"), "the reason is sealed in the log");

    // A stranger cannot end it; the admin can, and the token dies everywhere.
    let stranger = apps.person().await;
    let (s, _) = call(
        &apps.write,
        Method::DELETE,
        &format!("/v1/admin/impersonations/{id}"),
        Some(&stranger.token),
        None,
    )
    .await;
    assert_eq!(s, 404);
    let (s, b) = call(
        &apps.write,
        Method::DELETE,
        &format!("/v1/admin/impersonations/{id}"),
        Some(&admin.token),
        None,
    )
    .await;
    assert_eq!(s, 204, "{b}");
    let refused = support::until_refused(
        &apps.write,
        &apps.read,
        &as_bob,
        (&format!("/v1/channels/{ch}/messages"), json!({"body": "still here?"})),
        "/v1/workspaces",
    )
    .await;
    assert_eq!(refused, ("session_revoked".into(), "session_revoked".into()));
    let (s, b) = call(
        &apps.write,
        Method::DELETE,
        &format!("/v1/admin/impersonations/{id}"),
        Some(&admin.token),
        None,
    )
    .await;
    assert_eq!(s, 204, "ending twice is a no-op: {b}");
    apps.project().await;
    let (_, list) = call(&apps.read, Method::GET, "/v1/me/impersonations", Some(&bob.token), None).await;
    assert!(list["items"][0]["ended_at"].is_string(), "{list}");
    assert_eq!(list["items"][0]["ended_by"], admin.id.as_str());
    // Bob's own token never stopped working.
    let (s, _) = call(&apps.read, Method::GET, "/v1/workspaces", Some(&bob.token), None).await;
    assert_eq!(s, 200);
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn only_platform_admins_impersonate_real_people_for_a_reason(pool: PgPool) {
    let apps = apps(pool);
    let admin = apps.admin().await;
    let bob = apps.person().await;
    let (s, b) = apps.impersonate(&bob.token, &admin.id, "curious").await;
    assert_eq!((s, code(&b)), (403, "forbidden"), "{b}");
    let (s, b) = apps
        .impersonate(&admin.token, &uuid::Uuid::now_v7().to_string(), "who?")
        .await;
    assert_eq!((s, code(&b)), (404, "not_found"), "{b}");
    let (s, b) = apps.impersonate(&admin.token, &bob.id, "   ").await;
    assert_eq!((s, code(&b)), (422, "validation_failed"), "{b}");
    let (s, b) = apps.impersonate(&admin.token, &admin.id, "me").await;
    assert_eq!((s, code(&b)), (422, "validation_failed"), "{b}");
    let (s, b) = apps.impersonate(&admin.token, &bob.id, &"x".repeat(501)).await;
    assert_eq!((s, code(&b)), (422, "validation_failed"), "{b}");
    let (s, b) = call(
        &apps.write,
        Method::POST,
        "/v1/admin/impersonations",
        None,
        Some(json!({"user_id": bob.id, "reason": "r"})),
    )
    .await;
    assert_eq!(s, 401, "{b}");
    let (s, b) = call(
        &apps.write,
        Method::DELETE,
        &format!("/v1/admin/impersonations/{}", uuid::Uuid::now_v7()),
        Some(&admin.token),
        None,
    )
    .await;
    assert_eq!(s, 404, "{b}");

    // The impersonation's own token may end it.
    let (s, imp) = apps.impersonate(&admin.token, &bob.id, "ticket 1").await;
    assert_eq!(s, 201, "{imp}");
    let (s, b) = call(
        &apps.write,
        Method::DELETE,
        &format!("/v1/admin/impersonations/{}", imp["id"].as_str().expect("id")),
        imp["access_token"].as_str(),
        None,
    )
    .await;
    assert_eq!(s, 204, "{b}");
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn the_user_ends_an_impersonation_of_their_account_or_a_new_password_does(pool: PgPool) {
    let apps = apps(pool);
    let admin = apps.admin().await;
    let bob = apps.person().await;
    let token = |b: &Value| b["access_token"].as_str().expect("token").to_owned();

    // Bob ends it himself.
    let (s, imp) = apps.impersonate(&admin.token, &bob.id, "ticket 2").await;
    assert_eq!(s, 201, "{imp}");
    let path = format!("/v1/admin/impersonations/{}", imp["id"].as_str().expect("id"));
    let (s, b) = call(&apps.write, Method::DELETE, &path, Some(&bob.token), None).await;
    assert_eq!(s, 204, "{b}");
    let refused = support::until_refused(
        &apps.write,
        &apps.read,
        &token(&imp),
        ("/v1/workspaces", json!({"name": "x"})),
        "/v1/workspaces",
    )
    .await;
    assert_eq!(refused.1, "session_revoked");

    // A new password ends whatever impersonation of the account is open.
    let (s, imp) = apps.impersonate(&admin.token, &bob.id, "ticket 3").await;
    assert_eq!(s, 201, "{imp}");
    let (s, b) = call(
        &apps.write,
        Method::POST,
        "/v1/auth/password",
        Some(&bob.token),
        Some(json!({"current_password": "correct horse battery", "new_password": "a brand new horse"})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let refused = support::until_refused(
        &apps.write,
        &apps.read,
        &token(&imp),
        ("/v1/workspaces", json!({"name": "x"})),
        "/v1/workspaces",
    )
    .await;
    assert_eq!(refused, ("session_revoked".into(), "session_revoked".into()));
}
