//! The model's safety reading against a local fake of the chat-completions API: agreement, a
//! higher level, a refusal, a timeout and garbage. Only a well-formed `{level, categories}` with
//! known categories is an answer; anything else is an error, and the gate's own answer stands.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use prism_ai_gateway::http::{Fallback, HttpConfig, HttpProvider};
use prism_ai_gateway::{GatewayError, RiskLevel};
use serde_json::{json, Value};

/// What the fake answers: a message object (content or refusal), after a delay.
#[derive(Clone)]
struct Fake(Arc<Mutex<(Value, Duration)>>);

async fn complete(State(f): State<Fake>, Json(req): Json<Value>) -> Json<Value> {
    let system = req["messages"][0]["content"].as_str().unwrap_or_default().to_owned();
    assert!(
        system.contains("suicide and self-harm risk"),
        "the safety prompt: {system}"
    );
    assert_eq!(req["response_format"]["type"], "json_object");
    let (message, delay) = f.0.lock().expect("fake").clone();
    tokio::time::sleep(delay).await;
    Json(json!({"choices": [{"message": message}], "usage": {"prompt_tokens": 40, "completion_tokens": 6}}))
}

async fn fake() -> (Fake, String) {
    let f = Fake(Arc::new(Mutex::new((json!({}), Duration::ZERO))));
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

impl Fake {
    fn says(&self, content: Value) {
        *self.0.lock().expect("fake") = (
            json!({"role": "assistant", "content": content.to_string()}),
            Duration::ZERO,
        );
    }
    fn raw(&self, message: Value, delay: Duration) {
        *self.0.lock().expect("fake") = (message, delay);
    }
}

fn provider(url: &str) -> HttpProvider {
    HttpProvider::new(HttpConfig {
        safety_timeout: Duration::from_millis(200),
        breaker_threshold: 100,
        ..HttpConfig::new(url, "test-model")
    })
    .expect("provider")
}

#[tokio::test]
async fn a_well_formed_reading_is_an_answer_with_its_usage() {
    let (f, url) = fake().await;
    let p = provider(&url);
    f.says(json!({"level": "concern", "categories": []}));
    let (r, usage) = p.assess_risk("the dishes can wait").await.expect("reading");
    assert_eq!(r.level, RiskLevel::Concern);
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (40, 6));
    f.says(json!({"level": "crisis", "categories": ["indirect", "preparation"]}));
    let (r, _) = p.assess_risk("the dishes can wait").await.expect("reading");
    assert_eq!(r.level, RiskLevel::Crisis);
    assert_eq!(r.categories, ["indirect", "preparation"]);
}

#[tokio::test]
async fn refusals_timeouts_and_garbage_are_errors() {
    let (f, url) = fake().await;
    let p = provider(&url);
    f.raw(
        json!({"role": "assistant", "content": null, "refusal": "I can't help with that."}),
        Duration::ZERO,
    );
    assert!(matches!(p.assess_risk("x").await, Err(GatewayError::Malformed(_))));
    f.raw(
        json!({"role": "assistant", "content": "{\"level\": \"crisis\"}"}),
        Duration::from_millis(600),
    );
    assert!(matches!(p.assess_risk("x").await, Err(GatewayError::Timeout)));
    for garbage in [
        json!({"level": "catastrophic"}),
        json!({"level": "crisis", "categories": ["vibes"]}),
        json!({"level": "none", "categories": [], "note": "extra fields are not the schema"}),
        json!(["crisis"]),
    ] {
        f.says(garbage.clone());
        assert!(
            matches!(p.assess_risk("x").await, Err(GatewayError::Malformed(_))),
            "{garbage} is not an answer"
        );
    }
    f.raw(
        json!({"role": "assistant", "content": "I think this person is fine"}),
        Duration::ZERO,
    );
    assert!(matches!(p.assess_risk("x").await, Err(GatewayError::Malformed(_))));
}

#[tokio::test]
async fn without_a_model_or_with_a_failing_one_there_is_no_reading() {
    let none = Fallback::new(None);
    assert!(none.assess_risk("anything", none.deadline()).await.is_none());
    let (f, url) = fake().await;
    let gw = Fallback::new(Some(provider(&url)));
    f.says(json!({"level": "crisis", "categories": ["wish_dead"]}));
    assert_eq!(
        gw.assess_risk("x", gw.deadline()).await.map(|(r, _)| r.level),
        Some(RiskLevel::Crisis)
    );
    f.raw(
        json!({"role": "assistant", "content": "{}"}),
        Duration::from_millis(600),
    );
    assert!(gw.assess_risk("x", gw.deadline()).await.is_none());
}
