//! Read errors as HTTP, in the same JSON shape as the write API; one `status_code()`.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug)]
pub enum ReadError {
    BadRequest {
        code: &'static str,
        message: String,
    },
    Unauthenticated {
        code: &'static str,
        message: &'static str,
    },
    /// Not there, or not the caller's to see (never says which).
    NotFound,
    /// The caller may see the resource exists but not read this (e.g. a member asking for the
    /// audit trail, which is for admins and owners).
    Forbidden(&'static str),
    /// Authenticated, but this kind of principal may not read this (an API key outside its
    /// workspace's content, an impersonation reaching for what is the user's alone). → 403
    NotAllowed {
        code: &'static str,
        message: &'static str,
    },
    /// The request is well formed but the log has not reached what it names (a position no
    /// write has answered yet). → 409
    NotReached {
        code: &'static str,
        message: String,
    },
    /// The projections have not reached the asked position in time.
    ProjectionBehind {
        wanted: i64,
        at: i64,
    },
    Unavailable(String),
    /// A limit was reached; try again after `retry_after` seconds.
    TooMany {
        code: &'static str,
        message: &'static str,
        retry_after: u64,
    },
    /// A bug or corrupt data (e.g. a sealed value that fails authentication). → 500
    Internal(String),
}

pub fn status_code(e: &ReadError) -> (StatusCode, &'static str) {
    match e {
        ReadError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
        ReadError::Unauthenticated { code, .. } => (StatusCode::UNAUTHORIZED, code),
        ReadError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
        ReadError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
        ReadError::NotAllowed { code, .. } => (StatusCode::FORBIDDEN, code),
        ReadError::NotReached { code, .. } => (StatusCode::CONFLICT, code),
        ReadError::ProjectionBehind { .. } => (StatusCode::SERVICE_UNAVAILABLE, "projection_behind"),
        ReadError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        ReadError::TooMany { code, .. } => (StatusCode::TOO_MANY_REQUESTS, code),
        ReadError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

impl IntoResponse for ReadError {
    fn into_response(self) -> Response {
        let (status, code) = status_code(&self);
        let message = match &self {
            ReadError::BadRequest { message, .. } | ReadError::NotReached { message, .. } => message.clone(),
            ReadError::Unauthenticated { message, .. } | ReadError::NotAllowed { message, .. } => (*message).to_owned(),
            ReadError::NotFound => "no such resource".into(),
            ReadError::Forbidden(why) => (*why).to_owned(),
            ReadError::ProjectionBehind { wanted, at } => {
                format!("the read models are at position {at}, not yet {wanted}; retry shortly")
            }
            ReadError::TooMany { message, .. } => (*message).to_owned(),
            ReadError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "read failed");
                "a dependency is unavailable; try again shortly".into()
            }
            ReadError::Internal(detail) => {
                tracing::error!(error = %detail, "read failed");
                "something went wrong on our side".into()
            }
        };
        let retry_after = match &self {
            ReadError::TooMany { retry_after, .. } => Some(*retry_after),
            _ => None,
        };
        let mut res = (status, axum::Json(json!({"error": {"code": code, "message": message}}))).into_response();
        if let Some(secs) = retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        match status {
            StatusCode::UNAUTHORIZED => {
                res.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        res
    }
}

impl ReadError {
    pub fn bad(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }
}

impl From<prism_projections::ProjectionError> for ReadError {
    fn from(e: prism_projections::ProjectionError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

impl From<prism_vault::VaultError> for ReadError {
    fn from(e: prism_vault::VaultError) -> Self {
        match e {
            prism_vault::VaultError::Db(e) => e.into(),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<sqlx::Error> for ReadError {
    fn from(e: sqlx::Error) -> Self {
        Self::Unavailable(e.to_string())
    }
}

impl From<PathRejection> for ReadError {
    fn from(r: PathRejection) -> Self {
        Self::BadRequest {
            code: "invalid_id",
            message: r.body_text(),
        }
    }
}

impl From<QueryRejection> for ReadError {
    fn from(r: QueryRejection) -> Self {
        Self::BadRequest {
            code: "invalid_query",
            message: r.body_text(),
        }
    }
}
