//! A command's answer as HTTP: its status, `{id, position, version, …}`, the new version as
//! `ETag` (for the next `If-Match`), and `Idempotent-Replayed` on a repeat.

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use prism_commands::Outcome;

pub struct Answer(pub Outcome);

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::OK);
        let etag = HeaderValue::from_str(&format!("\"{}\"", self.0.version())).ok();
        let replayed = self.0.replayed;
        let mut res = if status == StatusCode::NO_CONTENT {
            status.into_response()
        } else {
            (status, axum::Json(self.0.body)).into_response()
        };
        if let Some(etag) = etag {
            res.headers_mut().insert(axum::http::header::ETAG, etag);
        }
        if replayed {
            res.headers_mut().insert(
                HeaderName::from_static("idempotent-replayed"),
                HeaderValue::from_static("true"),
            );
        }
        res
    }
}

impl From<Outcome> for Answer {
    fn from(o: Outcome) -> Self {
        Self(o)
    }
}

pub type ApiResult = Result<Answer, crate::error::ApiError>;
