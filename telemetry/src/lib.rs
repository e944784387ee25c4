//! Telemetry shared by the write and read APIs: one Prometheus recorder per process (so
//! `prism serve`, which runs both, renders both services' metrics) and the per-request
//! metrics middleware, and the HTTP edge both APIs share ([`edge`]: the server loop with its
//! timeouts, protocol-level errors as JSON, CORS). It may import axum, hyper, tower and the
//! metrics crates only.

pub mod contract;
pub mod edge;

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The process-wide Prometheus recorder (installed once, however many routers are built).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (a test binary with its own); then
            // this handle renders nothing rather than failing.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Request count and latency per service, route and status. Use with
/// `axum::middleware::from_fn_with_state("write-api", record_metrics)`.
pub async fn record_metrics(State(service): State<&'static str>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    // Labels come from fixed sets only: any method string a client makes up is "other".
    let method = match req.method().as_str() {
        m @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS") => m.to_owned(),
        _ => "other".to_owned(),
    };
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let res = next.run(req).await;
    let labels = [
        ("service", service.to_owned()),
        ("method", method),
        ("route", route),
        ("status", res.status().as_u16().to_string()),
    ];
    metrics::counter!("prism_http_requests_total", &labels).increment(1);
    metrics::histogram!("prism_http_request_duration_seconds", &labels).record(start.elapsed().as_secs_f64());
    res
}

/// Drops an `X-Request-Id` that is not a reasonable id (a UUID, or at most 64 visible ASCII
/// characters), so the request-id layer after it makes a fresh one: a client cannot put 60 KB,
/// or control characters, into logs, event metadata and the audit trail. Install it outside
/// (after, in `.layer` order) `SetRequestIdLayer`.
pub async fn sanitize_request_id(mut req: Request, next: Next) -> Response {
    let bad = req.headers().get_all("x-request-id").iter().count() > 1
        || req
            .headers()
            .get("x-request-id")
            .is_some_and(|v| !valid_request_id(v.as_bytes()));
    if bad {
        req.headers_mut().remove("x-request-id");
    }
    next.run(req).await
}

/// A UUID, or 1–64 visible ASCII characters.
pub fn valid_request_id(v: &[u8]) -> bool {
    (1..=64).contains(&v.len()) && v.iter().all(|b| b.is_ascii_graphic())
}
