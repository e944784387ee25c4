//! Extractors: the caller (same JWT as the write API), path and query parameters with our
//! error answers, and list paging.

use axum::extract::{FromRequestParts, Query};
use axum::http::header;
use axum::http::request::Parts;
use prism_domain::UserId;
use serde::Deserialize;
use uuid::Uuid;

use crate::error::ReadError;
use crate::AppState;

#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ReadError))]
pub struct ApiPath<T>(pub T);

/// The caller's user id.
pub struct Caller(pub UserId);

/// The caller, with whether the token carries the platform `auditor` role (may read every
/// workspace's history and audit trail).
pub struct Principal {
    pub user: UserId,
    pub auditor: bool,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ReadError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self(UserId(claims(&parts.headers, state)?.sub)))
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ReadError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let c = claims(&parts.headers, state)?;
        Ok(Self {
            user: UserId(c.sub),
            auditor: c.roles.iter().any(|r| r == "auditor"),
        })
    }
}

/// The verified claims of the request's bearer token.
pub fn claims(headers: &axum::http::HeaderMap, state: &AppState) -> Result<prism_auth::Claims, ReadError> {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    prism_auth::verify_bearer(authorization, &state.jwt, &state.revocations).map_err(|r| ReadError::Unauthenticated {
        code: r.code(),
        message: r.message(),
    })
}

/// `?limit=&cursor=`: at most `limit` (1–200, default 50) items after the opaque cursor.
#[derive(Debug, Deserialize)]
pub struct Page {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

impl Page {
    pub fn limit(&self) -> Result<i64, ReadError> {
        match self.limit {
            None => Ok(50),
            Some(n) if (1..=200).contains(&n) => Ok(n),
            Some(_) => Err(ReadError::BadRequest {
                code: "invalid_query",
                message: "limit must be between 1 and 200".into(),
            }),
        }
    }
    /// Cursors are the last item's id (ids are UUIDv7, so they order by time).
    pub fn cursor(&self) -> Result<Option<Uuid>, ReadError> {
        self.cursor
            .as_deref()
            .map(|c| {
                c.parse().map_err(|_| ReadError::BadRequest {
                    code: "invalid_cursor",
                    message: "the cursor is not one we gave".into(),
                })
            })
            .transpose()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Page {
    type Rejection = ReadError;
    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, Self::Rejection> {
        let Query(p) = Query::<Page>::from_request_parts(parts, s).await?;
        Ok(p)
    }
}

/// Query parameters, with our error answer when they do not parse.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ReadError))]
pub struct ApiQuery<T>(pub T);
