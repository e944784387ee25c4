//! Direct conversations: one per pair, private to the pair.

mod common;

use axum::http::Method;
use common::*;
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn one_conversation_per_pair_whoever_starts_it(pool: PgPool) {
    let t = TestApp::new(pool);
    let w = world(&t).await;
    let path = format!("/v1/workspaces/{}/conversations", w.ws);
    let first = t
        .post(&path, &w.member.token, json!({"member_id": w.admin.id}))
        .await
        .expect(201);
    let again = t
        .post(&path, &w.admin.token, json!({"member_id": w.member.id}))
        .await
        .expect(200);
    assert_eq!(first.id(), again.id());
    // Concurrent starts of another pair also give one conversation.
    let (a, b) = tokio::join!(
        t.post(&path, &w.owner.token, json!({"member_id": w.member.id})),
        t.post(&path, &w.member.token, json!({"member_id": w.owner.id})),
    );
    assert_eq!(a.id(), b.id());
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'conversation.created'")
        .fetch_one(&t.pool)
        .await
        .expect("count");
    assert_eq!(n, 2);
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn not_with_strangers_nor_oneself(pool: PgPool) {
    let t = TestApp::new(pool);
    let w = world(&t).await;
    let path = format!("/v1/workspaces/{}/conversations", w.ws);
    t.post(&path, &w.member.token, json!({"member_id": w.stranger.id}))
        .await
        .expect_error(404, "not_found");
    t.post(&path, &w.stranger.token, json!({"member_id": w.member.id}))
        .await
        .expect_error(404, "not_found");
    t.post(&path, &w.member.token, json!({"member_id": w.member.id}))
        .await
        .expect_error(422, "self_conversation");
    t.post(&path, &w.member.token, json!({"member_id": "x"}))
        .await
        .expect_error(400, "invalid_body");
    assert_rejects_bad_input(&t, Method::POST, &path, &w.member.token, json!({"member_id": 5})).await;
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn only_the_pair_posts_in_it(pool: PgPool) {
    let t = TestApp::new(pool);
    let w = world(&t).await;
    let conv = t
        .post(
            &format!("/v1/workspaces/{}/conversations", w.ws),
            &w.member.token,
            json!({"member_id": w.admin.id}),
        )
        .await
        .expect(201)
        .id();
    let path = format!("/v1/channels/{conv}/messages");
    let m = t
        .post(&path, &w.admin.token, json!({"body": "psst"}))
        .await
        .expect(201)
        .id();
    t.post(&path, &w.member.token, json!({"body": "hi back"}))
        .await
        .expect(201);
    t.post(&path, &w.owner.token, json!({"body": "me too"}))
        .await
        .expect_error(404, "not_found");
    t.post(
        &format!("/v1/messages/{m}/reactions"),
        &w.owner.token,
        json!({"emoji": "👀"}),
    )
    .await
    .expect_error(404, "not_found");
    t.post(
        &format!("/v1/messages/{m}/reactions"),
        &w.member.token,
        json!({"emoji": "👀"}),
    )
    .await
    .expect(200);
}
