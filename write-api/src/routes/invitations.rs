//! `/v1/workspaces/{id}/invitations` (invite by email), `/v1/invitations/accept`,
//! `DELETE /v1/invitations/{id}`.

use axum::extract::State;
use axum::http::StatusCode;
use prism_domain::WorkspaceId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::answer::ApiResult;
use crate::extract::{ApiJson, ApiPath, Authenticated, CommandHeaders, Myself};
use crate::routes::{CommandAnswer, ErrorBody};
use crate::AppState;

#[derive(Deserialize, Serialize, ToSchema)]
pub struct InviteInput {
    pub email: String,
    /// `member`, `admin` or `owner` (an owner only by an owner).
    pub role: String,
}

#[utoipa::path(post, path = "/v1/workspaces/{id}/invitations", tag = "workspaces", request_body = InviteInput,
    description = "201 with the invitation's id; the address gets a link with `token=<token>` (seven days, single use); admins and owners",
    params(("id" = Uuid, Path, description = "the workspace")),
    responses((status = 201, body = CommandAnswer), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "conflict: the workspace kept changing"), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody, description = "rate_limited")))]
pub async fn invite(
    State(s): State<AppState>,
    // An impersonating admin could invite their own address: a way in that outlives the token.
    Myself(a): Myself,
    h: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(i): ApiJson<InviteInput>,
) -> ApiResult {
    // Every invitation is a mail to an address of the caller's choosing.
    s.limits
        .check(crate::limits::Limit::InviteUser, &a.user_id.to_string())?;
    let ctx = h.context(a, &i);
    Ok(s.commands
        .invite(&ctx, WorkspaceId(id), &i.email, &i.role)
        .await?
        .into())
}

#[derive(Deserialize, Serialize, ToSchema)]
pub struct AcceptInput {
    pub token: String,
}

#[utoipa::path(post, path = "/v1/invitations/accept", tag = "workspaces", request_body = AcceptInput,
    description = "200 `{workspace_id, role}`: the signed-in user whose address was invited joins with the invited role",
    responses((status = 200, body = CommandAnswer), (status = 400, body = ErrorBody, description = "invalid_token: unknown, used, revoked or expired"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "the invitation is for another address"),
        (status = 404, body = ErrorBody, description = "the workspace was deleted"), (status = 409, body = ErrorBody, description = "conflict: the workspace kept changing")))]
pub async fn accept(
    State(s): State<AppState>,
    Authenticated(a): Authenticated,
    h: CommandHeaders,
    ApiJson(i): ApiJson<AcceptInput>,
) -> ApiResult {
    let ctx = h.context(a, &i);
    Ok(s.commands.accept_invitation(&ctx, &i.token).await?.into())
}

#[utoipa::path(delete, path = "/v1/invitations/{id}", tag = "workspaces", description = "204: the link stops working; admins and owners",
    params(("id" = Uuid, Path, description = "the invitation")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "conflict: the workspace kept changing")))]
pub async fn revoke(
    State(s): State<AppState>,
    Authenticated(a): Authenticated,
    h: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, crate::error::ApiError> {
    let ctx = h.context(a, &id);
    s.commands.revoke_invitation(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
