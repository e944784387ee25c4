//! Reads from a Postgres streaming replica (`PRISM_READ_DATABASE_URL`): a private primary and a
//! replica made from it with `pg_basebackup -R`, on free ports. The read API answers from the
//! replica, honours `X-Min-Position` from the replica's own checkpoint rows, and falls back to
//! the primary when the replica is gone.

#[path = "support/postgres.rs"]
mod postgres;
mod support;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request};
use http_body_util::BodyExt;
use prism_auth::Jwt;
use prism_event_store::PgEventStore;
use serde_json::{json, Value};
use support::call;
use tower::ServiceExt;

const SECRET: &[u8] = b"replica-e2e-replica-e2e-replica-e2e!!";

/// `GET /v1/me` with `X-Min-Position`: the status, the name shown, and the position answered.
async fn me_at(read: &axum::Router, token: &str, min: i64) -> (u16, Value, Option<i64>) {
    let req = Request::builder()
        .method(Method::GET)
        .uri("/v1/me")
        .header("authorization", format!("Bearer {token}"))
        .header("x-min-position", min.to_string())
        .body(Body::empty())
        .expect("request");
    let res = read.clone().oneshot(req).await.expect("infallible");
    let status = res.status().as_u16();
    let at = res
        .headers()
        .get("x-projection-position")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null), at)
}

async fn read_models_position(pool: &sqlx::PgPool) -> i64 {
    prism_projections::status::position(pool, prism_projections::read_models::NAME)
        .await
        .expect("position")
}

#[tokio::test]
async fn reads_come_from_the_replica_honour_min_position_there_and_fall_back_when_it_is_gone() {
    let mut pg = postgres::Pair::start();
    pg.database("prism").await;
    let primary = sqlx::PgPool::connect(&pg.primary.url("prism")).await.expect("primary");
    prism_event_store::db::MIGRATOR.run(&primary).await.expect("migrate");
    let replica = prism_event_store::db::connect_replica(&pg.replica.url("prism"), 4).expect("replica pool");

    let jwt = Jwt::new(SECRET, Jwt::DEFAULT_TTL);
    let store = PgEventStore::new(primary.clone(), 0);
    let write = prism_write_api::app(prism_write_api::AppState::new(support::commands(&store, &jwt)));
    let read = prism_read_api::app(
        prism_read_api::AppState::new(primary.clone(), jwt)
            .with_max_wait(Duration::from_millis(300))
            .with_replica(replica.clone()),
    );
    let ann = support::person(&write, "Ann").await;
    support::project_read_models(&store).await;
    let first = read_models_position(&primary).await;

    // The replica has replayed the registration: read there, at (at least) that position.
    let started = Instant::now();
    let (status, me, at) = loop {
        let got = me_at(&read, &ann.token, first).await;
        if got.0 == 200 || started.elapsed() > Duration::from_secs(10) {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status, 200, "{me}");
    assert!(at.is_some_and(|a| a >= first), "answered at {at:?}, wanted {first}");

    // The replica stops replaying: the primary moves on, the replica's checkpoint row does not,
    // and a read that asks for the new position is told the projection is behind (the replica
    // vouches only for what it has) rather than answered with the old name.
    let on_replica = sqlx::PgPool::connect(&pg.replica.url("prism")).await.expect("replica");
    sqlx::query("SELECT pg_wal_replay_pause()")
        .execute(&on_replica)
        .await
        .expect("pause");
    let (s, b) = call(
        &write,
        Method::PATCH,
        "/v1/me",
        Some(&ann.token),
        Some(json!({"name": "Ann Renamed"})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    support::project_read_models(&store).await;
    let renamed = read_models_position(&primary).await;
    assert!(renamed > first);
    assert!(
        read_models_position(&on_replica).await < renamed,
        "the replica replayed while paused"
    );
    let (status, body, _) = me_at(&read, &ann.token, renamed).await;
    assert_eq!(status, 503, "a read at a position the replica has not reached: {body}");
    assert_eq!(body["error"]["code"], "projection_behind", "{body}");

    // Replay resumes: the same read is answered, with the new name.
    sqlx::query("SELECT pg_wal_replay_resume()")
        .execute(&on_replica)
        .await
        .expect("resume");
    on_replica.close().await;
    let started = Instant::now();
    loop {
        let (status, me, _) = me_at(&read, &ann.token, renamed).await;
        if status == 200 {
            assert_eq!(me["name"], "Ann Renamed", "{me}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the replica never caught up: {me}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The replica dies. Reads go to the primary (after at most one that fails while the
    // watcher notices), and see what only the primary has.
    pg.replica.kill();
    let (s, b) = call(
        &write,
        Method::PATCH,
        "/v1/me",
        Some(&ann.token),
        Some(json!({"name": "Ann Again"})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    support::project_read_models(&store).await;
    let again = read_models_position(&primary).await;
    let started = Instant::now();
    let mut failed = 0;
    loop {
        let (status, me, at) = me_at(&read, &ann.token, again).await;
        if status == 200 {
            assert_eq!(me["name"], "Ann Again", "{me}");
            assert!(at.is_some_and(|a| a >= again));
            break;
        }
        failed += 1;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "reads never fell back to the primary: {status} {me}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(failed <= 40, "{failed} reads failed before the fallback");
}
