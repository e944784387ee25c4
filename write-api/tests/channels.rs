//! Channels: admins manage them; names are unique per workspace.

mod common;

use axum::http::Method;
use common::*;
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn admins_create_channels_members_and_strangers_cannot(pool: PgPool) {
    let t = TestApp::new(pool);
    let w = world(&t).await;
    let path = format!("/v1/workspaces/{}/channels", w.ws);
    t.post(&path, &w.member.token, json!({"name": "random"}))
        .await
        .expect_error(403, "forbidden");
    t.post(&path, &w.stranger.token, json!({"name": "random"}))
        .await
        .expect_error(404, "not_found");
    t.post(&path, &w.admin.token, json!({"name": "#Random"}))
        .await
        .expect(201);
    t.post(&path, &w.admin.token, json!({"name": "two words"}))
        .await
        .expect_error(422, "validation_failed");
    assert_rejects_bad_input(&t, Method::POST, &path, &w.admin.token, json!({"name": null})).await;
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn channel_names_are_unique_per_workspace_and_freed_by_rename_and_delete(pool: PgPool) {
    let t = TestApp::new(pool);
    let w = world(&t).await;
    let path = format!("/v1/workspaces/{}/channels", w.ws);
    t.post(&path, &w.admin.token, json!({"name": "GENERAL"}))
        .await
        .expect_error(409, "already_exists");
    // Another workspace may have its own #general.
    let (other, _) = t.workspace(&w.stranger).await;
    t.channel(other, &w.stranger, "general").await;
    // Renaming frees the old name.
    t.patch(
        &format!("/v1/channels/{}", w.channel),
        &w.admin.token,
        json!({"name": "lobby"}),
    )
    .await
    .expect(200);
    let again = t.channel(w.ws, &w.admin, "general").await;
    t.patch(
        &format!("/v1/channels/{again}"),
        &w.admin.token,
        json!({"name": "lobby"}),
    )
    .await
    .expect_error(409, "already_exists");
    // Deleting frees it too.
    t.delete(&format!("/v1/channels/{}", w.channel), &w.member.token)
        .await
        .expect_error(403, "forbidden");
    t.delete(&format!("/v1/channels/{}", w.channel), &w.stranger.token)
        .await
        .expect_error(404, "not_found");
    t.delete(&format!("/v1/channels/{}", w.channel), &w.admin.token)
        .await
        .expect(200);
    t.delete(&format!("/v1/channels/{}", w.channel), &w.admin.token)
        .await
        .expect_error(404, "not_found");
    t.patch(
        &format!("/v1/channels/{again}"),
        &w.admin.token,
        json!({"name": "lobby"}),
    )
    .await
    .expect(200);
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn another_tenants_channel_is_not_found(pool: PgPool) {
    let t = TestApp::new(pool);
    let w = world(&t).await;
    let (other, _) = t.workspace(&w.stranger).await;
    let theirs = t.channel(other, &w.stranger, "secret").await;
    t.patch(
        &format!("/v1/channels/{theirs}"),
        &w.owner.token,
        json!({"name": "mine"}),
    )
    .await
    .expect_error(404, "not_found");
    t.delete(&format!("/v1/channels/{theirs}"), &w.owner.token)
        .await
        .expect_error(404, "not_found");
    t.post(
        &format!("/v1/channels/{theirs}/messages"),
        &w.owner.token,
        json!({"body": "hi"}),
    )
    .await
    .expect_error(404, "not_found");
    assert_rejects_bad_input(
        &t,
        Method::PATCH,
        &format!("/v1/channels/{}", w.channel),
        &w.admin.token,
        json!({"name": 3}),
    )
    .await;
}
