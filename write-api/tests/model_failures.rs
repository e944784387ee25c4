//! A model that misbehaves never keeps a person waiting: each test runs a provider of its own on
//! a real socket (one that accepts and never answers, one that answers after 10 s, one that
//! resets the connection, one that answers garbage). Every turn and mirror message answers 201
//! within the request budget (plus 500 ms for everything else a request does), from the
//! built-in provider; once the breaker is open, in under 100 ms; its state is in `/metrics`; a
//! crisis sentence still gets the crisis answer; and each turn is charged once.

mod common;

use std::time::{Duration, Instant};

use common::*;
use prism_ai_gateway::http::{HttpConfig, HttpProvider};
use serde_json::json;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The tests' budget (`PRISM_AI_BUDGET_MS`): short, so the suite stays quick.
const BUDGET: Duration = Duration::from_millis(1200);
/// What a request may take beyond its model budget (the log, the vault, the edge).
const SLACK: Duration = Duration::from_millis(500);

#[derive(Clone, Copy, Debug)]
enum Misbehaviour {
    /// Accepts the connection and never answers (the most common way a model server fails).
    Stalls,
    /// Answers well, after 10 s.
    Slow,
    /// Resets the connection as soon as the request arrives.
    Resets,
    /// Answers 200 with bytes that are not JSON.
    Garbage,
}

/// Reads what a client sends until its headers end (enough to answer or reset after).
async fn read_request(s: &mut tokio::net::TcpStream) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut seen = Vec::new();
    while let Ok(n) = s.read(&mut buf).await {
        if n == 0 {
            return;
        }
        seen.extend_from_slice(&buf[..n]);
        if seen.windows(4).any(|w| w == b"\r\n\r\n") {
            return;
        }
    }
}

/// A model provider that misbehaves as told; its base URL.
async fn provider(how: Misbehaviour) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut s, _)) = listener.accept().await {
            match how {
                Misbehaviour::Stalls => held.push(s),
                Misbehaviour::Slow => {
                    tokio::spawn(async move {
                        read_request(&mut s).await;
                        tokio::time::sleep(Duration::from_secs(10)).await;
                        let content = json!({"reframes": ["a", "b", "c"], "micro_action": "d",
                            "fragments": []})
                        .to_string();
                        let body = json!({"choices": [{"message": {"content": content}}]}).to_string();
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = s.write_all(answer.as_bytes()).await;
                    });
                }
                Misbehaviour::Resets => {
                    tokio::spawn(async move {
                        read_request(&mut s).await;
                        // SO_LINGER 0: closing sends a reset, not a polite FIN.
                        let _ = s.set_zero_linger();
                        drop(s);
                    });
                }
                Misbehaviour::Garbage => {
                    tokio::spawn(async move {
                        read_request(&mut s).await;
                        let body: &[u8] = b"\x00\x01}{ not json \xff\xfe";
                        let head = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                            body.len()
                        );
                        let _ = s.write_all(head.as_bytes()).await;
                        let _ = s.write_all(body).await;
                    });
                }
            }
        }
    });
    format!("http://{addr}")
}

const THOUGHT: &str = "I always mess up presentations.";
/// Risk signals below crisis: the gate asks the model for a second reading (which fails too).
const SIGNALS: &str = "Everything feels hopeless and empty lately, the dishes can wait.";
const CRISIS: &str = "I want to kill myself tonight.";

async fn timed(t: &TestApp, path: &str, token: &str, text: &str) -> (Resp, Duration) {
    let started = Instant::now();
    let r = t.post(path, token, json!({ "text": text })).await;
    (r, started.elapsed())
}

async fn holds_within_budget(pool: PgPool, how: Misbehaviour) {
    let url = provider(how).await;
    let model = format!("{how:?}-model").to_lowercase();
    let t = TestApp::with(pool, |c| {
        c.with_model(HttpProvider::new(HttpConfig::new(url, model.clone())).expect("provider"))
            .with_ai_budget(BUDGET)
    });
    let ann = t.register("ann").await;
    let session = t
        .post("/v1/mirror/sessions", &ann.token, json!({}))
        .await
        .expect(201)
        .id();
    let messages = format!("/v1/mirror/sessions/{session}/messages");
    let mut turns = 0;

    // Until the breaker opens (three failures), each answer waits at most the budget.
    for (path, text) in [
        ("/v1/turns", THOUGHT),
        (messages.as_str(), THOUGHT),
        ("/v1/turns", SIGNALS),
    ] {
        let (r, took) = timed(&t, path, &ann.token, text).await;
        let r = r.expect(201);
        assert_eq!(r.body["crisis"], false, "{how:?} {path}");
        assert!(took <= BUDGET + SLACK, "{how:?} {path}: {took:?}");
        if path == "/v1/turns" {
            turns += 1;
            assert_eq!(
                r.body["reframes"].as_array().map(Vec::len),
                Some(3),
                "{how:?}: built-in reframes"
            );
        }
    }
    let m = t.metrics().await;
    assert!(
        m.contains(&format!("prism_ai_breaker_open{{model=\"{model}\"}} 1")),
        "{how:?}: the open breaker is shown\n{m}"
    );

    // Open: nobody waits on the model at all.
    for (path, text) in [
        ("/v1/turns", THOUGHT),
        ("/v1/turns", SIGNALS),
        (messages.as_str(), THOUGHT),
        (messages.as_str(), SIGNALS),
    ] {
        let (r, took) = timed(&t, path, &ann.token, text).await;
        r.expect(201);
        assert!(
            took < Duration::from_millis(100),
            "{how:?} {path}: {took:?} with the breaker open"
        );
        if path == "/v1/turns" {
            turns += 1;
        }
    }

    // A crisis is still a crisis, and answered at once: the rules decide it.
    for path in ["/v1/turns", messages.as_str()] {
        let (r, took) = timed(&t, path, &ann.token, CRISIS).await;
        let r = r.expect(200);
        assert_eq!(r.body["crisis"], true, "{how:?} {path}");
        assert!(took <= BUDGET + SLACK, "{how:?} {path}: {took:?}");
    }

    // Each turn answered by the built-in provider was charged once, as any turn; crises never.
    let used: i32 = sqlx::query_scalar("SELECT used FROM usage_counters WHERE user_id = $1 AND feature = 'turn'")
        .bind(ann.id)
        .fetch_one(&t.pool)
        .await
        .expect("usage");
    assert_eq!(used, turns, "{how:?}");
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_model_that_never_answers_costs_a_person_at_most_the_budget(pool: PgPool) {
    holds_within_budget(pool, Misbehaviour::Stalls).await;
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_model_that_answers_after_ten_seconds_costs_a_person_at_most_the_budget(pool: PgPool) {
    holds_within_budget(pool, Misbehaviour::Slow).await;
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_model_that_resets_connections_costs_a_person_at_most_the_budget(pool: PgPool) {
    holds_within_budget(pool, Misbehaviour::Resets).await;
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_model_that_answers_garbage_costs_a_person_at_most_the_budget(pool: PgPool) {
    holds_within_budget(pool, Misbehaviour::Garbage).await;
}
