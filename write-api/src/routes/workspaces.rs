//! `/v1/workspaces`: create, rename, delete, join, rotate the join code.

use axum::extract::State;
use prism_domain::WorkspaceId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::answer::ApiResult;
use crate::extract::{ApiJson, ApiPath, Authenticated, ClientIp, CommandHeaders, Myself};
use crate::routes::{CommandAnswer, ErrorBody};
use crate::AppState;

#[derive(Deserialize, Serialize, ToSchema)]
pub struct NameInput {
    pub name: String,
}

#[derive(Deserialize, Serialize, ToSchema)]
pub struct JoinInput {
    pub join_code: String,
}

#[utoipa::path(post, path = "/v1/workspaces", tag = "workspaces", request_body = NameInput,
    responses((status = 201, description = "created; also `join_code`", body = CommandAnswer), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    Authenticated(a): Authenticated,
    h: CommandHeaders,
    ApiJson(i): ApiJson<NameInput>,
) -> ApiResult {
    let ctx = h.context(a, &i);
    Ok(s.commands.create_workspace(&ctx, &i.name).await?.into())
}

#[utoipa::path(patch, path = "/v1/workspaces/{id}", tag = "workspaces", request_body = NameInput,
    responses((status = 200, body = CommandAnswer), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn rename(
    State(s): State<AppState>,
    Authenticated(a): Authenticated,
    h: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(i): ApiJson<NameInput>,
) -> ApiResult {
    let ctx = h.context(a, &i);
    Ok(s.commands
        .rename_workspace(&ctx, WorkspaceId(id), &i.name)
        .await?
        .into())
}

#[utoipa::path(delete, path = "/v1/workspaces/{id}", tag = "workspaces",
    responses((status = 200, body = CommandAnswer), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    Authenticated(a): Authenticated,
    h: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult {
    let ctx = h.context(a, &());
    Ok(s.commands.delete_workspace(&ctx, WorkspaceId(id)).await?.into())
}

#[utoipa::path(post, path = "/v1/workspaces/{id}/join", tag = "workspaces", request_body = JoinInput,
    responses((status = 200, body = CommandAnswer), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn join(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    Authenticated(a): Authenticated,
    h: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(i): ApiJson<JoinInput>,
) -> ApiResult {
    // Join codes are short enough to guess at scale: attempts are limited per address and
    // per account (a wrong code and an unknown workspace answer alike).
    s.limits.check(crate::limits::Limit::JoinIp, &ip)?;
    s.limits
        .check(crate::limits::Limit::JoinAccount, &a.user_id.to_string())?;
    let ctx = h.context(a, &i);
    Ok(s.commands
        .join_workspace(&ctx, WorkspaceId(id), &i.join_code)
        .await?
        .into())
}

#[utoipa::path(post, path = "/v1/workspaces/{id}/join-code", tag = "workspaces",
    responses((status = 200, description = "also `join_code`", body = CommandAnswer), (status = 403, body = ErrorBody)))]
pub async fn rotate_join_code(
    State(s): State<AppState>,
    // The new code is in the answer: an impersonating admin could let themselves in with it.
    Myself(a): Myself,
    h: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult {
    let ctx = h.context(a, &());
    Ok(s.commands.rotate_join_code(&ctx, WorkspaceId(id)).await?.into())
}
