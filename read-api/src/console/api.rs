//! Calls to the read API's own router, in process, as the caller: the console's only way to
//! data.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Request, StatusCode};
use axum::Router;
use serde_json::Value;
use tower::ServiceExt;

use crate::AppState;

/// The largest answer the console renders from (a page of 1000 events is well under it).
const MAX_ANSWER: usize = 16 << 20;

#[derive(Clone)]
pub(super) struct Api {
    router: Router,
    state: AppState,
}

/// An answer of the API: its status, its JSON, and the position it was read at.
pub(super) struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub position: Option<i64>,
}

impl Answer {
    pub fn ok(&self) -> bool {
        self.status.is_success()
    }

    /// The API's own words for a refusal (`error.message`), or its status.
    pub fn message(&self) -> String {
        self.body["error"]["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| self.status.to_string())
    }
}

/// The caller as the API sees them: the bearer header, passed on as it came.
#[derive(Clone)]
pub(super) struct Caller(Option<HeaderValue>);

impl Caller {
    pub fn of(headers: &HeaderMap) -> Self {
        Self(headers.get(header::AUTHORIZATION).cloned())
    }
}

impl Api {
    pub fn new(router: Router, state: AppState) -> Self {
        Self { router, state }
    }

    /// Whether the caller holds the platform `auditor` role, by the same verification the API
    /// applies (only to choose what to offer: every answer still comes from the API).
    pub fn auditor(&self, caller: &Caller) -> bool {
        let mut h = HeaderMap::new();
        if let Some(v) = &caller.0 {
            h.insert(header::AUTHORIZATION, v.clone());
        }
        crate::extract::claims(&h, &self.state).is_ok_and(|c| c.roles.iter().any(|r| r == "auditor"))
    }

    /// `GET path?query` as `caller`. `query` pairs with an empty value are left out.
    pub async fn get(&self, caller: &Caller, path: &str, query: &[(&str, String)]) -> Answer {
        let query: Vec<_> = query.iter().filter(|(_, v)| !v.is_empty()).collect();
        let uri = match serde_urlencoded::to_string(&query) {
            Ok(q) if !q.is_empty() => format!("{path}?{q}"),
            _ => path.to_owned(),
        };
        let mut req = Request::get(uri);
        if let Some(v) = &caller.0 {
            req = req.header(header::AUTHORIZATION, v.clone());
        }
        let Ok(req) = req.body(Body::empty()) else {
            return Answer::refused(StatusCode::BAD_REQUEST, "that is not a path the console can ask for");
        };
        let res = match self.router.clone().oneshot(req).await {
            Ok(res) => res,
            Err(never) => match never {},
        };
        let status = res.status();
        let position = res
            .headers()
            .get("x-projection-position")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let body = match axum::body::to_bytes(res.into_body(), MAX_ANSWER).await {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            Err(_) => return Answer::refused(StatusCode::BAD_GATEWAY, "the answer was too large to show"),
        };
        Answer { status, body, position }
    }
}

impl Answer {
    fn refused(status: StatusCode, message: &str) -> Self {
        Self {
            status,
            body: serde_json::json!({"error": {"code": "console", "message": message}}),
            position: None,
        }
    }
}
