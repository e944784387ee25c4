//! `GET /v1/me`: the caller, with memberships.

use axum::extract::State;
use axum::Json;
use prism_projections::read_models::{users, workspaces};
use serde_json::{json, Value};

use crate::error::ReadError;
use crate::extract::{Caller, Myself};
use crate::AppState;

#[utoipa::path(get, path = "/v1/me", tag = "me", description = "the caller, with memberships", params(("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")), responses((status = 200), (status = 401), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn me(State(s): State<AppState>, Caller(user): Caller) -> Result<Json<Value>, ReadError> {
    let profile = users::profile(&s.reads(), user).await?.ok_or(ReadError::NotFound)?;
    let (mut email, mut name) = (profile.email, profile.name);
    super::open_profiles(&s, vec![(user.0, &mut email), (user.0, &mut name)]).await?;
    let memberships: Vec<Value> = workspaces::of_member(&s.reads(), user, None, i64::MAX)
        .await?
        .into_iter()
        .map(|w| json!({"workspace_id": w.id, "name": w.name, "role": w.role}))
        .collect();
    let registered_at = profile.registered_at;
    let email_verified = profile.email_verified_at.is_some();
    Ok(Json(json!({
        "user_id": user, "email": email, "email_verified": email_verified, "name": name,
        "registered_at": registered_at, "memberships": memberships
    })))
}

/// One of the caller's sessions, as they see it.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Session {
    pub id: uuid::Uuid,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// The last refresh (or the sign-in).
    pub last_used_at: chrono::DateTime<chrono::Utc>,
    pub user_agent: Option<String>,
    /// The session of the token making this request.
    pub current: bool,
}

#[utoipa::path(get, path = "/v1/me/sessions", tag = "me", description = "the caller's live sessions, newest first; `DELETE /v1/me/sessions/{id}` (write API) ends one",
    params(("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")),
    responses((status = 200, body = Sessions), (status = 401), (status = 503, description = "projection_behind")))]
pub async fn sessions(
    State(s): State<AppState>,
    Myself(user): Myself,
    headers: axum::http::HeaderMap,
) -> Result<Json<Sessions>, ReadError> {
    let current = crate::extract::claims(&headers, &s)?.sid;
    let rows = prism_projections::read_models::sessions::live(&s.reads(), user).await?;
    let o = s.vault.opener(prism_vault::Scope::user(user)).await?;
    let items = rows
        .into_iter()
        .map(|r| {
            Ok(Session {
                current: r.id == current,
                id: r.id,
                created_at: r.created_at,
                last_used_at: r.last_used_at,
                user_agent: r.user_agent.map(|ua| o.open(&ua)).transpose()?,
            })
        })
        .collect::<Result<Vec<_>, ReadError>>()?;
    Ok(Json(Sessions {
        items,
        next_cursor: None,
    }))
}

/// The caller's sessions (one page: a person has few).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Sessions {
    pub items: Vec<Session>,
    pub next_cursor: Option<String>,
}

/// An impersonation of the caller's account by a platform admin.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Impersonation {
    pub id: uuid::Uuid,
    /// The platform admin who acted as the caller.
    pub admin_id: uuid::Uuid,
    pub reason: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// When its token stopped (or stops) working at the latest.
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub ended_at: Option<chrono::DateTime<chrono::Utc>>,
    pub ended_by: Option<uuid::Uuid>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Impersonations {
    pub items: Vec<Impersonation>,
    pub next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/me/impersonations", tag = "me", description = "every impersonation of the caller's account, newest first: who, why, when",
    params(crate::extract::Page, ("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")),
    responses((status = 200, body = Impersonations), (status = 400), (status = 401), (status = 403, description = "api_key_not_allowed"), (status = 503, description = "projection_behind")))]
pub async fn impersonations(
    State(s): State<AppState>,
    Myself(user): Myself,
    page: crate::extract::Page,
) -> Result<Json<Impersonations>, ReadError> {
    let limit = page.limit()?;
    let rows =
        prism_projections::read_models::sessions::impersonations(&s.reads(), user, page.cursor()?, limit + 1).await?;
    let o = s.vault.opener(prism_vault::Scope::user(user)).await?;
    let page = super::List::page(rows, limit, |r| r.id);
    let items = page
        .items
        .into_iter()
        .map(|r| {
            Ok(Impersonation {
                reason: o.open(&r.reason)?,
                id: r.id,
                admin_id: r.admin_id,
                started_at: r.started_at,
                expires_at: r.expires_at,
                ended_at: r.ended_at,
                ended_by: r.ended_by,
            })
        })
        .collect::<Result<Vec<_>, ReadError>>()?;
    Ok(Json(Impersonations {
        items,
        next_cursor: page.next_cursor,
    }))
}
