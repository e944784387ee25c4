//! The caller's own account and analytics: `DELETE /v1/me` (erasure),
//! `POST /v1/spectrum/exclusions`, `POST /v1/spectrum/reset`, `POST /v1/notifications/read`.

use axum::extract::State;
use prism_domain::MirrorSessionId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::answer::ApiResult;
use crate::extract::{ApiJson, Authenticated, CommandHeaders, Myself};
use crate::routes::{CommandAnswer, ErrorBody};
use crate::AppState;

#[utoipa::path(delete, path = "/v1/me", tag = "account",
    description = "202; the account is erased: data keys destroyed (journal text unreadable everywhere), credentials gone, `user.erased` appended",
    responses((status = 202, body = CommandAnswer), (status = 401, body = ErrorBody)))]
pub async fn erase(State(s): State<AppState>, Myself(a): Myself, h: CommandHeaders) -> ApiResult {
    let ctx = h.context(a, &());
    Ok(s.commands.erase_me(&ctx).await?.into())
}

#[derive(Deserialize, Serialize, ToSchema)]
pub struct ExclusionInput {
    pub session_id: Uuid,
}

#[utoipa::path(post, path = "/v1/spectrum/exclusions", tag = "reflection", request_body = ExclusionInput,
    description = "200; that session leaves the caller's spectrum",
    responses((status = 200, body = CommandAnswer), (status = 404, body = ErrorBody)))]
pub async fn exclude(
    State(s): State<AppState>,
    Myself(a): Myself,
    h: CommandHeaders,
    ApiJson(i): ApiJson<ExclusionInput>,
) -> ApiResult {
    let ctx = h.context(a, &i);
    Ok(s.commands
        .exclude_session(&ctx, MirrorSessionId(i.session_id))
        .await?
        .into())
}

#[utoipa::path(post, path = "/v1/spectrum/reset", tag = "reflection",
    description = "200; the caller's spectrum starts over",
    responses((status = 200, body = CommandAnswer)))]
pub async fn reset(State(s): State<AppState>, Myself(a): Myself, h: CommandHeaders) -> ApiResult {
    let ctx = h.context(a, &());
    Ok(s.commands.reset_spectrum(&ctx).await?.into())
}

/// Ends one of the caller's sessions: its tokens stop working on every node.
#[utoipa::path(delete, path = "/v1/me/sessions/{id}", tag = "account",
    params(("id" = Uuid, Path, description = "the session, as `GET /v1/me/sessions` lists it")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn end_session(
    State(s): State<AppState>,
    Myself(a): Myself,
    h: CommandHeaders,
    crate::extract::ApiPath(id): crate::extract::ApiPath<Uuid>,
) -> Result<axum::http::StatusCode, crate::error::ApiError> {
    let ctx = h.context(a, &id);
    s.commands.revoke_session(&ctx, id).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Serialize, ToSchema)]
pub struct ProfileInput {
    pub name: String,
}

/// The caller's display name (what members see next to their messages).
#[utoipa::path(patch, path = "/v1/me", tag = "account", request_body = ProfileInput,
    responses((status = 200, body = CommandAnswer), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn rename(
    State(s): State<AppState>,
    Authenticated(a): Authenticated,
    h: CommandHeaders,
    crate::extract::ApiJson(i): crate::extract::ApiJson<ProfileInput>,
) -> ApiResult {
    let ctx = h.context(a, &i);
    Ok(s.commands.rename_me(&ctx, &i.name).await?.into())
}

#[derive(Deserialize, Serialize, ToSchema)]
pub struct ReadNotificationsInput {
    /// The notifications read (at most 100), as `GET /v1/notifications` lists them.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub ids: Vec<Uuid>,
    /// Every notification so far instead.
    #[serde(default)]
    pub all: bool,
}

#[utoipa::path(post, path = "/v1/notifications/read", tag = "account", request_body = ReadNotificationsInput,
    description = "200; those notifications (or all so far) are read. Ids that are not the caller's change nothing.",
    responses((status = 200, body = CommandAnswer), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn read_notifications(
    State(s): State<AppState>,
    Myself(a): Myself,
    h: CommandHeaders,
    ApiJson(i): ApiJson<ReadNotificationsInput>,
) -> ApiResult {
    let ctx = h.context(a, &i);
    Ok(s.commands.read_notifications(&ctx, i.ids, i.all).await?.into())
}
