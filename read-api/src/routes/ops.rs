//! `/healthz`, `/readyz` (Postgres answers and no projection is halted), the JSON 404.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use crate::error::ReadError;
use crate::AppState;

pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

pub async fn readyz(State(s): State<AppState>) -> impl IntoResponse {
    match prism_projections::status::all(&s.pool).await {
        Ok(all) => {
            let halted: Vec<_> = all
                .iter()
                .filter(|(st, _)| st.halted_at.is_some())
                .map(|(st, _)| st.name.clone())
                .collect();
            let projections: Vec<_> = all
                .iter()
                .map(|(st, lag)| json!({"name": st.name, "position": st.position, "lag": lag, "last_error": st.last_error}))
                .collect();
            let status = if halted.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            (
                status,
                Json(
                    json!({"status": if halted.is_empty() { "ready" } else { "degraded" }, "projections": projections}),
                ),
            )
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "checks": {"postgres": "unreachable"}})),
        ),
    }
}

pub async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    let text = s.metrics.as_ref().map(|m| m.render()).unwrap_or_default();
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

pub async fn openapi() -> impl IntoResponse {
    Json(<crate::ReadApiDoc as utoipa::OpenApi>::openapi())
}

pub async fn fallback() -> ReadError {
    ReadError::NotFound
}
