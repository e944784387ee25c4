//! Operations: `/healthz` (the process is up), `/readyz` (its dependencies answer),
//! `/metrics` (Prometheus text), `/openapi.json`, and the JSON 404 for unknown routes.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use crate::error::ApiError;
use crate::AppState;

pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// Ready when Postgres answers. Anyone gets the status (what a load balancer needs); only a
/// platform auditor's token gets the checks, as on the read API.
pub async fn readyz(State(s): State<AppState>, headers: HeaderMap) -> impl IntoResponse {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let detailed = match authorization {
        None => false,
        Some(_) => matches!(
            prism_auth::authenticate(authorization, &s.jwt, &s.revocations, &s.keys).await,
            Ok(prism_auth::Bearer::User(c)) if c.roles.iter().any(|r| r == "auditor")
        ),
    };
    let up = matches!(
        tokio::time::timeout(Duration::from_secs(2), s.commands.ping()).await,
        Ok(Ok(()))
    );
    let (status, mut body) = match up {
        true => (StatusCode::OK, json!({"status": "ready"})),
        false => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "unavailable", "error": {"code": "unavailable", "message": "a dependency is unavailable"}}),
        ),
    };
    if detailed {
        body["checks"] = json!({"postgres": if up { "ok" } else { "unreachable" }});
    }
    (status, Json(body))
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
