//! The HTTP provider against a local fake of the chat-completions API (the one mock here: the
//! model is outside the system): timeouts, malformed answers, 500s, the breaker, recovery.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use prism_ai_gateway::http::{Answered, Deadline, Fallback, HttpConfig, HttpProvider};
use prism_ai_gateway::{Distortion, GatewayError, Provider};
use serde_json::{json, Value};

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Ok,
    Slow,
    NotJson,
    BadShape,
    Fail500,
}

#[derive(Clone)]
struct Fake {
    mode: Arc<Mutex<Mode>>,
    calls: Arc<AtomicU32>,
}

async fn complete(State(f): State<Fake>, Json(req): Json<Value>) -> Response {
    f.calls.fetch_add(1, Ordering::SeqCst);
    let mode = *f.mode.lock().expect("mode");
    let system = req["messages"][0]["content"].as_str().unwrap_or_default().to_owned();
    let content = if system.contains("weekly insight") {
        json!({"insight": "You showed up for yourself three times."}).to_string()
    } else if system.contains("reframes") {
        json!({"reframes": ["one", "two", "three"], "micro_action": "breathe"}).to_string()
    } else {
        json!({"fragments": [{"category": "mind_reading", "start": 0, "end": 4, "confidence": 0.8}]}).to_string()
    };
    match mode {
        Mode::Ok => {}
        Mode::Slow => tokio::time::sleep(Duration::from_millis(500)).await,
        Mode::NotJson => {
            return Json(json!({"choices": [{"message": {"content": "sure! here you go"}}]})).into_response();
        }
        Mode::BadShape => {
            let bad = json!({"fragments": [{"category": "mind_reading", "start": 0, "end": 999, "confidence": 0.8}]});
            return Json(json!({"choices": [{"message": {"content": bad.to_string()}}]})).into_response();
        }
        Mode::Fail500 => return (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
    }
    Json(json!({
        "choices": [{"message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 21, "completion_tokens": 9}
    }))
    .into_response()
}

async fn fake() -> (Fake, String) {
    let f = Fake {
        mode: Arc::new(Mutex::new(Mode::Ok)),
        calls: Arc::new(AtomicU32::new(0)),
    };
    let app = Router::new()
        .route("/v1/chat/completions", post(complete))
        .with_state(f.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (f, format!("http://{addr}"))
}

fn config(url: &str) -> HttpConfig {
    HttpConfig {
        timeout: Duration::from_millis(150),
        retries: 1,
        breaker_threshold: 2,
        breaker_cooldown: Duration::from_millis(300),
        ..HttpConfig::new(url, "test-model")
    }
}

impl Fake {
    fn set(&self, m: Mode) {
        *self.mode.lock().expect("mode") = m;
    }
    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

#[tokio::test]
async fn answers_are_parsed_validated_and_metered() {
    let (_f, url) = fake().await;
    let p = HttpProvider::new(config(&url)).expect("provider");
    let (fragments, usage) = p.detect("They hate me.").await.expect("detect");
    assert_eq!(fragments[0].category, Distortion::MindReading);
    assert_eq!((fragments[0].start, fragments[0].end), (0, 4));
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (21, 9));
    let (r, _) = p
        .reframe("They hate me.", Some(Distortion::MindReading))
        .await
        .expect("reframe");
    assert_eq!(r.reframes, ["one", "two", "three"].map(String::from));
    assert_eq!(r.micro_action, "breathe");
}

#[tokio::test]
async fn weekly_insights_come_from_counts_and_fall_back_when_the_answer_is_wrong() {
    let (f, url) = fake().await;
    let week = prism_ai_gateway::WeekSummary {
        sessions: 2,
        turns: 1,
        fragments: [("mind_reading".to_owned(), 3)].into(),
        ..Default::default()
    };
    let p = HttpProvider::new(config(&url)).expect("provider");
    let (text, usage) = p.insight(&week).await.expect("insight");
    assert_eq!(text, "You showed up for yourself three times.");
    assert_eq!(usage.completion_tokens, 9);
    let gateway = Fallback::new(Some(HttpProvider::new(config(&url)).expect("provider")));
    assert_eq!(gateway.insight(&week).await.2, Answered::Model);
    // An answer without an insight is refused, and the built-in provider writes one.
    f.set(Mode::BadShape);
    assert!(p.insight(&week).await.is_err());
    let (text, _, answered) = gateway.insight(&week).await;
    assert_eq!(answered, Answered::Builtin);
    assert!(text.contains("3 time") && text.contains("mind reading"), "{text}");
}

#[tokio::test]
async fn timeouts_malformed_answers_and_500s_are_errors_after_bounded_retries() {
    let (f, url) = fake().await;
    let p = HttpProvider::new(HttpConfig {
        breaker_threshold: 100,
        ..config(&url)
    })
    .expect("provider");
    f.set(Mode::Slow);
    assert!(matches!(p.detect("They hate me.").await, Err(GatewayError::Timeout)));
    assert_eq!(f.calls(), 2, "one try and one retry");
    f.set(Mode::NotJson);
    assert!(matches!(
        p.detect("They hate me.").await,
        Err(GatewayError::Malformed(_))
    ));
    f.set(Mode::BadShape);
    match p.detect("They hate me.").await {
        Err(GatewayError::Malformed(m)) => assert!(m.contains("does not fit"), "{m}"),
        other => panic!("expected a malformed answer, got {other:?}"),
    }
    let before = f.calls();
    f.set(Mode::Fail500);
    assert!(matches!(p.detect("x").await, Err(GatewayError::Unavailable(_))));
    assert_eq!(f.calls() - before, 2);
}

/// Polls `done` every 10 ms; fails the test after `within`.
async fn eventually(within: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let until = tokio::time::Instant::now() + within;
    while !done() {
        assert!(tokio::time::Instant::now() < until, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn the_breaker_opens_falls_back_to_the_builtin_provider_and_only_a_background_probe_closes_it() {
    let (f, url) = fake().await;
    let gw = Fallback::new(Some(HttpProvider::new(config(&url)).expect("provider")));
    let text = "Everyone must think I'm useless.";
    let (_, _, who) = gw.detect(text).await;
    assert_eq!(who, Answered::Model);

    f.set(Mode::Fail500);
    for _ in 0..2 {
        let (fragments, _, who) = gw.detect(text).await;
        assert_eq!(who, Answered::Builtin, "a failing model: the built-in answer");
        assert!(!fragments.is_empty());
    }
    let model = gw.primary.as_ref().expect("primary");
    assert!(model.is_open(), "two failures within the window open it");
    let calls = f.calls();
    let started = std::time::Instant::now();
    let (_, _, who) = gw.reframe(text, None).await;
    assert_eq!(who, Answered::Builtin);
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "an open breaker makes nobody wait"
    );
    assert_eq!(f.calls(), calls, "an open breaker keeps calls away from the model");

    // While the model still fails, the background probes fail and the breaker stays open.
    eventually(Duration::from_secs(5), "two probes", || f.calls() >= calls + 2).await;
    assert!(model.is_open());
    // The model is back: a probe, not a person's request, closes the breaker.
    f.set(Mode::Ok);
    let before = f.calls();
    eventually(Duration::from_secs(5), "the breaker closes", || !model.is_open()).await;
    assert!(f.calls() > before, "closed by a probe that reached the model");
    let (_, _, who) = gw.reframe(text, None).await;
    assert_eq!(who, Answered::Model);
}

#[tokio::test]
async fn a_request_deadline_bounds_every_attempt_and_leaves_no_retry_past_it() {
    let (f, url) = fake().await;
    let p = HttpProvider::new(HttpConfig {
        timeout: Duration::from_secs(10),
        retries: 2,
        breaker_threshold: 100,
        ..HttpConfig::new(&url, "test-model")
    })
    .expect("provider");
    f.set(Mode::Slow);
    let started = std::time::Instant::now();
    let r = p
        .detect_until("They hate me.", Deadline::after(Duration::from_millis(250)))
        .await;
    assert!(matches!(r, Err(GatewayError::Timeout)), "{r:?}");
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(f.calls(), 1, "no retry when none fits before the deadline");
    // A deadline already spent asks nothing at all.
    let r = p.reframe_until("x", None, Deadline::after(Duration::ZERO)).await;
    assert!(matches!(r, Err(GatewayError::Timeout)), "{r:?}");
    assert_eq!(f.calls(), 1);
    // The safety reading stops at the deadline too, whatever its own timeout.
    let started = std::time::Instant::now();
    assert!(p
        .assess_risk_until("x", Deadline::after(Duration::from_millis(200)))
        .await
        .is_err());
    assert!(
        started.elapsed() < Duration::from_millis(350),
        "{:?}",
        started.elapsed()
    );
}
