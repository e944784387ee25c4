//! Abuse is expensive: failed sign-ins lock an account (one audit event, no per-guess events,
//! no unkeyed hash of the address), rate limits per address and per account answer 429 with
//! `Retry-After`, argon2 work is bounded, join codes cannot be told from unknown workspaces.

mod common;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Method, Request};
use common::*;
use prism_write_api::limits::Limits;
use serde_json::json;
use sqlx::PgPool;

fn generous() -> Limits {
    Limits::parse(
        "login_ip=100000/60,login_account=100000/60,register_ip=100000/60,join_ip=100000/60,join_account=100000/60",
    )
    .expect("limits")
}

fn with_limits(t: &mut TestApp, limits: Limits) {
    let state = prism_write_api::AppState::new(t.commands.clone()).with_limits(limits);
    t.app = prism_write_api::app(state);
}

async fn login(t: &TestApp, email: &str, password: &str) -> Resp {
    t.call(
        Method::POST,
        "/v1/auth/login",
        None,
        Some(json!({"email": email, "password": password})),
    )
    .await
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn repeated_failed_sign_ins_lock_the_account_with_one_audit_event(pool: PgPool) {
    let mut t = TestApp::new(pool);
    with_limits(&mut t, generous());
    let ann = t.register("ann").await;
    let email: String = sqlx::query_scalar("SELECT email FROM credentials WHERE user_id = $1")
        .bind(ann.id)
        .fetch_one(&t.pool)
        .await
        .expect("email");
    let before = t.total_events().await;
    for _ in 0..10 {
        login(&t, &email, "wrong horse battery")
            .await
            .expect_error(401, "invalid_credentials");
    }
    // Locked now, even with the right password: the guesser learns nothing, the owner waits.
    let locked = login(&t, &email, "correct horse battery")
        .await
        .expect_error(429, "too_many_attempts");
    let retry: u64 = locked
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=900).contains(&retry), "{retry}");
    // An unknown address locks the same way (same answers: no account enumeration).
    for _ in 0..10 {
        login(&t, "nobody@example.com", "wrong horse battery")
            .await
            .expect_error(401, "invalid_credentials");
    }
    login(&t, "nobody@example.com", "wrong horse battery")
        .await
        .expect_error(429, "too_many_attempts");

    let events: Vec<(String, String)> =
        sqlx::query_as("SELECT event_type, payload::text FROM events ORDER BY global_position OFFSET $1")
            .bind(before)
            .fetch_all(&t.pool)
            .await
            .expect("events");
    let types: Vec<&str> = events.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        ["auth.login_locked", "auth.login_locked"],
        "one event per lockout, none per guess"
    );
    assert!(events[0].1.contains(&ann.id.to_string()));
    // What is kept of the addresses is keyed: not the SHA-256 anyone could compute.
    let plain = prism_auth::token_digest(&email);
    let kept: Vec<Vec<u8>> = sqlx::query_scalar("SELECT account FROM login_failures")
        .fetch_all(&t.pool)
        .await
        .expect("records");
    assert_eq!(kept.len(), 2);
    for k in kept {
        assert_ne!(hex::encode(&k), plain);
    }
    let everywhere: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE payload::text LIKE '%' || $1 || '%' OR payload::text LIKE '%nobody@%'",
    )
    .bind(&plain)
    .fetch_one(&t.pool)
    .await
    .expect("count");
    assert_eq!(everywhere, 0);
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn limits_per_address_answer_429_with_retry_after(pool: PgPool) {
    let mut t = TestApp::new(pool);
    let limits = Limits::parse("login_ip=3/60,login_account=100/60,register_ip=2/60").expect("limits");
    let state = prism_write_api::AppState::new(t.commands.clone()).with_limits(limits);
    let from =
        |ip: &str| prism_write_api::app(state.clone()).layer(MockConnectInfo(ip.parse::<SocketAddr>().expect("addr")));
    t.app = from("203.0.113.7:5000");
    for i in 0..3 {
        login(&t, &format!("x{i}@example.com"), "wrong horse battery")
            .await
            .expect_error(401, "invalid_credentials");
    }
    let r = login(&t, "x9@example.com", "wrong horse battery")
        .await
        .expect_error(429, "rate_limited");
    assert!(r.headers.get("retry-after").is_some());
    // Another address has its own allowance.
    t.app = from("198.51.100.1:5000");
    login(&t, "x9@example.com", "wrong horse battery")
        .await
        .expect_error(401, "invalid_credentials");
    // Registering, likewise.
    for i in 0..2 {
        let body = json!({"email": format!("r{i}@example.com"), "password": "correct horse battery", "name": "R"});
        t.call(Method::POST, "/v1/auth/register", None, Some(body))
            .await
            .expect(201);
    }
    let body = json!({"email": "r9@example.com", "password": "correct horse battery", "name": "R"});
    t.call(Method::POST, "/v1/auth/register", None, Some(body))
        .await
        .expect_error(429, "rate_limited");
}

