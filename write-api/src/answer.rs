//! A command's answer as HTTP: its status, `{id, position, version, …}`, the new version as
//! `ETag` (for the next `If-Match`), and `Idempotent-Replayed` on a repeat.

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use prism_commands::{Happened, Outcome};

pub struct Answer {
    outcome: Outcome,
    /// 204: the route answers no body (a deletion of the caller's own data).
    empty: bool,
}

impl Answer {
    /// The outcome as `204 No Content` (with its `ETag`).
    pub fn no_content(outcome: Outcome) -> Self {
        Self { outcome, empty: true }
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let o = self.outcome;
        // What happened, as HTTP: the one place the command side's outcome gets a status.
        let status = match (self.empty, o.happened) {
            (true, _) => StatusCode::NO_CONTENT,
            (false, Happened::Created) => StatusCode::CREATED,
            (false, Happened::Accepted) => StatusCode::ACCEPTED,
            (false, Happened::Done) => StatusCode::OK,
        };
        let etag = HeaderValue::from_str(&format!("\"{}\"", o.version)).ok();
        let mut res = if self.empty {
            status.into_response()
        } else {
            (status, axum::Json(o.body())).into_response()
        };
        if let Some(etag) = etag {
            res.headers_mut().insert(axum::http::header::ETAG, etag);
        }
        if o.replayed {
            res.headers_mut().insert(
                HeaderName::from_static("idempotent-replayed"),
                HeaderValue::from_static("true"),
            );
        }
        res
    }
}

impl From<Outcome> for Answer {
    fn from(outcome: Outcome) -> Self {
        Self { outcome, empty: false }
    }
}

pub type ApiResult = Result<Answer, crate::error::ApiError>;
