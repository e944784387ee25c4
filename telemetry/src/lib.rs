//! Telemetry shared by the write and read APIs: one Prometheus recorder per process (so
//! `prism serve`, which runs both, renders both services' metrics) and the per-request
//! metrics middleware. It may import axum and the metrics crates only.

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
    let method = req.method().to_string();
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
