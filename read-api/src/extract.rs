//! Extractors: the caller (same JWT as the write API), path and query parameters with our
//! error answers, and list paging.

use axum::extract::{FromRequestParts, Query};
use axum::http::header;
use axum::http::request::Parts;
use prism_auth::{Bearer, KeyRefusal};
use prism_domain::aggregates::KeyScope;
use prism_domain::{UserId, WorkspaceId};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::ReadError;
use crate::AppState;

#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ReadError))]
pub struct ApiPath<T>(pub T);

/// The caller's user id: a person (themselves, or an admin impersonating them). API keys are
/// refused: a route takes keys only by asking for a [`Reader`].
pub struct Caller(pub UserId);

/// A person reading for themselves — no API key, no impersonation: journals, everything of
/// reflection, and the export of their data are theirs alone.
pub struct Myself(pub UserId);

/// The caller, with whether the token carries the platform `auditor` role (may read every
/// workspace's history and audit trail).
pub struct Principal {
    pub user: UserId,
    pub auditor: bool,
    /// A platform admin acting as `user` (an impersonation).
    pub impersonated: bool,
}

/// Who reads a workspace's content: a person, or an API key with the `read` scope, which sees
/// what a member of its own workspace sees (and nothing of direct conversations).
#[derive(Debug, Clone, Copy)]
pub enum Reader {
    User(UserId),
    Key { key: Uuid, workspace: WorkspaceId },
}

impl From<UserId> for Reader {
    fn from(u: UserId) -> Self {
        Self::User(u)
    }
}

const KEY_NOT_ALLOWED: ReadError = ReadError::NotAllowed {
    code: "api_key_not_allowed",
    message: "API keys read only their workspace's channels, messages, members and docs",
};

/// Verifies the request's bearer (an access token or an API key, counted against the key's
/// allowance).
pub async fn authenticate(headers: &axum::http::HeaderMap, state: &AppState) -> Result<Bearer, ReadError> {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    prism_auth::authenticate(authorization, &state.jwt, &state.revocations, &state.keys)
        .await
        .map_err(|r| match r {
            KeyRefusal::Bearer(r) => ReadError::Unauthenticated {
                code: r.code(),
                message: r.message(),
            },
            KeyRefusal::Limited(wait) => ReadError::TooMany {
                code: "rate_limited",
                message: "too many requests with this API key; slow down",
                retry_after: wait.as_secs().max(1),
            },
        })
}

/// The bearer, as the consistency layer verified it (or verified now, for routes outside it).
async fn bearer(parts: &Parts, state: &AppState) -> Result<Bearer, ReadError> {
    match parts.extensions.get::<Bearer>() {
        Some(b) => Ok(b.clone()),
        None => authenticate(&parts.headers, state).await,
    }
}

/// The claims of a person's token; an API key is refused.
async fn person(parts: &Parts, state: &AppState) -> Result<prism_auth::Claims, ReadError> {
    match bearer(parts, state).await? {
        Bearer::User(c) => Ok(c),
        Bearer::Key(_) => Err(KEY_NOT_ALLOWED),
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ReadError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self(UserId(person(parts, state).await?.sub)))
    }
}

impl FromRequestParts<AppState> for Myself {
    type Rejection = ReadError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let c = person(parts, state).await?;
        if c.act.is_some() {
            return Err(ReadError::NotAllowed {
                code: "impersonation_not_allowed",
                message: "not under impersonation: this is the user's alone",
            });
        }
        Ok(Self(UserId(c.sub)))
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ReadError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let c = person(parts, state).await?;
        Ok(Self {
            user: UserId(c.sub),
            auditor: c.roles.iter().any(|r| r == "auditor"),
            impersonated: c.act.is_some(),
        })
    }
}

impl FromRequestParts<AppState> for Reader {
    type Rejection = ReadError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match bearer(parts, state).await? {
            Bearer::User(c) => Ok(Self::User(UserId(c.sub))),
            Bearer::Key(k) if !k.allows(KeyScope::Read) => Err(ReadError::NotAllowed {
                code: "insufficient_scope",
                message: "this API key lacks the read scope",
            }),
            Bearer::Key(k) => {
                state.key_used(k.key_id);
                Ok(Self::Key {
                    key: k.key_id,
                    workspace: WorkspaceId(k.workspace),
                })
            }
        }
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

/// A position as a header or query parameter carries it: 1–18 ASCII digits (the contract's
/// `prism_telemetry::contract::POSITION_PATTERN`), nothing else.
pub fn position(text: &str) -> Option<i64> {
    let t = text.trim();
    ((1..=18).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit()))
        .then(|| t.parse().ok())
        .flatten()
}

/// `?limit=&cursor=`: at most `limit` (1–200, default 50) items after the opaque cursor.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the page before.
    #[param(value_type = Option<uuid::Uuid>)]
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
