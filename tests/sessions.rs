//! Tokens die with what they stand for, on both APIs: after a logout, a reused refresh token
//! or an erasure, the access tokens of that session (or user) are refused by the write and the
//! read API alike, within about a second — each keeps the revocations current from the log.

mod support;

use std::time::{Duration, Instant};

use axum::http::Method;
use prism_auth::{Jwt, PasswordHasherId};
use prism_commands::Commands;
use prism_event_store::PgEventStore;
use serde_json::{json, Value};
use sqlx::PgPool;
use support::call;

const SECRET: &[u8] = b"sessions-e2e-sessions-e2e-sessions-e2e!";

struct Apps {
    write: axum::Router,
    read: axum::Router,
    store: PgEventStore,
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
        write: prism_write_api::app(prism_write_api::AppState::new(commands)),
        read: prism_read_api::app(prism_read_api::AppState::new(pool, jwt)),
    }
}

impl Apps {
    async fn register(&self) -> (String, String) {
        self.register_as(&format!("u{}@example.com", uuid::Uuid::now_v7().simple()))
            .await
    }

    /// The read models, caught up with the log.
    async fn project(&self) {
        support::project_read_models(&self.store).await;
    }

    async fn register_as(&self, email: &str) -> (String, String) {
        let b = support::register(&self.write, email).await;
        (
            b["access_token"].as_str().expect("access").to_owned(),
            b["refresh_token"].as_str().expect("refresh").to_owned(),
        )
    }

    /// Both APIs accept the token.
    async fn accepted(&self, token: &str) {
        let (s, b) = call(&self.read, Method::GET, "/v1/workspaces", Some(token), None).await;
        assert_eq!(s, 200, "{b}");
        let (s, b) = call(
            &self.write,
            Method::POST,
            "/v1/workspaces",
            Some(token),
            Some(json!({"name": "W"})),
        )
        .await;
        assert_eq!(s, 201, "{b}");
    }

