//! Read-your-writes: `X-Min-Position: N` (or `?min_position=N`) waits, bounded, until the read
//! models have applied position N; past the bound the answer is 503 `projection_behind` with
//! `Retry-After`. Every answer says where the read models stand in `X-Projection-Position`.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ReadError;
use crate::AppState;

fn min_position(req: &Request) -> Result<Option<i64>, ReadError> {
    let bad = || ReadError::BadRequest {
        code: "invalid_min_position",
        message: "min_position must be a non-negative integer".into(),
    };
    if let Some(v) = req.headers().get("x-min-position") {
        return v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .filter(|n| *n >= 0)
            .map(Some)
            .ok_or_else(bad);
    }
    for pair in req.uri().query().unwrap_or("").split('&') {
        if let Some(v) = pair.strip_prefix("min_position=") {
            return v.parse::<i64>().ok().filter(|n| *n >= 0).map(Some).ok_or_else(bad);
        }
    }
    Ok(None)
}

pub async fn consistency(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let wanted = match min_position(&req) {
        Ok(w) => w,
        Err(e) => return e.into_response(),
    };
    let position = match wanted {
        // Nothing to wait for: a position at most a few milliseconds old will do for the header.
        None => s.recent_position().await,
        Some(w) => s.wait_for(w).await,
    };
    let position = match position {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    if let Some(w) = wanted {
        if position < w {
            return ReadError::ProjectionBehind {
                wanted: w,
                at: position,
            }
            .into_response();
        }
    }
    let mut res = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&position.to_string()) {
        res.headers_mut().insert("x-projection-position", v);
    }
    res
}

impl AppState {
    /// The read models' position, refreshed at most every 5 ms across all requests.
    pub async fn recent_position(&self) -> Result<i64, ReadError> {
        {
            let cached = self.position_cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((p, at)) = *cached {
                if at.elapsed() < Duration::from_millis(5) {
                    return Ok(p);
                }
            }
        }
        let p = prism_projections::status::position(&self.pool, prism_projections::read_models::NAME).await?;
        *self.position_cache.lock().unwrap_or_else(|e| e.into_inner()) = Some((p, std::time::Instant::now()));
        Ok(p)
    }

    /// The read models' position, once it reaches `wanted` or the bound passes.
    pub async fn wait_for(&self, wanted: i64) -> Result<i64, ReadError> {
        let deadline = tokio::time::Instant::now() + self.max_wait;
        let mut pause = Duration::from_millis(1);
        loop {
            let p = prism_projections::status::position(&self.pool, prism_projections::read_models::NAME).await?;
            if p >= wanted || tokio::time::Instant::now() >= deadline {
                return Ok(p);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(10));
        }
    }
}
