//! `Idempotency-Key`: a repeat returns the first answer and appends nothing.

mod common;

use axum::body::Body;
use axum::http::{Method, Request};
use common::*;
use serde_json::{json, Value};
use sqlx::PgPool;

fn post_with_key(path: &str, token: &str, key: &str, body: &Value) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(Body::from(body.to_string()))
        .expect("request")
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_repeat_returns_the_first_answer_and_appends_nothing(pool: PgPool) {
    let t = TestApp::new(pool);
    let w = world(&t).await;
    let path = format!("/v1/channels/{}/messages", w.channel);
    let body = json!({"body": "once"});
    let before = t.total_events().await;
    let first = t
        .send(post_with_key(&path, &w.member.token, "k-1", &body))
        .await
        .expect(201);
    let second = t
        .send(post_with_key(&path, &w.member.token, "k-1", &body))
        .await
        .expect(201);
    assert_eq!(first.body, second.body);
    assert_eq!(
        second.headers.get("idempotent-replayed").and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert!(first.headers.get("idempotent-replayed").is_none());
    assert_eq!(t.total_events().await, before + 1);
    // Another user may use the same key for their own request.
    t.send(post_with_key(&path, &w.admin.token, "k-1", &body))
        .await
        .expect(201);
    assert_eq!(t.total_events().await, before + 2);
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn the_same_key_with_another_request_is_refused(pool: PgPool) {
    let t = TestApp::new(pool);
    let w = world(&t).await;
    let path = format!("/v1/channels/{}/messages", w.channel);
    t.send(post_with_key(&path, &w.member.token, "k-2", &json!({"body": "one"})))
        .await
        .expect(201);
    t.send(post_with_key(&path, &w.member.token, "k-2", &json!({"body": "two"})))
        .await
        .expect_error(422, "idempotency_key_reused");
    let bad = post_with_key(&path, &w.member.token, &"k".repeat(300), &json!({"body": "x"}));
    t.send(bad).await.expect_error(400, "invalid_idempotency_key");
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn concurrent_repeats_append_once(pool: PgPool) {
    let t = TestApp::new(pool);
    let w = world(&t).await;
    let path = format!("/v1/channels/{}/messages", w.channel);
    let body = json!({"body": "racing"});
    let before = t.total_events().await;
    let answers =
        futures::future::join_all((0..8).map(|_| t.send(post_with_key(&path, &w.member.token, "k-3", &body)))).await;
    let ids: std::collections::HashSet<_> = answers.into_iter().map(|a| a.expect(201).id()).collect();
    assert_eq!(ids.len(), 1, "every repeat answers the first id");
    assert_eq!(t.total_events().await, before + 1);
}