    /// Both APIs refuse the token as a revoked session within a bounded time; answers how long
    /// that took.
    async fn refused(&self, token: &str) -> Duration {
        let start = Instant::now();
        loop {
            let (r, rb) = call(&self.read, Method::GET, "/v1/workspaces", Some(token), None).await;
            let (w, wb) = call(
                &self.write,
                Method::POST,
                "/v1/workspaces",
                Some(token),
                Some(json!({"name": "W"})),
            )
            .await;
            if r == 401 && w == 401 {
                assert_eq!(rb["error"]["code"], "session_revoked", "{rb}");
                assert_eq!(wb["error"]["code"], "session_revoked", "{wb}");
                return start.elapsed();
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "still accepted: read {r} {rb}, write {w} {wb}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn logout_ends_the_session_everywhere_and_only_that_one(pool: PgPool) {
    let a = apps(pool);
    let (access, refresh) = a.register().await;
    let (other_session, _) = {
        // A second sign-in of someone else stays untouched.
        a.register().await
    };
    a.accepted(&access).await;
    let (s, _) = call(
        &a.write,
        Method::POST,
        "/v1/auth/logout",
        None,
        Some(json!({"refresh_token": refresh})),
    )
    .await;
    assert_eq!(s, 204);
    let took = a.refused(&access).await;
    eprintln!("logout refused everywhere after {took:?}");
    a.accepted(&other_session).await;
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_reused_refresh_token_ends_the_session_it_belonged_to(pool: PgPool) {
    let a = apps(pool);
    let (_, refresh) = a.register().await;
    let (s, pair) = call(
        &a.write,
        Method::POST,
        "/v1/auth/refresh",
        None,
        Some(json!({"refresh_token": refresh})),
    )
    .await;
    assert_eq!(s, 200, "{pair}");
    let access = pair["access_token"].as_str().expect("access").to_owned();
    a.accepted(&access).await;
    // The old refresh token again: someone has a copy. The whole family ends.
    let (s, _) = call(
        &a.write,
        Method::POST,
        "/v1/auth/refresh",
        None,
        Some(json!({"refresh_token": refresh})),
    )
    .await;
    assert_eq!(s, 401);
    a.refused(&access).await;
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn an_erased_account_token_does_nothing_anywhere(pool: PgPool) {
    let a = apps(pool);
    let (access, _) = a.register().await;
    a.accepted(&access).await;
    let (s, b) = call(&a.write, Method::DELETE, "/v1/me", Some(&access), None).await;
    assert_eq!(s, 202, "{b}");
    a.refused(&access).await;
    for (method, path, body) in [
        (Method::POST, "/v1/mirror/sessions", None),
        (Method::POST, "/v1/turns", Some(json!({"text": "a quiet day"}))),
        (Method::DELETE, "/v1/me", None),
    ] {
        let (s, b) = call(&a.write, method, path, Some(&access), body).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (401, Some("session_revoked")),
            "{path}: {b}"
        );
    }
    for path in ["/v1/me", "/v1/me/export", "/v1/turns"] {
        let (s, b) = call(&a.read, Method::GET, path, Some(&access), None).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (401, Some("session_revoked")),
            "{path}: {b}"
        );
    }
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_token_minted_into_a_revoked_session_cannot_be_refreshed(pool: PgPool) {
    let a = apps(pool.clone());
    let (_, refresh) = a.register().await;
    // A refresh that raced the logout: its new token landed in the family after the logout
    // revoked the rows it saw.
    let family: uuid::Uuid = sqlx::query_scalar("SELECT family_id FROM refresh_tokens LIMIT 1")
        .fetch_one(&pool)
        .await
        .expect("family");
    let (s, _) = call(
        &a.write,
        Method::POST,
        "/v1/auth/logout",
        None,
        Some(json!({"refresh_token": refresh})),
    )
    .await;
    assert_eq!(s, 204);
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, family_id, user_id, expires_at)
         SELECT $1, family_id, user_id, now() + interval '1 day' FROM refresh_tokens WHERE family_id = $2 LIMIT 1",
    )
    .bind(prism_auth::token_digest("raced-in"))
    .bind(family)
    .execute(&pool)
    .await
    .expect("raced token");
    let (s, b) = call(
        &a.write,
        Method::POST,
        "/v1/auth/refresh",
        None,
        Some(json!({"refresh_token": "raced-in"})),
    )
    .await;
    assert_eq!(s, 401, "{b}");
}

/// Signs in with a user agent; answers the tokens.
async fn sign_in(app: &axum::Router, email: &str, password: &str, user_agent: &str) -> (u16, Value) {
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/v1/auth/login")
        .header("content-type", "application/json")
        .header("user-agent", user_agent)
        .body(axum::body::Body::from(
            json!({"email": email, "password": password}).to_string(),
        ))
        .expect("request");
    let res = tower::ServiceExt::oneshot(app.clone(), req).await.expect("infallible");
    let status = res.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(res.into_body())
        .await
        .expect("body")
        .to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// A person sees their sessions (device, when, which is this one), ends one, and changing the
/// password ends every session but the one they changed it from.
#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn people_see_and_end_their_sessions_and_a_new_password_keeps_only_this_one(pool: PgPool) {
    let a = apps(pool.clone());
    let (_, _) = a.register_as("zoe@example.com").await;
    let (s, laptop) = sign_in(
        &a.write,
        "zoe@example.com",
        "correct horse battery",
        "Firefox on a laptop",
    )
    .await;
    assert_eq!(s, 200, "{laptop}");
    let (_, phone) = sign_in(
        &a.write,
        "zoe@example.com",
        "correct horse battery",
        "Safari on a phone",
    )
    .await;
    let (_, tablet) = sign_in(&a.write, "zoe@example.com", "correct horse battery", "a tablet").await;
    let token = |v: &Value| v["access_token"].as_str().expect("token").to_owned();
    let (laptop_t, phone_t, tablet_t) = (token(&laptop), token(&phone), token(&tablet));
    a.project().await;

    let (s, list) = call(&a.read, Method::GET, "/v1/me/sessions", Some(&laptop_t), None).await;
    assert_eq!(s, 200, "{list}");
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 4, "registration and three sign-ins: {list}");
    let mine: Vec<&Value> = items.iter().filter(|i| i["current"] == true).collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["user_agent"], "Firefox on a laptop", "opened for its owner");
    // Stored sealed: the log and the read model never hold the device in the clear.
    let raw: i64 = sqlx::query_scalar("SELECT count(*) FROM rm_sessions WHERE user_agent LIKE '%Safari%'")
        .fetch_one(&pool)
        .await
        .expect("raw");
    assert_eq!(raw, 0);
    let phone_id = items
        .iter()
        .find(|i| i["user_agent"] == "Safari on a phone")
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .expect("the phone");

