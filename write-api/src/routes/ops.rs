//! Operations: `/healthz` (the process is up), `/readyz` (its dependencies answer),
//! `/metrics` (Prometheus text), `/openapi.json`, and the JSON 404 for unknown routes.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use crate::error::ApiError;
use crate::AppState;

pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

pub async fn readyz(State(s): State<AppState>) -> impl IntoResponse {
    match tokio::time::timeout(Duration::from_secs(2), s.commands.ping()).await {
        Ok(Ok(())) => (
            StatusCode::OK,
            Json(json!({"status": "ready", "checks": {"postgres": "ok"}})),
        ),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(
                json!({"status": "unavailable", "checks": {"postgres": "unreachable"}, "error": {"code": "unavailable", "message": "postgres is unreachable"}}),
            ),
        ),
    }
}

pub async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
}

pub async fn openapi() -> impl IntoResponse {
    Json(crate::openapi::document())
}

pub async fn fallback() -> ApiError {
    ApiError::NotFound
}
