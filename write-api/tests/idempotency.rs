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

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_deleted_session_takes_its_stored_answers_along(pool: PgPool) {
    let t = TestApp::new(pool);
    let ann = t.register("ann").await;
    let session = t
        .post("/v1/mirror/sessions", &ann.token, json!({}))
        .await
        .expect(201)
        .id();
    let text = json!({"text": "I always mess everything up and nobody ever listens to me."});
    let posted = t
        .send(post_with_key(
            &format!("/v1/mirror/sessions/{session}/messages"),
            &ann.token,
            "msg-1",
            &text,
        ))
        .await
        .expect(201);
    let fragment = posted.body["fragments"][0]["id"]
        .as_str()
        .expect("a fragment")
        .to_owned();
    let reframe_path = format!("/v1/mirror/fragments/{fragment}/reframe");
    let reframed = t
        .send(post_with_key(&reframe_path, &ann.token, "reframe-1", &json!({})))
        .await
        .expect(201);
    let reframe = reframed.body["reframe"].as_str().expect("reframe").to_owned();
    // A repeat answers the stored reframe (and the stored answer never shows its bookkeeping).
    let again = t
        .send(post_with_key(&reframe_path, &ann.token, "reframe-1", &json!({})))
        .await
        .expect(201);
    assert_eq!(again.body["reframe"], reframe.as_str());
    assert!(again.body.get("_subject").is_none(), "{}", again.body);
    let stored_with_text = |needle: String| {
        let pool = t.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM idempotency_keys WHERE response::text LIKE '%' || $1 || '%'",
            )
            .bind(needle)
            .fetch_one(&pool)
            .await
            .expect("count")
        }
    };
    assert_eq!(stored_with_text(reframe.clone()).await, 1);

    t.delete(&format!("/v1/mirror/sessions/{session}"), &ann.token)
        .await
        .expect(204);
    assert_eq!(
        stored_with_text(reframe.clone()).await,
        0,
        "the reframe outlived its session"
    );
    assert_eq!(stored_with_text(session.to_string()).await, 0);
    // Replaying the key now meets the deleted session, not its text.
    let r = t
        .send(post_with_key(&reframe_path, &ann.token, "reframe-1", &json!({})))
        .await;
    assert_eq!(r.status.as_u16(), 404, "{}", r.body);
    assert!(!r.body.to_string().contains(&reframe));
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn stored_answers_expire(pool: PgPool) {
    let t = TestApp::with(pool, |c| c.with_idempotency_ttl(std::time::Duration::ZERO));
    let w = world(&t).await;
    let path = format!("/v1/channels/{}/messages", w.channel);
    let body = json!({"body": "once"});
    let first = t
        .send(post_with_key(&path, &w.member.token, "k-exp", &body))
        .await
        .expect(201);
    // Expired at once: the key is free again, so the same request is a new message.
    let second = t
        .send(post_with_key(&path, &w.member.token, "k-exp", &body))
        .await
        .expect(201);
    assert_ne!(first.id(), second.id());
    let t2 = TestApp::with(t.pool.clone(), |c| c.with_idempotency_ttl(std::time::Duration::ZERO));
    assert!(t2.commands.sweep_idempotency().await.expect("sweep") >= 1);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM idempotency_keys")
        .fetch_one(&t.pool)
        .await
        .expect("count");
    assert_eq!(left, 0);
}

fn with_key(method: Method, path: &str, token: &str, key: &str, body: Option<&Value>) -> Request<Body> {
    TestApp::request(method, path, Some(token), body)
        .header("idempotency-key", key)
        .body(body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty))
        .expect("request")
}

/// Every command is idempotent by construction: the stored first answer is the answer itself,
/// fields the command adds included (not the aggregate's id where the answer names another).
#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_repeat_answers_what_the_first_answered_for_every_kind_of_command(pool: PgPool) {
    let t = TestApp::new(pool);
    let ann = t.register("ann").await;
    let goal = t
        .post("/v1/lens/goals", &ann.token, json!({"title": "Walk more"}))
        .await
        .expect(201)
        .id();
    let add = format!("/v1/lens/goals/{goal}/actions");
    let body = json!({"title": "Ten minutes after lunch"});
    let first = t
        .send(with_key(Method::POST, &add, &ann.token, "add-1", Some(&body)))
        .await
        .expect(201);
    let again = t
        .send(with_key(Method::POST, &add, &ann.token, "add-1", Some(&body)))
        .await
        .expect(201);
    let action = first.id();
    assert_ne!(action, goal, "the answer names the action");
    assert_eq!(again.id(), action, "the replay names the same action");
    assert_eq!(again.body["goal_id"], json!(goal));
    assert_eq!(
        again.headers.get("idempotent-replayed").and_then(|v| v.to_str().ok()),
        Some("true")
    );

    let complete = format!("/v1/lens/actions/{action}/complete");
    let done = t
        .send(with_key(
            Method::POST,
            &complete,
            &ann.token,
            "done-1",
            Some(&json!({})),
        ))
        .await
        .expect(200);
    let replayed = t
        .send(with_key(
            Method::POST,
            &complete,
            &ann.token,
            "done-1",
            Some(&json!({})),
        ))
        .await
        .expect(200);
    for answer in [&done, &replayed] {
        assert_eq!(answer.id(), action, "completing answers the action: {}", answer.body);
        assert_eq!(answer.body["goal_id"], json!(goal));
        assert_eq!(answer.body["version"], done.body["version"]);
    }
    assert_eq!(
        replayed
            .headers
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );

    // Deleting a session is idempotent too: the repeat gets the first 204, not a 404 for a
    // session already gone; without the key a repeat is a 404.
    let session = t
        .post("/v1/mirror/sessions", &ann.token, json!({}))
        .await
        .expect(201)
        .id();
    let del = format!("/v1/mirror/sessions/{session}");
    let before = t.total_events().await;
    t.send(with_key(Method::DELETE, &del, &ann.token, "del-1", None))
        .await
        .expect(204);
    let repeat = t
        .send(with_key(Method::DELETE, &del, &ann.token, "del-1", None))
        .await
        .expect(204);
    assert_eq!(
        repeat.headers.get("idempotent-replayed").and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(t.total_events().await, before + 1, "one deletion in the log");
    t.delete(&del, &ann.token).await.expect_error(404, "not_found");
}

/// `If-Match` with a stale version is a 412 before anything is appended.
#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_stale_if_match_is_refused_and_appends_nothing(pool: PgPool) {
    let t = TestApp::new(pool);
    let w = world(&t).await;
    let path = format!("/v1/workspaces/{}", w.ws);
    let before = t.total_events().await;
    let req = TestApp::request(Method::PATCH, &path, Some(&w.owner.token), Some(&json!({})))
        .header("if-match", "\"1\"")
        .body(Body::from(json!({"name": "Renamed"}).to_string()))
        .expect("request");
    t.send(req).await.expect_error(412, "precondition_failed");
    assert_eq!(t.total_events().await, before);
}
