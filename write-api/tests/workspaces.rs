//! Workspaces and members: the permission matrix over HTTP.

mod common;

use axum::http::Method;
use common::*;
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn creating_a_workspace_answers_id_position_version_and_join_code(pool: PgPool) {
    let t = TestApp::new(pool);
    let u = t.register("ann").await;
    let r = t
        .post("/v1/workspaces", &u.token, json!({"name": "Acme"}))
        .await
        .expect(201);
    assert_eq!(r.body["version"], 2, "created + owner joined");
    assert!(r.body["position"].as_i64().is_some_and(|p| p > 0));
    assert_eq!(r.body["join_code"].as_str().map(str::len), Some(8));
    assert_eq!(r.headers.get("etag").and_then(|v| v.to_str().ok()), Some("\"2\""));
    t.post("/v1/workspaces", &u.token, json!({"name": "  "}))
        .await
        .expect_error(422, "validation_failed");
    assert_rejects_bad_input(&t, Method::POST, "/v1/workspaces", &u.token, json!({"name": 42})).await;
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn renaming_needs_admin_and_strangers_see_nothing(pool: PgPool) {
    let t = TestApp::new(pool);
    let w = world(&t).await;
    let path = format!("/v1/workspaces/{}", w.ws);
    t.patch(&path, &w.member.token, json!({"name": "X"}))
        .await
        .expect_error(403, "forbidden");
    t.patch(&path, &w.stranger.token, json!({"name": "X"}))
        .await
        .expect_error(404, "not_found");
    t.patch(&path, &w.admin.token, json!({"name": "Renamed"}))
        .await
        .expect(200);
    t.patch("/v1/workspaces/not-a-uuid", &w.admin.token, json!({"name": "X"}))
        .await
        .expect_error(400, "invalid_id");
    t.patch(
        &format!("/v1/workspaces/{}", uuid::Uuid::now_v7()),
        &w.admin.token,
        json!({"name": "X"}),
    )
    .await
    .expect_error(404, "not_found");
    assert_rejects_bad_input(&t, Method::PATCH, &path, &w.admin.token, json!({"name": ["X"]})).await;
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn only_an_owner_deletes_and_then_everything_is_gone(pool: PgPool) {
    let t = TestApp::new(pool);
    let w = world(&t).await;
    let path = format!("/v1/workspaces/{}", w.ws);
    t.delete(&path, &w.admin.token).await.expect_error(403, "forbidden");
    t.delete(&path, &w.stranger.token).await.expect_error(404, "not_found");
    t.delete(&path, &w.owner.token).await.expect(200);
    t.patch(&path, &w.owner.token, json!({"name": "X"}))
        .await
        .expect_error(404, "not_found");
    t.post(
        &format!("/v1/channels/{}/messages", w.channel),
        &w.member.token,
        json!({"body": "hi"}),
    )
    .await
    .expect_error(404, "not_found");
    t.post(
        &format!("/v1/workspaces/{}/join", w.ws),
        &w.stranger.token,
        json!({"join_code": w.code}),
    )
    .await
    .expect_error(404, "not_found");
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn joining_takes_the_current_code(pool: PgPool) {
    let t = TestApp::new(pool);
    let w = world(&t).await;
    let join = format!("/v1/workspaces/{}/join", w.ws);
    t.post(&join, &w.stranger.token, json!({"join_code": "WRONG123"}))
        .await
        .expect_error(403, "forbidden");
    t.post(&join, &w.member.token, json!({"join_code": w.code}))
        .await
        .expect_error(409, "already_member");
    // Rotating: admins only; the old code stops working.
    let rotate = format!("/v1/workspaces/{}/join-code", w.ws);
    t.call(Method::POST, &rotate, Some(&w.member.token), None)
        .await
        .expect_error(403, "forbidden");
    t.call(Method::POST, &rotate, Some(&w.stranger.token), None)
        .await
        .expect_error(404, "not_found");
    let new_code = t
        .call(Method::POST, &rotate, Some(&w.admin.token), None)
        .await
        .expect(200)
        .body["join_code"]
        .as_str()
        .expect("code")
        .to_owned();
    assert_ne!(new_code, w.code);
    t.post(&join, &w.stranger.token, json!({"join_code": w.code}))
        .await
        .expect_error(403, "forbidden");
    t.post(&join, &w.stranger.token, json!({"join_code": new_code.to_lowercase()}))
        .await
        .expect(200);
    assert_rejects_bad_input(&t, Method::POST, &join, &w.stranger.token, json!({"join_code": 1})).await;
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn roles_follow_the_matrix(pool: PgPool) {
    let t = TestApp::new(pool);
    let w = world(&t).await;
    let member_path = format!("/v1/workspaces/{}/members/{}", w.ws, w.member.id);
    t.patch(&member_path, &w.member.token, json!({"role": "admin"}))
        .await
        .expect_error(403, "forbidden");
    t.patch(&member_path, &w.admin.token, json!({"role": "owner"}))
        .await
        .expect_error(403, "forbidden");
    t.patch(&member_path, &w.admin.token, json!({"role": "emperor"}))
        .await
        .expect_error(422, "validation_failed");
    t.patch(&member_path, &w.stranger.token, json!({"role": "admin"}))
        .await
        .expect_error(404, "not_found");
    t.patch(
        &format!("/v1/workspaces/{}/members/{}", w.ws, w.stranger.id),
        &w.owner.token,
        json!({"role": "admin"}),
    )
    .await
    .expect_error(404, "not_found");
    t.patch(&member_path, &w.admin.token, json!({"role": "admin"}))
        .await
        .expect(200);
    // The last owner can neither be demoted nor leave.
    let owner_path = format!("/v1/workspaces/{}/members/{}", w.ws, w.owner.id);
    t.patch(&owner_path, &w.owner.token, json!({"role": "member"}))
        .await
        .expect_error(422, "last_owner");
    t.delete(&owner_path, &w.owner.token)
        .await
        .expect_error(422, "last_owner");
    t.delete(&owner_path, &w.admin.token)
        .await
        .expect_error(403, "forbidden");
    assert_rejects_bad_input(&t, Method::PATCH, &member_path, &w.owner.token, json!({"role": true})).await;
    t.patch(
        &format!("/v1/workspaces/{}/members/nope", w.ws),
        &w.owner.token,
        json!({"role": "admin"}),
    )
    .await
    .expect_error(400, "invalid_id");
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_removed_member_cannot_post_and_a_member_may_leave(pool: PgPool) {
    let t = TestApp::new(pool);
    let w = world(&t).await;
    let post = format!("/v1/channels/{}/messages", w.channel);
    t.post(&post, &w.member.token, json!({"body": "before"}))
        .await
        .expect(201);
    // A member cannot remove another; an admin can.
    t.delete(
        &format!("/v1/workspaces/{}/members/{}", w.ws, w.admin.id),
        &w.member.token,
    )
    .await
    .expect_error(403, "forbidden");
    t.delete(
        &format!("/v1/workspaces/{}/members/{}", w.ws, w.member.id),
        &w.admin.token,
    )
    .await
    .expect(200);
    t.post(&post, &w.member.token, json!({"body": "after"}))
        .await
        .expect_error(404, "not_found");
    // The admin leaves on their own.
    t.delete(
        &format!("/v1/workspaces/{}/members/{}", w.ws, w.admin.id),
        &w.admin.token,
    )
    .await
    .expect(200);
    t.post(&post, &w.admin.token, json!({"body": "after"}))
        .await
        .expect_error(404, "not_found");
}
