//! Errors as HTTP: one JSON shape, `{"error": {"code", "message"}}`, and one function that
//! decides every status ([`status_code`]).

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use prism_commands::CommandError;
use prism_domain::DomainError;
use serde_json::json;

/// An error answer.
#[derive(Debug)]
pub enum ApiError {
    Command(CommandError),
    /// The request itself is malformed (bad JSON, wrong types, a bad header). → 400
    BadRequest {
        code: &'static str,
        message: String,
    },
    /// Missing, expired or invalid credentials. → 401
    Unauthenticated {
        code: &'static str,
        message: &'static str,
    },
    /// Authenticated, but this kind of principal may not do this (an API key outside what keys
    /// may do, or an impersonation where only the user may act). → 403
    NotAllowed {
        code: &'static str,
        message: &'static str,
    },
    /// The body is larger than the limit. → 413
    TooLarge,
    /// The body is not JSON. → 415
    UnsupportedMediaType,
    NotFound,
    /// Over a rate limit (`crate::limits`). → 429 with `Retry-After`
    RateLimited {
        retry_after: u64,
    },
    /// The body stalled (see `prism_telemetry::edge`). → 408
    RequestTimeout,
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }
}

/// The one place an error becomes a status and a code.
pub fn status_code(e: &ApiError) -> (StatusCode, &'static str) {
    use CommandError as C;
    match e {
        ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
        ApiError::Unauthenticated { code, .. } => (StatusCode::UNAUTHORIZED, code),
        ApiError::NotAllowed { code, .. } => (StatusCode::FORBIDDEN, code),
        ApiError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        ApiError::UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
        ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        ApiError::RequestTimeout => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
        ApiError::Command(c) => match c {
            C::Domain(DomainError::Invalid { .. }) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            C::Domain(DomainError::NotFound(_)) => (StatusCode::NOT_FOUND, "not_found"),
            C::Domain(DomainError::Forbidden(_)) => (StatusCode::FORBIDDEN, "forbidden"),
            C::Domain(DomainError::Rule { code, .. }) => (StatusCode::UNPROCESSABLE_ENTITY, code),
            C::Domain(DomainError::Conflict { code, .. }) => (StatusCode::CONFLICT, code),
            C::Conflict { .. } | C::DuplicateRequest => (StatusCode::CONFLICT, "conflict"),
            C::PreconditionFailed { .. } => (StatusCode::PRECONDITION_FAILED, "precondition_failed"),
            C::Taken(_) => (StatusCode::CONFLICT, "already_exists"),
            C::IdempotencyKeyReused => (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused"),
            C::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            C::InvalidToken(_) => (StatusCode::BAD_REQUEST, "invalid_token"),
            C::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            C::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "event_too_large"),
            C::TooManyAttempts { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
            C::Busy => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            C::QuotaExceeded { .. } => (StatusCode::TOO_MANY_REQUESTS, "quota_exceeded"),
            C::Erased => (StatusCode::UNAUTHORIZED, "account_erased"),
            C::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        },
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = status_code(&self);
        let message = match &self {
            ApiError::BadRequest { message, .. } => message.clone(),
            ApiError::Unauthenticated { message, .. } | ApiError::NotAllowed { message, .. } => (*message).to_owned(),
            ApiError::TooLarge => "the request body is too large".into(),
            ApiError::UnsupportedMediaType => "send the body as application/json".into(),
            ApiError::NotFound => "no such resource".into(),
            ApiError::RateLimited { retry_after } => format!("too many requests; retry in {retry_after} s"),
            ApiError::RequestTimeout => "the request body did not arrive in time".into(),
            ApiError::Command(CommandError::Internal(detail)) => {
                // The detail goes to the log, not to the client.
                tracing::error!(error = %detail, "internal error");
                "something went wrong on our side".into()
            }
            ApiError::Command(CommandError::Unavailable(detail)) => {
                tracing::warn!(error = %detail, "dependency unavailable");
                "a dependency is unavailable; try again shortly".into()
            }
            ApiError::Command(c) => c.to_string(),
        };
        let mut error = json!({"code": code, "message": message});
        let mut retry_after = None;
        let mut retry_after_secs: Option<i64> = None;
        if let ApiError::Command(CommandError::QuotaExceeded { resets_at, .. }) = &self {
            // When the allowance starts over, for clients and for `Retry-After`.
            error["resets_at"] = json!(resets_at);
            retry_after = Some((*resets_at - chrono::Utc::now()).num_seconds().max(1));
        }
        match &self {
            ApiError::RateLimited { retry_after } => retry_after_secs = Some(*retry_after as i64),
            ApiError::Command(CommandError::TooManyAttempts { retry_after }) => {
                retry_after_secs = Some((*retry_after).max(1))
            }
            _ => {}
        }
        if let Some(secs) = retry_after_secs {
            retry_after = Some(secs);
        }
        let mut res = (status, axum::Json(json!({ "error": error }))).into_response();
        if let Some(secs) = retry_after.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
            res.headers_mut().insert(header::RETRY_AFTER, secs);
        }
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE && !res.headers().contains_key(header::RETRY_AFTER) {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        res
    }
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        Self::Command(e)
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        Self::Command(CommandError::Domain(e))
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::JsonSyntaxError(e) => Self::bad_request("malformed_json", e.body_text()),
            JsonRejection::JsonDataError(e) => Self::bad_request("invalid_body", e.body_text()),
            JsonRejection::MissingJsonContentType(_) => Self::UnsupportedMediaType,
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => Self::TooLarge,
            other if timed_out(&other) => Self::RequestTimeout,
            other => Self::bad_request("invalid_body", other.body_text()),
        }
    }
}

/// Whether reading the body failed because it stalled (the edge's body timeout).
fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(e) = cur {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cur = e.source();
    }
    false
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        Self::bad_request("invalid_id", format!("the path is not valid: {}", r.body_text()))
    }
}