    // Someone else cannot end it; its owner can.
    let (bob, _) = a.register().await;
    let path = format!("/v1/me/sessions/{phone_id}");
    assert_eq!(call(&a.write, Method::DELETE, &path, Some(&bob), None).await.0, 404);
    assert_eq!(
        call(&a.write, Method::DELETE, &path, Some(&laptop_t), None).await.0,
        204
    );
    let (s, _) = call(
        &a.write,
        Method::POST,
        "/v1/auth/refresh",
        None,
        Some(json!({"refresh_token": phone["refresh_token"]})),
    )
    .await;
    assert_eq!(s, 401, "the phone's refresh token is dead");
    a.refused(&phone_t).await;
    // The ended session's token reads no session list either.
    let (s, b) = call(&a.read, Method::GET, "/v1/me/sessions", Some(&phone_t), None).await;
    assert_eq!((s, b["error"]["code"].as_str()), (401, Some("session_revoked")), "{b}");
    a.accepted(&laptop_t).await;

    // A new password: the current one is required; then only the laptop's session lives on.
    let change = |current: &str| {
        call(
            &a.write,
            Method::POST,
            "/v1/auth/password",
            Some(&laptop_t),
            Some(json!({"current_password": current, "new_password": "an even better password"})),
        )
    };
    assert_eq!(change("not my password").await.0, 401);
    // Guessing the current password with a stolen token runs into the sign-in lockout.
    let mut answers = Vec::new();
    for _ in 0..12 {
        answers.push(change("still not my password").await.0);
    }
    assert!(answers.contains(&429), "locked after repeated failures: {answers:?}");
    sqlx::query("DELETE FROM login_failures")
        .execute(&pool)
        .await
        .expect("unlock");
    let (s, b) = change("correct horse battery").await;
    assert_eq!(s, 200, "{b}");
    a.refused(&tablet_t).await;
    a.accepted(&laptop_t).await;
    assert_eq!(
        sign_in(&a.write, "zoe@example.com", "correct horse battery", "x")
            .await
            .0,
        401
    );
    assert_eq!(
        sign_in(&a.write, "zoe@example.com", "an even better password", "x")
            .await
            .0,
        200
    );
    a.project().await;
    let (_, list) = call(&a.read, Method::GET, "/v1/me/sessions", Some(&laptop_t), None).await;
    let agents: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["user_agent"].as_str())
        .collect();
    assert!(
        agents.contains(&"Firefox on a laptop")
            && !agents.contains(&"Safari on a phone")
            && !agents.contains(&"a tablet"),
        "{list}"
    );
}

/// `PATCH /v1/me`: the new name is what the read API shows; the log holds it sealed.
#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn people_rename_themselves_and_the_log_keeps_the_name_sealed(pool: PgPool) {
    let a = apps(pool.clone());
    let (token, _) = a.register_as("yan@example.com").await;
    let rename = |name: &'static str, bearer: Option<String>| {
        let write = a.write.clone();
        async move {
            call(
                &write,
                Method::PATCH,
                "/v1/me",
                bearer.as_deref(),
                Some(json!({"name": name})),
            )
            .await
        }
    };
    assert_eq!(rename("Yannick Zed", None).await.0, 401);
    assert_eq!(rename("", Some(token.clone())).await.0, 422);
    let (s, b) = rename("Yannick Zed", Some(token.clone())).await;
    assert_eq!(s, 200, "{b}");
    a.project().await;
    let (s, me) = call(&a.read, Method::GET, "/v1/me", Some(&token), None).await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["name"], "Yannick Zed");
    let logged: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE payload::text LIKE '%Yannick%'")
        .fetch_one(&pool)
        .await
        .expect("log");
    assert_eq!(logged, 0, "sealed in the log");
}
