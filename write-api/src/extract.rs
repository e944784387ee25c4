//! Extractors: JSON and path parameters with our error answers, the authenticated caller, and
//! the headers every command honours.

use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, Method};
use prism_auth::{Bearer, KeyRefusal};
use prism_commands::{Actor, ActorKind, CommandContext, Expected};
use prism_domain::aggregates::KeyScope;
use prism_domain::{UserId, WorkspaceId};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::ApiError;
use crate::AppState;

/// `axum::Json` whose rejections are our 400/413/415 answers.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// `axum::extract::Path` whose rejections are a 400 `invalid_id`.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// A person, from `Authorization: Bearer <access token>` (their own or, under an impersonation,
/// an admin's acting as them). API keys are refused here: a route takes keys only by asking
/// for [`MemberOrKey`], so a new route is closed to keys until someone decides otherwise.
pub struct Authenticated(pub Actor);

/// A person acting for themselves: no API key and no impersonation. For what is theirs alone —
/// journals and everything reflection, their password, their data's export and erasure.
pub struct Myself(pub Actor);

/// A person, or an API key with the `write` scope: what a workspace's channels, messages,
/// reactions and docs accept. Commands then hold a key to its own workspace, as a member.
pub struct MemberOrKey(pub Actor);

const KEY_NOT_ALLOWED: ApiError = ApiError::NotAllowed {
    code: "api_key_not_allowed",
    message: "API keys act only on their workspace's channels, messages, reactions and docs",
};

/// Authenticates the request's bearer (token or key), counting it against its session's or
/// key's allowance; with whether a key may write.
async fn principal(parts: &Parts, state: &AppState) -> Result<(Actor, bool), ApiError> {
    let authorization = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let bearer = prism_auth::authenticate(authorization, &state.jwt, &state.revocations, &state.keys)
        .await
        .map_err(|r| match r {
            KeyRefusal::Bearer(r) => ApiError::Unauthenticated {
                code: r.code(),
                message: r.message(),
            },
            KeyRefusal::Limited(wait) => ApiError::RateLimited {
                retry_after: wait.as_secs().max(1),
            },
        })?;
    match bearer {
        Bearer::User(claims) => {
            // Every command is counted against its session's allowance.
            state
                .limits
                .check(crate::limits::Limit::CommandsSession, &claims.sid.to_string())?;
            let actor = Actor {
                user_id: UserId(claims.sub),
                session: (!claims.sid.is_nil()).then_some(claims.sid),
                kind: ActorKind::User,
                impersonator: claims.act.map(|a| UserId(a.sub)),
            };
            Ok((actor, true))
        }
        Bearer::Key(key) => {
            let actor = Actor {
                user_id: UserId(key.key_id),
                session: None,
                kind: ActorKind::ApiKey {
                    workspace: WorkspaceId(key.workspace),
                },
                impersonator: None,
            };
            Ok((actor, key.allows(KeyScope::Write)))
        }
    }
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let (actor, _) = principal(parts, state).await?;
        match actor.kind {
            ActorKind::User => Ok(Self(actor)),
            // No request is ever the system; `principal` makes only the two above.
            ActorKind::ApiKey { .. } | ActorKind::System => Err(KEY_NOT_ALLOWED),
        }
    }
}

impl FromRequestParts<AppState> for Myself {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Authenticated(actor) = Authenticated::from_request_parts(parts, state).await?;
        if actor.impersonator.is_some() {
            return Err(ApiError::NotAllowed {
                code: "impersonation_not_allowed",
                message: "not under impersonation: this is the user's alone",
            });
        }
        Ok(Self(actor))
    }
}

impl FromRequestParts<AppState> for MemberOrKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match principal(parts, state).await? {
            (actor, true) => Ok(Self(actor)),
            (_, false) => Err(ApiError::NotAllowed {
                code: "insufficient_scope",
                message: "this API key lacks the write scope",
            }),
        }
    }
}

/// The client's address (see [`crate::limits::Limits::client_ip`]).
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self(state.limits.client_ip(parts)))
    }
}

/// `Idempotency-Key`, `If-Match` and the request id, as sent with a command.
pub struct CommandHeaders {
    method: Method,
    path: String,
    idempotency_key: Option<String>,
    if_match: Option<i64>,
    request_id: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for CommandHeaders {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let text = |name: &str| parts.headers.get(name).map(|v| v.to_str().map(str::to_owned));
        let idempotency_key = match text("idempotency-key") {
            None => None,
            Some(Ok(k)) if (1..=255).contains(&k.len()) && k.chars().all(|c| c.is_ascii_graphic()) => Some(k),
            Some(_) => {
                return Err(ApiError::bad_request(
                    "invalid_idempotency_key",
                    "Idempotency-Key must be 1–255 visible ASCII characters",
                ))
            }
        };
        let if_match = match text("if-match") {
            None => None,
            Some(Ok(v)) => Some(parse_if_match(&v).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_if_match",
                    "If-Match must be the version as an entity tag, e.g. \"3\"",
                )
            })?),
            Some(Err(_)) => return Err(ApiError::bad_request("invalid_if_match", "If-Match must be ASCII")),
        };
        let request_id = parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(Self {
            method: parts.method.clone(),
            path: parts.uri.path().to_owned(),
            idempotency_key,
            if_match,
            request_id,
        })
    }
}

fn parse_if_match(v: &str) -> Option<i64> {
    let v = v.trim().trim_start_matches("W/").trim_matches('"');
    v.parse::<i64>().ok().filter(|n| *n >= 0)
}

impl CommandHeaders {
    /// The command context for `actor`; `input` goes into the idempotency fingerprint so that
    /// a key reused with another request is caught.
    pub fn context(&self, actor: Actor, input: &impl Serialize) -> CommandContext {
        let mut ctx = CommandContext::new(actor.user_id);
        ctx.actor = actor;
        ctx.request_id = self.request_id.clone();
        ctx.expected = self.if_match.map_or(Expected::Current, Expected::Exactly);
        ctx.correlation_id = self
            .request_id
            .as_deref()
            .and_then(|r| r.parse::<Uuid>().ok())
            .unwrap_or_else(Uuid::now_v7);
        if let Some(key) = &self.idempotency_key {
            let mut h = Sha256::new();
            h.update(self.method.as_str());
            h.update(b" ");
            h.update(&self.path);
            h.update(b"\n");
            h.update(serde_json::to_vec(input).unwrap_or_default());
            ctx.idempotency = Some((key.clone(), hex::encode(h.finalize())));
        }
        ctx
    }
}

#[cfg(test)]
mod tests {
    use super::parse_if_match;

    #[test]
    fn if_match_forms() {
        assert_eq!(parse_if_match("\"3\""), Some(3));
        assert_eq!(parse_if_match("W/\"12\""), Some(12));
        assert_eq!(parse_if_match("7"), Some(7));
        assert_eq!(parse_if_match("\"x\""), None);
        assert_eq!(parse_if_match("-1"), None);
    }
}
