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
        .expect_error(404, "not_found");
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
        .expect_error(404, "not_found");
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

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn erasure_ends_every_membership_and_a_sole_owner_hands_over(pool: PgPool) {
    let t = TestApp::new(pool);
    let (leaver, heir, late_admin, other) = (
        t.register("leaver").await,
        t.register("heir").await,
        t.register("late").await,
        t.register("other").await,
    );
    // Shared: the leaver is sole owner; `heir` became admin before `late_admin` joined.
    let (shared, code) = t.workspace(&leaver).await;
    t.join(shared, &code, &heir).await;
    t.set_role(shared, &leaver, &heir, "admin").await;
    t.join(shared, &code, &late_admin).await;
    t.set_role(shared, &leaver, &late_admin, "admin").await;
    // Alone: nobody to hand it to.
    let (alone, _) = t.workspace(&leaver).await;
    // Theirs: the leaver is a plain member of someone else's workspace.
    let (theirs, their_code) = t.workspace(&other).await;
    t.join(theirs, &their_code, &leaver).await;

    t.delete("/v1/me", &leaver.token).await.expect(202);

    let last_type = |ws: uuid::Uuid| {
        let pool = t.pool.clone();
        async move {
            sqlx::query_as::<_, (String, serde_json::Value)>(
                "SELECT event_type, payload FROM events WHERE aggregate_id = $1 ORDER BY sequence",
            )
            .bind(ws)
            .fetch_all(&pool)
            .await
            .expect("events")
        }
    };
    let shared_events = last_type(shared).await;
    let n = shared_events.len();
    assert_eq!(shared_events[n - 2].0, "member.role_changed");
    assert_eq!(shared_events[n - 2].1["user_id"], heir.id.to_string());
    assert_eq!(shared_events[n - 2].1["role"], "owner");
    assert_eq!(shared_events[n - 1].0, "member.left");
    assert_eq!(shared_events[n - 1].1["user_id"], leaver.id.to_string());
    // The heir is owner now: only an owner may delete the workspace.
    t.delete(&format!("/v1/workspaces/{shared}"), &heir.token)
        .await
        .expect(200);
    let alone_events = last_type(alone).await;
    assert_eq!(
        alone_events
            .iter()
            .rev()
            .take(2)
            .map(|e| e.0.as_str())
            .collect::<Vec<_>>(),
        ["workspace.deleted", "member.left"]
    );
    let theirs_events = last_type(theirs).await;
    assert_eq!(theirs_events.last().map(|e| e.0.as_str()), Some("member.left"));
    // Erasing again changes nothing.
    let before = t.total_events().await;
    let again = t.delete("/v1/me", &leaver.token).await;
    assert!(matches!(again.status.as_u16(), 202 | 401), "{}", again.body);
    assert_eq!(t.total_events().await, before);
}
