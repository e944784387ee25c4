//! `/healthz`, `/readyz` (Postgres answers and no projection is halted), the JSON 404.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use crate::error::ReadError;
use crate::AppState;

pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// How long a relay may fail to publish (a NATS restart, a reconnect) before the node says it
/// is not ready.
const RELAY_GRACE_SECS: i64 = 10;

/// Ready when Postgres answers, no projection is halted and no relay is stuck. Anyone gets the
/// status; only a platform auditor's token gets the details (positions, lags, error texts).
pub async fn readyz(State(s): State<AppState>, headers: HeaderMap) -> impl IntoResponse {
    let detailed = crate::extract::claims(&headers, &s).is_ok_and(|c| c.roles.iter().any(|r| r == "auditor"));
    let (projections, relays) = match tokio::try_join!(
        prism_projections::status::all(&s.pool),
        prism_projections::status::relays(&s.pool)
    ) {
        Ok(both) => both,
        Err(_) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(
                    json!({"status": "unavailable", "error": {"code": "unavailable", "message": "postgres is unreachable"}}),
                ),
            )
        }
    };
    let halted = projections.iter().any(|(st, _)| st.halted_at.is_some());
    let stuck = relays
        .iter()
        .any(|r| r.stuck(chrono::Duration::seconds(RELAY_GRACE_SECS)));
    let ready = !halted && !stuck;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = json!({"status": if ready { "ready" } else { "degraded" }});
    if !ready {
        body["error"] = json!({"code": "unavailable", "message": if stuck { "the relay cannot publish" } else { "a projection is halted" }});
    }
    if detailed {
        body["projections"] = projections
            .iter()
            .map(|(st, lag)| json!({"name": st.name, "position": st.position, "lag": lag, "last_error": st.last_error}))
            .collect();
        body["relays"] = json!(relays);
    }
    (status, Json(body))
}

pub async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    let text = s.metrics.as_ref().map(|m| m.render()).unwrap_or_default();
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

pub async fn openapi() -> impl IntoResponse {
    Json(crate::openapi_json())
}

pub async fn fallback() -> ReadError {
    ReadError::NotFound
}
