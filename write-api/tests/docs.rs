//! Docs: members write; If-Match guards concurrent edits.

mod common;

use axum::body::Body;
use axum::http::{Method, Request};
use common::*;
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn members_write_docs_strangers_do_not(pool: PgPool) {
    let t = TestApp::new(pool);
    let w = world(&t).await;
    let path = format!("/v1/workspaces/{}/docs", w.ws);
    let d = t
        .post(&path, &w.member.token, json!({"title": "Plan", "body": "v1"}))
        .await
        .expect(201)
        .id();
    t.post(&path, &w.stranger.token, json!({"title": "Plan", "body": "v1"}))
        .await
        .expect_error(404, "not_found");
    t.post(&path, &w.member.token, json!({"title": "", "body": "v1"}))
        .await
        .expect_error(422, "validation_failed");
    assert_rejects_bad_input(&t, Method::POST, &path, &w.member.token, json!({"title": 1})).await;
    let doc = format!("/v1/docs/{d}");
    let r = t.patch(&doc, &w.admin.token, json!({"body": "v2"})).await.expect(200);
    assert_eq!(r.body["version"], 2);
    t.patch(&doc, &w.admin.token, json!({}))
        .await
        .expect_error(422, "validation_failed");
    t.patch(&doc, &w.stranger.token, json!({"body": "x"}))
        .await
        .expect_error(404, "not_found");
    assert_rejects_bad_input(&t, Method::PATCH, &doc, &w.admin.token, json!({"title": []})).await;
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn archived_docs_must_be_restored_before_editing(pool: PgPool) {
    let t = TestApp::new(pool);
    let w = world(&t).await;
    let d = t
        .post(
            &format!("/v1/workspaces/{}/docs", w.ws),
            &w.member.token,
            json!({"title": "Plan", "body": "v1"}),
        )
        .await
        .expect(201)
        .id();
    t.call(
        Method::POST,
        &format!("/v1/docs/{d}/archive"),
        Some(&w.member.token),
        None,
    )
    .await
    .expect(200);
    t.patch(&format!("/v1/docs/{d}"), &w.member.token, json!({"body": "v2"}))
        .await
        .expect_error(422, "doc_archived");
    t.call(
        Method::POST,
        &format!("/v1/docs/{d}/restore"),
        Some(&w.stranger.token),
        None,
    )
    .await
    .expect_error(404, "not_found");
    t.call(
        Method::POST,
        &format!("/v1/docs/{d}/restore"),
        Some(&w.member.token),
        None,
    )
    .await
    .expect(200);
    t.patch(&format!("/v1/docs/{d}"), &w.member.token, json!({"body": "v2"}))
        .await
        .expect(200);
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn only_the_author_or_an_admin_deletes(pool: PgPool) {
    let t = TestApp::new(pool);
    let w = world(&t).await;
    let d = t
        .post(
            &format!("/v1/workspaces/{}/docs", w.ws),
            &w.owner.token,
            json!({"title": "Plan"}),
        )
        .await
        .expect(201)
        .id();
    t.delete(&format!("/v1/docs/{d}"), &w.member.token)
        .await
        .expect_error(403, "forbidden");
    t.delete(&format!("/v1/docs/{d}"), &w.stranger.token)
        .await
        .expect_error(404, "not_found");
    t.delete(&format!("/v1/docs/{d}"), &w.admin.token).await.expect(200);
    t.patch(&format!("/v1/docs/{d}"), &w.owner.token, json!({"body": "x"}))
        .await
        .expect_error(404, "not_found");
}

fn patch_if_match(d: uuid::Uuid, token: &str, version: &str, body: &str) -> Request<Body> {
    Request::builder()
        .method(Method::PATCH)
        .uri(format!("/v1/docs/{d}"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("if-match", version)
        .body(Body::from(json!({"body": body}).to_string()))
        .expect("request")
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn if_match_makes_a_stale_edit_a_412(pool: PgPool) {
    let t = TestApp::new(pool);
    let w = world(&t).await;
    let d = t
        .post(
            &format!("/v1/workspaces/{}/docs", w.ws),
            &w.member.token,
            json!({"title": "Plan", "body": "v1"}),
        )
        .await
        .expect(201)
        .id();
    t.send(patch_if_match(d, &w.member.token, "\"1\"", "v2"))
        .await
        .expect(200);
    t.send(patch_if_match(d, &w.admin.token, "\"1\"", "stale"))
        .await
        .expect_error(412, "precondition_failed");
    t.send(patch_if_match(d, &w.admin.token, "one", "x"))
        .await
        .expect_error(400, "invalid_if_match");
    // Two writers with the same If-Match at once: exactly one wins.
    let (a, b) = tokio::join!(
        t.send(patch_if_match(d, &w.member.token, "\"2\"", "from member")),
        t.send(patch_if_match(d, &w.admin.token, "\"2\"", "from admin")),
    );
    let mut codes = [a.status.as_u16(), b.status.as_u16()];
    codes.sort();
    assert_eq!(codes, [200, 412]);
    assert_eq!(t.event_count(d).await, 3);
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_doc_too_large_for_the_log_is_413_and_nothing_is_written(pool: PgPool) {
    let t = TestApp::new(pool);
    let w = world(&t).await;
    let path = format!("/v1/workspaces/{}/docs", w.ws);
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&t.pool)
        .await
        .expect("count");
    // 200,000 characters (the doc limit) of four bytes each: under the 1 MiB request limit,
    // over what one event may hold.
    let body = "😀".repeat(200_000);
    t.post(&path, &w.member.token, json!({"title": "Big", "body": body}))
        .await
        .expect_error(413, "event_too_large");
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&t.pool)
        .await
        .expect("count");
    assert_eq!(before, after, "nothing half written");
    // The same doc at a size the log takes is fine.
    t.post(
        &path,
        &w.member.token,
        json!({"title": "Big", "body": "😀".repeat(100_000)}),
    )
    .await
    .expect(201);
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn control_characters_and_deceptive_names_are_422_not_500(pool: PgPool) {
    let t = TestApp::new(pool);
    let w = world(&t).await;
    let before = t.total_events().await;
    let docs = format!("/v1/workspaces/{}/docs", w.ws);
    t.post(&docs, &w.member.token, json!({"title": "Plan", "body": "a\u{0}b"}))
        .await
        .expect_error(422, "validation_failed");
    t.post(&docs, &w.member.token, json!({"title": "\u{200B}", "body": "b"}))
        .await
        .expect_error(422, "validation_failed");
    t.post(
        &format!("/v1/channels/{}/messages", w.channel),
        &w.member.token,
        json!({"body": "x\u{0}"}),
    )
    .await
    .expect_error(422, "validation_failed");
    t.post("/v1/workspaces", &w.member.token, json!({"name": "\u{202E}nimda"}))
        .await
        .expect_error(422, "validation_failed");
    t.post("/v1/workspaces", &w.member.token, json!({"name": "\u{200D}\u{FEFF} "}))
        .await
        .expect_error(422, "validation_failed");
    let r = t
        .call(
            Method::POST,
            "/v1/auth/register",
            None,
            Some(json!({"email": "zw@example.com", "password": "correct horse battery", "name": "\u{200B}"})),
        )
        .await;
    r.expect_error(422, "validation_failed");
    assert_eq!(t.total_events().await, before, "nothing half written");
}
