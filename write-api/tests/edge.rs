//! The edge as a raw socket sees it: slow and malformed clients get an answer in the error
//! JSON, or a closed connection, never a held one. The write API runs behind the same server
//! loop as in production (`prism_telemetry::edge::serve`), with short timeouts.

mod common;

use std::time::{Duration, Instant};

use common::*;
use prism_telemetry::edge::EdgeConfig;
use serde_json::Value;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Long enough for any answer here; the timeouts under test are a second or three.
const GUARD: Duration = Duration::from_secs(20);

async fn serve(pool: PgPool, cors: Vec<String>) -> std::net::SocketAddr {
    let t = TestApp::new(pool);
    let edge = EdgeConfig {
        header_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(3),
        cors_origins: cors,
    };
    let app = prism_write_api::app(prism_write_api::AppState::new(t.commands.clone()).with_edge(edge.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        prism_telemetry::edge::serve(listener, app, &edge, std::future::pending(), Duration::from_secs(1))
            .await
            .expect("serve");
    });
    addr
}

/// Sends `bytes`, then reads until the server closes the connection (or the guard fires).
async fn exchange(addr: std::net::SocketAddr, bytes: &[u8]) -> (String, Duration) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(bytes).await.expect("write");
    let start = Instant::now();
    let mut out = Vec::new();
    let read = tokio::time::timeout(GUARD, async {
        let mut buf = [0u8; 8192];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the server held the connection: {}",
        String::from_utf8_lossy(&out)
    );
    (String::from_utf8_lossy(&out).into_owned(), start.elapsed())
}

fn status_and_json(answer: &str) -> (u16, Value) {
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {answer:?}"));
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
    // A chunked body: the JSON is the line that starts with `{`.
    let json = body.lines().find(|l| l.starts_with('{')).unwrap_or(body);
    (status, serde_json::from_str(json).unwrap_or(Value::Null))
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn slow_clients_get_an_answer_or_a_closed_connection(pool: PgPool) {
    let addr = serve(pool, vec![]).await;

    // Headers that never finish: closed after the header timeout.
    let (answer, took) = exchange(addr, b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-").await;
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(!answer.starts_with("HTTP/1.1 2"), "{answer}");

    // A body announced and never sent: 408 in the error JSON.
    let (answer, _) = exchange(
        addr,
        b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n{\"email\":",
    )
    .await;
    let (status, json) = status_and_json(&answer);
    assert_eq!(
        (status, json["error"]["code"].as_str()),
        (408, Some("request_timeout")),
        "{answer}"
    );

    // Ten megabytes announced, ten bytes sent: refused at once for its size.
    let (answer, _) = exchange(
        addr,
        b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10485760\r\nConnection: close\r\n\r\n0123456789",
    )
    .await;
    let (status, json) = status_and_json(&answer);
    assert_eq!(
        (status, json["error"]["code"].as_str()),
        (413, Some("payload_too_large")),
        "{answer}"
    );

    // An idle keep-alive connection is closed, not kept forever.
    let (answer, took) = exchange(addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn protocol_errors_carry_the_error_json(pool: PgPool) {
    let addr = serve(pool, vec![]).await;
    let (answer, _) = exchange(
        addr,
        b"PUT /v1/workspaces HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    let (status, json) = status_and_json(&answer);
    assert_eq!(
        (status, json["error"]["code"].as_str()),
        (405, Some("method_not_allowed")),
        "{answer}"
    );
    assert!(answer.to_lowercase().contains("\r\nallow: "), "{answer}");

    let long = format!(
        "GET /v1/{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "a".repeat(10_000)
    );
    let (answer, _) = exchange(addr, long.as_bytes()).await;
    let (status, json) = status_and_json(&answer);
    assert_eq!(
        (status, json["error"]["code"].as_str()),
        (414, Some("uri_too_long")),
        "{answer}"
    );

    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "b".repeat(40_000)
    );
    let (answer, _) = exchange(addr, big.as_bytes()).await;
    let (status, json) = status_and_json(&answer);
    assert_eq!(
        (status, json["error"]["code"].as_str()),
        (431, Some("headers_too_large")),
        "{answer}"
    );

    // A made-up method is one more 405, and no new metrics series.
    let (answer, _) = exchange(
        addr,
        b"BREW /v1/workspaces HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    let (status, json) = status_and_json(&answer);
    assert_eq!(
        (status, json["error"]["code"].as_str()),
        (405, Some("method_not_allowed")),
        "{answer}"
    );
    let (metrics, _) = exchange(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert!(metrics.contains("prism_http_requests_total"), "{metrics}");
    assert!(metrics.contains("method=\"other\""), "{metrics}");
    assert!(
        !metrics.contains("BREW"),
        "a client-made method became a label: {metrics}"
    );
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn cors_answers_only_the_allowed_origins(pool: PgPool) {
    let addr = serve(pool, vec!["https://app.example".into()]).await;
    let preflight = |origin: &str| {
        format!(
            "OPTIONS /v1/auth/login HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\nConnection: close\r\n\r\n"
        )
    };
    let (answer, _) = exchange(addr, preflight("https://app.example").as_bytes()).await;
    let lower = answer.to_lowercase();
    assert!(
        lower.contains("access-control-allow-origin: https://app.example"),
        "{answer}"
    );
    let (answer, _) = exchange(addr, preflight("https://evil.example").as_bytes()).await;
    assert!(
        !answer.to_lowercase().contains("access-control-allow-origin"),
        "{answer}"
    );
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn without_an_allow_list_there_is_no_cors(pool: PgPool) {
    let addr = serve(pool, vec![]).await;
    let (answer, _) = exchange(
        addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        !answer.to_lowercase().contains("access-control-allow-origin"),
        "{answer}"
    );
}