/// The README's policy: registration is the one answer that tells an address has an account;
/// one network address gets a few such answers, then may not register at all for the window,
/// taken address or new, so the answers stop telling anything.
#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn registration_tells_a_taken_address_only_a_few_times_per_network_address(pool: PgPool) {
    let mut t = TestApp::new(pool);
    let limits = Limits::parse("register_ip=1000/60,register_taken_ip=2/3600").expect("limits");
    let state = prism_write_api::AppState::new(t.commands.clone()).with_limits(limits);
    let from =
        |ip: &str| prism_write_api::app(state.clone()).layer(MockConnectInfo(ip.parse::<SocketAddr>().expect("addr")));
    t.app = from("203.0.113.9:5000");
    let register = |email: &str| json!({"email": email, "password": "correct horse battery", "name": "R"});
    t.call(
        Method::POST,
        "/v1/auth/register",
        None,
        Some(register("taken@example.com")),
    )
    .await
    .expect(201);
    for case in ["taken@example.com", "TAKEN@example.com"] {
        t.call(Method::POST, "/v1/auth/register", None, Some(register(case)))
            .await
            .expect_error(409, "already_exists");
    }
    // The third would tell again: it and everything after it from this address is 429, a new
    // address included, so a 429 says nothing about the address asked for.
    for email in ["taken@example.com", "fresh@example.com"] {
        let r = t
            .call(Method::POST, "/v1/auth/register", None, Some(register(email)))
            .await
            .expect_error(429, "rate_limited");
        assert!(r.headers.get("retry-after").is_some());
    }
    // Another network address is not barred.
    t.app = from("198.51.100.7:5000");
    t.call(
        Method::POST,
        "/v1/auth/register",
        None,
        Some(register("fresh@example.com")),
    )
    .await
    .expect(201);
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn commands_are_limited_per_session(pool: PgPool) {
    let mut t = TestApp::new(pool);
    let ann = t.register("ann").await;
    with_limits(&mut t, Limits::parse("commands_session=5/60").expect("limits"));
    for i in 0..5 {
        t.post("/v1/workspaces", &ann.token, json!({"name": format!("w{i}")}))
            .await
            .expect(201);
    }
    t.post("/v1/workspaces", &ann.token, json!({"name": "one too many"}))
        .await
        .expect_error(429, "rate_limited");
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_wrong_join_code_answers_like_an_unknown_workspace_and_attempts_are_limited(pool: PgPool) {
    let mut t = TestApp::new(pool);
    let owner = t.register("owner").await;
    let guesser = t.register("guesser").await;
    let (ws, _) = t.workspace(&owner).await;
    with_limits(&mut t, Limits::parse("join_account=5/60").expect("limits"));
    let wrong = t
        .post(
            &format!("/v1/workspaces/{ws}/join"),
            &guesser.token,
            json!({"join_code": "AAAAAAAA"}),
        )
        .await;
    let unknown = t
        .post(
            &format!("/v1/workspaces/{}/join", uuid::Uuid::now_v7()),
            &guesser.token,
            json!({"join_code": "AAAAAAAA"}),
        )
        .await;
    assert_eq!(wrong.status, unknown.status);
    assert_eq!(wrong.body, unknown.body, "the answers tell the two apart");
    assert_eq!(wrong.status.as_u16(), 404);
    for _ in 0..3 {
        t.post(
            &format!("/v1/workspaces/{ws}/join"),
            &guesser.token,
            json!({"join_code": "BBBBBBBB"}),
        )
        .await
        .expect_error(404, "not_found");
    }
    t.post(
        &format!("/v1/workspaces/{ws}/join"),
        &guesser.token,
        json!({"join_code": "CCCCCCCC"}),
    )
    .await
    .expect_error(429, "rate_limited");
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn argon2_work_is_bounded_and_a_flood_gets_503_busy(pool: PgPool) {
    // Real (OWASP) argon2 parameters and one hashing slot: a flood of sign-ins cannot all run
    // at once; those that wait too long are told to come back.
    let store = prism_event_store::PgEventStore::new(pool.clone(), 3);
    let hasher = prism_auth::PasswordHasherId::owasp().expect("params");
    let commands = prism_commands::Commands::new(
        store,
        prism_auth::Jwt::new(SECRET, prism_auth::Jwt::DEFAULT_TTL),
        hasher,
    )
    .with_hashing_slots(1);
    let app = prism_write_api::app(prism_write_api::AppState::new(commands.clone()).with_limits(generous()));
    let t = TestApp { app, pool, commands };
    let answers = futures::future::join_all((0..200).map(|i| {
        let t = &t;
        async move { login(t, &format!("flood{i}@example.com"), "wrong horse battery").await }
    }))
    .await;
    let mut busy = 0;
    for r in &answers {
        match (r.status.as_u16(), r.code()) {
            (401, "invalid_credentials") => {}
            (503, "busy") => {
                assert!(r.headers.get("retry-after").is_some());
                busy += 1;
            }
            other => panic!("unexpected {other:?}: {}", r.body),
        }
    }
    assert!(busy > 0, "200 argon2 verifications fit in one slot within a second?");
    assert!(busy < 200, "nobody got through");
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn an_oversized_request_id_is_replaced_not_stored(pool: PgPool) {
    let t = TestApp::new(pool);
    let ann = t.register("ann").await;
    let huge = "x".repeat(60_000);
    let req = Request::builder()
        .method(Method::POST)
        .uri("/v1/workspaces")
        .header("authorization", format!("Bearer {}", ann.token))
        .header("content-type", "application/json")
        .header("x-request-id", &huge)
        .body(Body::from(json!({"name": "Acme"}).to_string()))
        .expect("request");
    let r = t.send(req).await.expect(201);
    let echoed = r
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("a request id");
    assert!(echoed.len() <= 64 && echoed != huge);
    let longest: i32 = sqlx::query_scalar("SELECT coalesce(max(length(metadata::text)), 0) FROM events")
        .fetch_one(&t.pool)
        .await
        .expect("metadata");
    assert!(longest < 1_000, "metadata of {longest} bytes");
    // A sensible one is kept as sent.
    let req = Request::builder()
        .method(Method::POST)
        .uri("/v1/workspaces")
        .header("authorization", format!("Bearer {}", ann.token))
        .header("content-type", "application/json")
        .header("x-request-id", "trace-abc-123")
        .body(Body::from(json!({"name": "Acme 2"}).to_string()))
        .expect("request");
    let r = t.send(req).await.expect(201);
    assert_eq!(
        r.headers.get("x-request-id").and_then(|v| v.to_str().ok()),
        Some("trace-abc-123")
    );
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn forwarded_addresses_count_only_from_trusted_proxies(pool: PgPool) {
    let mut t = TestApp::new(pool);
    let limits = Limits::parse("login_ip=2/60,login_account=100/60")
        .and_then(|l| l.with_trusted_proxies("10.0.0.5"))
        .expect("limits");
    let state = prism_write_api::AppState::new(t.commands.clone()).with_limits(limits);
    let via = |peer: &str| {
        prism_write_api::app(state.clone()).layer(MockConnectInfo(peer.parse::<SocketAddr>().expect("addr")))
    };
    async fn login_from(t: &TestApp, forwarded: &str) -> Resp {
        let req = Request::builder()
            .method(Method::POST)
            .uri("/v1/auth/login")
            .header("content-type", "application/json")
            .header("x-forwarded-for", forwarded)
            .body(Body::from(
                json!({"email": "a@example.com", "password": "wrong horse battery"}).to_string(),
            ))
            .expect("request");
        t.send(req).await
    }
    // Through the trusted proxy: each client has its own allowance.
    t.app = via("10.0.0.5:443");
    for _ in 0..2 {
        login_from(&t, "198.51.100.1")
            .await
            .expect_error(401, "invalid_credentials");
    }
    login_from(&t, "198.51.100.1").await.expect_error(429, "rate_limited");
    login_from(&t, "198.51.100.2, 10.0.0.5")
        .await
        .expect_error(401, "invalid_credentials");
    // Anyone else's header is ignored: a client cannot pick a fresh bucket.
    t.app = via("203.0.113.9:5000");
    for i in 0..2 {
        login_from(&t, &format!("192.0.2.{i}"))
            .await
            .expect_error(401, "invalid_credentials");
    }
    login_from(&t, "192.0.2.77").await.expect_error(429, "rate_limited");
}
