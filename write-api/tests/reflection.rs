//! Mirror sessions, lens goals, spectrum choices and quotas over HTTP: the owner's alone (anyone
//! else's id → 404), the safety gate before anything is charged or reframed, journal text
//! sealed in the log, daily allowances exact under concurrency.

mod common;

use axum::http::Method;
use common::*;
use prism_commands::reflection::Allowances;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

const THOUGHT: &str = "I always ruin everything. Everyone thinks I am useless.";

/// Every payload of the log, as text.
async fn log_text(t: &TestApp) -> String {
    let all: Vec<String> = sqlx::query_scalar("SELECT payload::text FROM events ORDER BY global_position")
        .fetch_all(&t.pool)
        .await
        .expect("events");
    all.join("\n")
}

/// How many events of this type the log holds.
async fn count(t: &TestApp, event_type: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = $1")
        .bind(event_type)
        .fetch_one(&t.pool)
        .await
        .expect("count")
}

/// A new mirror session of `user`'s.
async fn session(t: &TestApp, user: &User) -> uuid::Uuid {
    t.post("/v1/mirror/sessions", &user.token, json!({}))
        .await
        .expect(201)
        .id()
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_mirror_session_from_start_to_delete_is_its_owners_alone(pool: PgPool) {
    let t = TestApp::new(pool);
    let ann = t.register("ann").await;
    let bob = t.register("bob").await;
    let s = session(&t, &ann).await;

    let msg = format!("/v1/mirror/sessions/{s}/messages");
    t.post(&msg, &bob.token, json!({"text": THOUGHT}))
        .await
        .expect_error(404, "not_found");
    let r = t.post(&msg, &ann.token, json!({"text": THOUGHT})).await.expect(201);
    assert_eq!(r.body["crisis"], false);
    let fragments = r.body["fragments"].as_array().expect("fragments").clone();
    assert!(fragments.len() >= 2, "the built-in provider finds the cues: {}", r.body);
    for f in &fragments {
        let (start, end) = (f["start"].as_u64().expect("start"), f["end"].as_u64().expect("end"));
        assert!(start < end && end as usize <= THOUGHT.chars().count());
        assert!(f["category"].as_str().is_some_and(|c| !c.is_empty()));
    }
    // The text is sealed in the log: nothing of it shows in any payload.
    let log = log_text(&t).await;
    assert!(
        !log.contains("ruin") && !log.contains("useless"),
        "plaintext in the log"
    );

    let fid = fragments[0]["id"].as_str().expect("id").to_owned();
    let reframe = format!("/v1/mirror/fragments/{fid}/reframe");
    t.post(&reframe, &bob.token, json!({}))
        .await
        .expect_error(404, "not_found");
    let r = t.post(&reframe, &ann.token, json!({})).await.expect(201);
    assert!(r.body["reframe"].as_str().is_some_and(|s| !s.is_empty()));
    t.post(&reframe, &ann.token, json!({}))
        .await
        .expect_error(409, "already_reframed");
    t.post(
        &format!("/v1/mirror/fragments/{}/reframe", Uuid::now_v7()),
        &ann.token,
        json!({}),
    )
    .await
    .expect_error(404, "not_found");

    // Closing: no body at all, or a reflection; bob cannot.
    let close = format!("/v1/mirror/sessions/{s}/close");
    t.post(&close, &bob.token, json!({}))
        .await
        .expect_error(404, "not_found");
    t.raw(Method::POST, &close, Some(&ann.token), "{\"reflection\": 5}")
        .await
        .expect_error(400, "invalid_body");
    t.post(&close, &ann.token, json!({"reflection": "x".repeat(8_001)}))
        .await
        .expect_error(422, "validation_failed");
    t.raw(Method::POST, &close, Some(&ann.token), "").await.expect(200);
    t.post(&msg, &ann.token, json!({"text": "one more"}))
        .await
        .expect_error(422, "session_closed");

    let del = format!("/v1/mirror/sessions/{s}");
    t.delete(&del, &bob.token).await.expect_error(404, "not_found");
    let r = t.delete(&del, &ann.token).await.expect(204);
    assert_eq!(r.body, serde_json::Value::Null, "204 has no body");
    t.delete(&del, &ann.token).await.expect_error(404, "not_found");
    t.post(&msg, &ann.token, json!({"text": THOUGHT}))
        .await
        .expect_error(404, "not_found");
    // The session's own key is gone.
    let shredded: bool = sqlx::query_scalar("SELECT wrapped IS NULL FROM data_keys WHERE scope_id = $1")
        .bind(s)
        .fetch_one(&t.pool)
        .await
        .expect("key row");
    assert!(shredded);
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn crisis_in_a_session_gets_resources_and_is_neither_kept_nor_charged(pool: PgPool) {
    let t = TestApp::with(pool, |c| {
        c.with_allowances(Allowances::parse("free.mirror_message=0").expect("spec"))
            .with_crisis_resources(vec!["Call 988".into()])
    });
    let ann = t.register("ann").await;
    let s = session(&t, &ann).await;
    let msg = format!("/v1/mirror/sessions/{s}/messages");
    // With no allowance left at all, a person in crisis is still answered.
    let r = t
        .post(
            &msg,
            &ann.token,
            json!({"text": "Honestly, I want to end my life tonight"}),
        )
        .await
        .expect(200);
    assert_eq!(r.body["crisis"], true);
    assert_eq!(r.body["resources"], json!(["Call 988"]));
    assert!(r.body.get("fragments").is_none());
    let types: Vec<String> =
        sqlx::query_scalar("SELECT event_type FROM events WHERE aggregate_id = $1 ORDER BY sequence")
            .bind(s)
            .fetch_all(&t.pool)
            .await
            .expect("events");
    assert_eq!(types, ["mirror_session.started", "safety.crisis_detected"]);
    // Only which phrase of the gate's own table matched is logged, never the person's words.
    let log = log_text(&t).await;
    assert!(!log.contains("Honestly") && !log.contains("tonight"));
    // Anything else is over the (zero) allowance.
    let r = t
        .post(&msg, &ann.token, json!({"text": THOUGHT}))
        .await
        .expect_error(429, "quota_exceeded");
    assert!(r.body["error"]["resets_at"].as_str().is_some());
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn quotas_hold_exactly_under_concurrency_and_plans_raise_them(pool: PgPool) {
    let t = TestApp::with(pool, |c| {
        c.with_allowances(Allowances::parse("free.turn=5,prism.turn=8").expect("spec"))
    });
    let ann = t.register("ann").await;
    let bob = t.register("bob").await;
    let answers = futures::future::join_all((0..20).map(|i| {
        t.post(
            "/v1/turns",
            &ann.token,
            json!({"text": format!("I never get anything right, take {i}")}),
        )
    }))
    .await;
    let ok = answers.iter().filter(|r| r.status.as_u16() == 201).count();
    let limited: Vec<_> = answers.iter().filter(|r| r.status.as_u16() == 429).collect();
    assert_eq!((ok, limited.len()), (5, 15), "exactly the allowance goes through");
    let r = limited[0];
    assert_eq!(r.code(), "quota_exceeded");
    let resets: chrono::DateTime<chrono::Utc> = r.body["error"]["resets_at"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("resets_at");
    assert_eq!(
        resets.date_naive(),
        chrono::Utc::now().date_naive() + chrono::Duration::days(1)
    );
    assert!(r.headers.get("retry-after").is_some());
    let used: i32 = sqlx::query_scalar("SELECT used FROM usage_counters WHERE user_id = $1 AND feature = 'turn'")
        .bind(ann.id)
        .fetch_one(&t.pool)
        .await
        .expect("counter");
    assert_eq!(used, 5);
    assert_eq!(count(&t, "turn.requested").await, 5);
    // Another user has their own allowance.
    t.post("/v1/turns", &bob.token, json!({"text": "I should be better"}))
        .await
        .expect(201);
    // A failed command gives its charge back: bob's turn text is too long → nothing charged.
    t.post("/v1/turns", &bob.token, json!({"text": "x".repeat(8_001)}))
        .await
        .expect_error(422, "validation_failed");

    // An operator moves ann to the prism plan: three more today.
    assert!(t
        .commands
        .set_plan(prism_domain::UserId(ann.id), "prism")
        .await
        .expect("plan"));
    assert!(!t
        .commands
        .set_plan(prism_domain::UserId(ann.id), "prism")
        .await
        .expect("same plan"));
    assert!(t.commands.set_plan(prism_domain::UserId(ann.id), "gold").await.is_err());
    assert!(t.commands.set_plan(prism_domain::UserId::new(), "prism").await.is_err());
    assert_eq!(count(&t, "entitlement.changed").await, 1);
    for _ in 0..3 {
        t.post("/v1/turns", &ann.token, json!({"text": "I must never fail"}))
            .await
            .expect(201);
    }
    t.post("/v1/turns", &ann.token, json!({"text": "I must never fail"}))
        .await
        .expect_error(429, "quota_exceeded");
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn lens_goals_and_actions_are_their_owners(pool: PgPool) {
    let t = TestApp::new(pool);
    let ann = t.register("ann").await;
    let bob = t.register("bob").await;
    let goal = t
        .post("/v1/lens/goals", &ann.token, json!({"title": "Sleep better"}))
        .await
        .expect(201)
        .id();
    let actions = format!("/v1/lens/goals/{goal}/actions");
    t.post(&actions, &bob.token, json!({"title": "No screens after ten"}))
        .await
        .expect_error(404, "not_found");
    let action = t
        .post(&actions, &ann.token, json!({"title": "No screens after ten"}))
        .await
        .expect(201)
        .id();
    assert_ne!(action, goal, "the answer names the new action");
    let complete = format!("/v1/lens/actions/{action}/complete");
    t.post(&complete, &bob.token, json!({}))
        .await
        .expect_error(404, "not_found");
    t.post(&complete, &ann.token, json!({})).await.expect(200);
    t.post(&complete, &ann.token, json!({})).await.expect(200);
    assert_eq!(
        count(&t, "lens_goal.action_completed").await,
        1,
        "completing twice changes nothing"
    );
    t.post(
        &format!("/v1/lens/actions/{}/complete", Uuid::now_v7()),
        &ann.token,
        json!({}),
    )
    .await
    .expect_error(404, "not_found");
    t.post("/v1/lens/goals", &ann.token, json!({"title": "x".repeat(201)}))
        .await
        .expect_error(422, "validation_failed");
    t.post("/v1/lens/goals", &ann.token, json!({"title": ""}))
        .await
        .expect_error(422, "validation_failed");
    assert!(!log_text(&t).await.contains("Sleep better"), "titles are sealed");
    assert_rejects_bad_input(&t, Method::POST, "/v1/lens/goals", &ann.token, json!({"title": 7})).await;
    assert_rejects_bad_input(&t, Method::POST, &actions, &ann.token, json!({"title": []})).await;
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn spectrum_exclusions_and_resets_are_events_on_the_callers_own_sessions(pool: PgPool) {
    let t = TestApp::new(pool);
    let ann = t.register("ann").await;
    let bob = t.register("bob").await;
    let s = session(&t, &ann).await;
    t.post("/v1/spectrum/exclusions", &bob.token, json!({"session_id": s}))
        .await
        .expect_error(404, "not_found");
    t.post("/v1/spectrum/exclusions", &ann.token, json!({"session_id": s}))
        .await
        .expect(200);
    t.post("/v1/spectrum/exclusions", &ann.token, json!({"session_id": s}))
        .await
        .expect(200);
    t.post("/v1/spectrum/reset", &ann.token, json!({})).await.expect(200);
    let types: Vec<String> = sqlx::query_scalar(
        "SELECT event_type FROM events WHERE aggregate_id = $1 AND event_type LIKE 'spectrum.%' ORDER BY sequence",
    )
    .bind(ann.id)
    .fetch_all(&t.pool)
    .await
    .expect("events");
    assert_eq!(types, ["spectrum.session_excluded", "spectrum.reset"]);
    assert_rejects_bad_input(
        &t,
        Method::POST,
        "/v1/spectrum/exclusions",
        &ann.token,
        json!({"session_id": "nope"}),
    )
    .await;
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn mirror_messages_refuse_bad_input(pool: PgPool) {
    let t = TestApp::new(pool);
    let ann = t.register("ann").await;
    let s = session(&t, &ann).await;
    let msg = format!("/v1/mirror/sessions/{s}/messages");
    t.post(&msg, &ann.token, json!({"text": "x".repeat(8_001)}))
        .await
        .expect_error(422, "validation_failed");
    t.post(&msg, &ann.token, json!({"text": "   "}))
        .await
        .expect_error(422, "validation_failed");
    t.post(
        "/v1/mirror/sessions/not-a-uuid/messages",
        &ann.token,
        json!({"text": "x"}),
    )
    .await
    .expect_error(400, "invalid_id");
    assert_rejects_bad_input(&t, Method::POST, &msg, &ann.token, json!({"text": 42})).await;
    // Nothing was charged for refused input.
    let used: Option<i32> = sqlx::query_scalar("SELECT used FROM usage_counters WHERE user_id = $1")
        .bind(ann.id)
        .fetch_optional(&t.pool)
        .await
        .expect("counter");
    assert_eq!(used, None);
}

/// A model that answers every chat completion with three reframes and reports its usage.
async fn fake_model() -> String {
    use axum::routing::post;
    async fn complete() -> axum::Json<serde_json::Value> {
        let content = json!({"reframes": ["one", "two", "three"], "micro_action": "breathe"}).to_string();
        axum::Json(json!({
            "choices": [{"message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 21, "completion_tokens": 9}
        }))
    }
    let app = axum::Router::new().route("/v1/chat/completions", post(complete));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn the_tokens_a_model_spends_are_metered_per_user_and_feature(pool: PgPool) {
    use prism_ai_gateway::http::{HttpConfig, HttpProvider};
    let url = fake_model().await;
    let t = TestApp::with(pool, |c| {
        c.with_model(HttpProvider::new(HttpConfig::new(url, "test-model")).expect("provider"))
    });
    let ann = t.register("ann").await;
    for _ in 0..2 {
        let r = t
            .post("/v1/turns", &ann.token, json!({"text": "I always mess up"}))
            .await
            .expect(201);
        assert_eq!(r.body["reframes"], json!(["one", "two", "three"]), "the model answered");
    }
    let row: (String, i32, i64, i64) =
        sqlx::query_as("SELECT feature, used, prompt_tokens, completion_tokens FROM usage_counters WHERE user_id = $1")
            .bind(ann.id)
            .fetch_one(&t.pool)
            .await
            .expect("counter");
    assert_eq!(row, ("turn".to_owned(), 2, 42, 18));
}
