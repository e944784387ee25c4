//! Messages, threads and reactions.

mod common;

use axum::http::Method;
use common::*;
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn members_post_strangers_and_bad_bodies_do_not(pool: PgPool) {
    let t = TestApp::new(pool);
    let w = world(&t).await;
    let path = format!("/v1/channels/{}/messages", w.channel);
    let r = t
        .post(&path, &w.member.token, json!({"body": "hello"}))
        .await
        .expect(201);
    assert_eq!(r.body["version"], 1);
    t.post(&path, &w.stranger.token, json!({"body": "hi"}))
        .await
        .expect_error(404, "not_found");
    t.post(&path, &w.member.token, json!({"body": " "}))
        .await
        .expect_error(422, "validation_failed");
    t.post(&path, &w.member.token, json!({"body": "x".repeat(40_001)}))
        .await
        .expect_error(422, "validation_failed");
    t.post(&path, &w.member.token, json!({"body": "x".repeat(40_000)}))
        .await
        .expect(201);
    t.post(&path, &w.member.token, json!({"body": "x", "parent_id": "nope"}))
        .await
        .expect_error(400, "invalid_body");
    t.post(
        &format!("/v1/channels/{}/messages", uuid::Uuid::now_v7()),
        &w.member.token,
        json!({"body": "x"}),
    )
    .await
    .expect_error(404, "not_found");
    assert_rejects_bad_input(&t, Method::POST, &path, &w.member.token, json!({"body": {"text": "x"}})).await;
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_reply_needs_a_parent_in_the_same_channel(pool: PgPool) {
    let t = TestApp::new(pool);
    let w = world(&t).await;
    let parent = t.message(w.channel, &w.member, "question").await;
    let path = format!("/v1/channels/{}/messages", w.channel);
    t.post(&path, &w.admin.token, json!({"body": "answer", "parent_id": parent}))
        .await
        .expect(201);
    let elsewhere = t.channel(w.ws, &w.owner, "elsewhere").await;
    t.post(
        &format!("/v1/channels/{elsewhere}/messages"),
        &w.admin.token,
        json!({"body": "x", "parent_id": parent}),
    )
    .await
    .expect_error(422, "invalid_parent");
    t.post(
        &path,
        &w.admin.token,
        json!({"body": "x", "parent_id": uuid::Uuid::now_v7()}),
    )
    .await
    .expect_error(422, "invalid_parent");
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn only_the_author_edits_and_a_deleted_message_stays_deleted(pool: PgPool) {
    let t = TestApp::new(pool);
    let w = world(&t).await;
    let m = t.message(w.channel, &w.member, "first").await;
    let path = format!("/v1/messages/{m}");
    t.patch(&path, &w.owner.token, json!({"body": "hijack"}))
        .await
        .expect_error(403, "forbidden");
    t.patch(&path, &w.stranger.token, json!({"body": "hijack"}))
        .await
        .expect_error(404, "not_found");
    let e = t
        .patch(&path, &w.member.token, json!({"body": "second"}))
        .await
        .expect(200);
    assert_eq!(e.body["version"], 2);
    assert_rejects_bad_input(&t, Method::PATCH, &path, &w.member.token, json!({"body": 7})).await;
    // A member cannot delete someone else's message; an admin can.
    let other = t.message(w.channel, &w.owner, "owner's").await;
    t.delete(&format!("/v1/messages/{other}"), &w.member.token)
        .await
        .expect_error(403, "forbidden");
    t.delete(&format!("/v1/messages/{other}"), &w.admin.token)
        .await
        .expect(200);
    t.delete(&path, &w.stranger.token).await.expect_error(404, "not_found");
    t.delete(&path, &w.member.token).await.expect(200);
    t.patch(&path, &w.member.token, json!({"body": "third"}))
        .await
        .expect_error(404, "not_found");
    t.delete(&path, &w.member.token).await.expect_error(404, "not_found");
    t.post(&format!("{path}/reactions"), &w.member.token, json!({"emoji": "👍"}))
        .await
        .expect_error(404, "not_found");
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn reactions_toggle(pool: PgPool) {
    let t = TestApp::new(pool);
    let w = world(&t).await;
    let m = t.message(w.channel, &w.member, "react to me").await;
    let path = format!("/v1/messages/{m}/reactions");
    assert_eq!(
        t.post(&path, &w.admin.token, json!({"emoji": "👍"}))
            .await
            .expect(200)
            .body["added"],
        true
    );
    assert_eq!(
        t.post(&path, &w.owner.token, json!({"emoji": "👍"}))
            .await
            .expect(200)
            .body["added"],
        true
    );
    assert_eq!(
        t.post(&path, &w.admin.token, json!({"emoji": "👍"}))
            .await
            .expect(200)
            .body["added"],
        false
    );
    t.post(&path, &w.admin.token, json!({"emoji": "not an emoji"}))
        .await
        .expect_error(422, "validation_failed");
    t.post(&path, &w.stranger.token, json!({"emoji": "👍"}))
        .await
        .expect_error(404, "not_found");
    assert_rejects_bad_input(&t, Method::POST, &path, &w.admin.token, json!({"emoji": 1})).await;
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn concurrent_reactions_on_one_message_all_land(pool: PgPool) {
    let t = TestApp::new(pool);
    let w = world(&t).await;
    let m = t.message(w.channel, &w.member, "popular").await;
    let mut users = Vec::new();
    for i in 0..12 {
        let u = t.register(&format!("fan{i}")).await;
        t.join(w.ws, &w.code, &u).await;
        users.push(u);
    }
    let path = format!("/v1/messages/{m}/reactions");
    // Every request races for the same aggregate version; losers reload and decide again.
    let answers =
        futures::future::join_all(users.iter().map(|u| t.post(&path, &u.token, json!({"emoji": "🎉"})))).await;
    for a in answers {
        assert_eq!(a.expect(200).body["added"], true);
    }
    assert_eq!(t.event_count(m).await, 13, "created + one toggle per fan");
}
