//! Turns: a thought in, three reframes and a micro-action out from the built-in provider; the
//! safety gate answers crisis text with resources and reframes nothing; a turn is its author's.

mod common;

use axum::body::Body;
use axum::http::{Method, Request};
use common::*;
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_thought_gets_three_reframes_and_can_be_saved_by_its_author_only(pool: PgPool) {
    let t = TestApp::new(pool);
    let ann = t.register("ann").await;
    let bob = t.register("bob").await;
    let r = t
        .post(
            "/v1/turns",
            &ann.token,
            json!({"text": "I always mess up presentations."}),
        )
        .await
        .expect(201);
    assert_eq!(r.body["crisis"], false);
    let reframes = r.body["reframes"].as_array().expect("reframes");
    assert_eq!(reframes.len(), 3);
    assert!(reframes.iter().all(|x| x.as_str().is_some_and(|s| !s.is_empty())));
    assert!(r.body["micro_action"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(r.body["version"], 2, "requested, then reframed");
    let id = r.id();
    let events: Vec<String> =
        sqlx::query_scalar("SELECT event_type FROM events WHERE aggregate_id = $1 ORDER BY sequence")
            .bind(id)
            .fetch_all(&t.pool)
            .await
            .expect("events");
    assert_eq!(events, vec!["turn.requested", "turn.reframed"]);

    let save = format!("/v1/turns/{id}/save");
    t.post(&save, &bob.token, json!({}))
        .await
        .expect_error(404, "not_found");
    t.post(&save, &ann.token, json!({})).await.expect(200);
    t.post("/v1/turns/not-a-uuid/save", &ann.token, json!({}))
        .await
        .expect(400);
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn crisis_text_gets_resources_and_nothing_reframed(pool: PgPool) {
    let t = TestApp::new(pool);
    let ann = t.register("ann").await;
    let r = t
        .post(
            "/v1/turns",
            &ann.token,
            json!({"text": "I don't want to live anymore."}),
        )
        .await
        .expect(200);
    assert_eq!(r.body["crisis"], true);
    assert!(r.body["resources"].as_array().is_some_and(|a| !a.is_empty()));
    assert!(r.body.get("reframes").is_none());
    let id = r.id();
    let stored: Vec<(String, String)> =
        sqlx::query_as("SELECT event_type, payload::text FROM events WHERE aggregate_id = $1 ORDER BY sequence")
            .bind(id)
            .fetch_all(&t.pool)
            .await
            .expect("events");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].0, "safety.crisis_detected");
    // Neither the text nor which of the gate's phrases it matched: only how many signals.
    for word in ["anymore", "live", "want"] {
        assert!(
            !stored[0].1.contains(word),
            "the crisis text itself is not kept: {}",
            stored[0].1
        );
    }
    let payload: serde_json::Value = serde_json::from_str(&stored[0].1).expect("json");
    assert!(payload["signals"].as_u64().is_some_and(|n| n >= 1), "{payload}");
    // It cannot be saved: there is nothing reframed to keep.
    t.post(&format!("/v1/turns/{id}/save"), &ann.token, json!({}))
        .await
        .expect_error(422, "not_reframed");
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn bad_input_is_refused(pool: PgPool) {
    let t = TestApp::new(pool);
    let ann = t.register("ann").await;
    t.post("/v1/turns", &ann.token, json!({"text": ""}))
        .await
        .expect_error(422, "validation_failed");
    let long = "x".repeat(8_001);
    t.post("/v1/turns", &ann.token, json!({"text": long}))
        .await
        .expect_error(422, "validation_failed");
    assert_rejects_bad_input(&t, Method::POST, "/v1/turns", &ann.token, json!({"text": 5})).await;
    let res = t
        .send(
            Request::builder()
                .method(Method::POST)
                .uri("/v1/turns")
                .header("content-type", "application/json")
                .body(Body::from(r#"{"text":"hi"}"#))
                .expect("request"),
        )
        .await;
    assert_eq!(res.status.as_u16(), 401);
    // Idempotent: the same key, the same answer, one turn.
    let key = |body: &str| {
        Request::builder()
            .method(Method::POST)
            .uri("/v1/turns")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {}", ann.token))
            .header("idempotency-key", "turn-1")
            .body(Body::from(body.to_owned()))
            .expect("request")
    };
    let first = t.send(key(r#"{"text":"Nobody ever listens to me."}"#)).await;
    let again = t.send(key(r#"{"text":"Nobody ever listens to me."}"#)).await;
    assert_eq!(first.status.as_u16(), 201);
    assert_eq!(first.body, again.body);
    let turns: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT aggregate_id) FROM events WHERE aggregate_type = 'turn'")
            .fetch_one(&t.pool)
            .await
            .expect("count");
    assert_eq!(turns, 1);
}

/// A model for the second stage: its safety reading is set per test; reframes are fixed.
async fn safety_model(reading: &'static str) -> (String, std::sync::Arc<std::sync::atomic::AtomicU32>) {
    use std::sync::atomic::{AtomicU32, Ordering};
    let safety_calls = std::sync::Arc::new(AtomicU32::new(0));
    let calls = safety_calls.clone();
    let url = fake_model(move |system: String| {
        let calls = calls.clone();
        async move {
            if system.contains("self-harm risk") {
                calls.fetch_add(1, Ordering::SeqCst);
                if reading == "slow" {
                    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                }
                reading.to_owned()
            } else {
                json!({"reframes": ["one", "two", "three"], "micro_action": "breathe"}).to_string()
            }
        }
    })
    .await;
    (url, safety_calls)
}

fn with_model(pool: PgPool, url: String) -> TestApp {
    use prism_ai_gateway::http::{HttpConfig, HttpProvider};
    let cfg = HttpConfig {
        safety_timeout: std::time::Duration::from_millis(300),
        ..HttpConfig::new(url, "test-model")
    };
    TestApp::with(pool, |c| c.with_model(HttpProvider::new(cfg).expect("provider")))
}

/// Risk signals below crisis: distress the rules read as a concern.
const SIGNALS: &str = "Everything feels hopeless and empty lately, the dishes can wait.";

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_model_that_reads_crisis_raises_the_gate_and_the_event_says_so(pool: PgPool) {
    let (url, calls) = safety_model(r#"{"level": "crisis", "categories": ["indirect"]}"#).await;
    let t = with_model(pool, url);
    let ann = t.register("ann").await;
    assert_eq!(
        prism_domain::safety::assess(SIGNALS).level,
        prism_domain::safety::Level::Concern
    );
    let r = t
        .post("/v1/turns", &ann.token, json!({"text": SIGNALS}))
        .await
        .expect(200);
    assert_eq!(r.body["crisis"], true);
    assert!(r.body.get("reframes").is_none());
    let payload = t.crisis_event().await;
    assert_eq!(payload["by_model"], true);
    assert_eq!(payload["categories"], json!(["indirect"]));
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    // Counted for operators by level, stage and category: never a word of the text.
    let m = t.metrics().await;
    assert!(
        m.contains(r#"prism_safety_assessments_total{level="crisis",stage="model"}"#),
        "{m}"
    );
    assert!(
        m.contains(r#"prism_safety_crisis_categories_total{category="indirect"}"#),
        "{m}"
    );
    assert!(!m.contains("hopeless"));
    // Text with no risk signal at all never goes to the model for a reading.
    t.post(
        "/v1/turns",
        &ann.token,
        json!({"text": "I always mess up presentations."}),
    )
    .await
    .expect(201);
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_model_that_agrees_refuses_times_out_or_answers_garbage_changes_nothing(pool: PgPool) {
    for reading in [
        r#"{"level": "concern", "categories": []}"#,
        "I cannot help with that",
        "slow",
        r#"{"level": 7}"#,
    ] {
        let (url, calls) = safety_model(reading).await;
        let t = with_model(pool.clone(), url);
        let ann = t.register(&format!("ann{}", reading.len())).await;
        let started = std::time::Instant::now();
        let r = t
            .post("/v1/turns", &ann.token, json!({"text": SIGNALS}))
            .await
            .expect(201);
        assert_eq!(r.body["crisis"], false, "{reading}: the rules' concern stands");
        assert_eq!(r.body["reframes"], json!(["one", "two", "three"]));
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1, "{reading}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(4),
            "{reading}: never kept waiting"
        );
        // And a model saying "none" never lowers a crisis the rules found.
        let r = t
            .post("/v1/turns", &ann.token, json!({"text": "I want to kill myself"}))
            .await
            .expect(200);
        assert_eq!(r.body["crisis"], true);
    }
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn catastrophising_about_a_setback_is_reframed_with_a_check_in_and_risk_beside_it_is_a_crisis(pool: PgPool) {
    let t = TestApp::new(pool);
    let ann = t.register("ann").await;
    let setback = "My boss frowned, so I'm definitely getting fired and my life is over";
    let r = t
        .post("/v1/turns", &ann.token, json!({ "text": setback }))
        .await
        .expect(201);
    assert_eq!(r.body["crisis"], false);
    assert_eq!(r.body["reframes"].as_array().map(Vec::len), Some(3));
    let check_in = &r.body["check_in"];
    assert!(
        check_in["message"].as_str().is_some_and(|m| m.contains("alone")),
        "{}",
        r.body
    );
    assert!(check_in["resources"].as_array().is_some_and(|l| !l.is_empty()));
    // The same in a mirror session: fragments, and the check-in beside them.
    let s = t
        .post("/v1/mirror/sessions", &ann.token, json!({}))
        .await
        .expect(201)
        .id();
    let m = t
        .post(
            &format!("/v1/mirror/sessions/{s}/messages"),
            &ann.token,
            json!({ "text": setback }),
        )
        .await
        .expect(201);
    assert_eq!(m.body["crisis"], false);
    assert!(m.body["check_in"]["message"].is_string(), "{}", m.body);
    // Intent said plainly in the same entry: the crisis answer, nothing reframed.
    let r = t
        .post(
            "/v1/turns",
            &ann.token,
            json!({ "text": format!("{setback}. I'm going to kill myself tonight.") }),
        )
        .await
        .expect(200);
    assert_eq!(r.body["crisis"], true);
    assert!(r.body.get("reframes").is_none() && r.body.get("check_in").is_none());
    // An ordinary thought gets no check-in.
    let r = t
        .post(
            "/v1/turns",
            &ann.token,
            json!({"text": "I always mess up presentations."}),
        )
        .await
        .expect(201);
    assert!(r.body.get("check_in").is_none(), "{}", r.body);
}

/// The embedded semantic stage reads phrasings no rule names: with its model installed, a turn
/// the rules alone would reframe gets the crisis answer, and the event says a model raised it.
#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn the_semantic_stage_raises_what_the_rules_miss(pool: PgPool) {
    let dir = std::env::var("PRISM_SAFETY_MODEL_DIR").expect("PRISM_SAFETY_MODEL_DIR (scripts/test fetches the model)");
    let semantic = std::sync::Arc::new(prism_safety_model::Semantic::load(dir.as_ref()).expect("the model loads"));
    let text = "the bottle of pills is on my nightstand and tonight I finally stop being a problem";
    assert!(
        !prism_domain::safety::assess(text).is_crisis(),
        "the rules alone miss it"
    );
    let t = TestApp::with(pool, |c| c.with_semantic(semantic));
    let ann = t.register("ann").await;
    let r = t
        .post("/v1/turns", &ann.token, json!({ "text": text }))
        .await
        .expect(200);
    assert_eq!(r.body["crisis"], true);
    assert!(r.body.get("reframes").is_none());
    let payload = t.crisis_event().await;
    assert_eq!(payload["by_model"], true);
    assert!(!payload.to_string().contains("nightstand"), "never the words");
    let m = t.metrics().await;
    assert!(
        m.contains(r#"prism_safety_assessments_total{level="crisis",stage="semantic"}"#),
        "{m}"
    );
    // And it never lowers: hyperbole about a setback stays a concern with its check-in.
    let r = t
        .post(
            "/v1/turns",
            &ann.token,
            json!({"text": "My boss frowned, so I'm definitely getting fired and my life is over"}),
        )
        .await
        .expect(201);
    assert!(r.body["check_in"].is_object(), "{}", r.body);
}

/// Text in a language the gate cannot read is never silently safe: it is counted, and the
/// answer carries the check-in and where help is.
#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_language_the_gate_cannot_read_is_counted_and_checked_in_on(pool: PgPool) {
    let t = TestApp::new(pool);
    let ann = t.register("ann").await;
    let r = t
        .post(
            "/v1/turns",
            &ann.token,
            json!({"text": "Я больше не могу так жить, всё кажется бессмысленным и тяжёлым."}),
        )
        .await
        .expect(201);
    assert!(r.body["check_in"]["resources"].is_array(), "{}", r.body);
    let m = t.metrics().await;
    assert!(
        m.contains(r#"prism_safety_unreadable_language_total{language="rus"}"#),
        "{m}"
    );
    assert!(!m.contains("жить"));
    // German crisis language is read.
    let r = t
        .post("/v1/turns", &ann.token, json!({"text": "Ich will nicht mehr leben."}))
        .await
        .expect(200);
    assert_eq!(r.body["crisis"], true);
}
