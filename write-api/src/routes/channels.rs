//! `/v1/workspaces/{id}/channels` and `/v1/channels/{id}`.

use axum::extract::State;
use prism_domain::{ChannelId, WorkspaceId};
use uuid::Uuid;

use crate::answer::ApiResult;
use crate::extract::{ApiJson, ApiPath, CommandHeaders, MemberOrKey};
use crate::routes::workspaces::NameInput;
use crate::routes::{CommandAnswer, ErrorBody};
use crate::AppState;

#[utoipa::path(post, path = "/v1/workspaces/{id}/channels", tag = "channels", request_body = NameInput,
    responses((status = 201, body = CommandAnswer), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    MemberOrKey(a): MemberOrKey,
    h: CommandHeaders,
    ApiPath(ws): ApiPath<Uuid>,
    ApiJson(i): ApiJson<NameInput>,
) -> ApiResult {
    let ctx = h.context(a, &i);
    Ok(s.commands.create_channel(&ctx, WorkspaceId(ws), &i.name).await?.into())
}

#[utoipa::path(patch, path = "/v1/channels/{id}", tag = "channels", request_body = NameInput,
    responses((status = 200, body = CommandAnswer), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn rename(
    State(s): State<AppState>,
    MemberOrKey(a): MemberOrKey,
    h: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(i): ApiJson<NameInput>,
) -> ApiResult {
    let ctx = h.context(a, &i);
    Ok(s.commands.rename_channel(&ctx, ChannelId(id), &i.name).await?.into())
}

#[utoipa::path(delete, path = "/v1/channels/{id}", tag = "channels",
    responses((status = 200, body = CommandAnswer), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    MemberOrKey(a): MemberOrKey,
    h: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult {
    let ctx = h.context(a, &());
    Ok(s.commands.delete_channel(&ctx, ChannelId(id)).await?.into())
}
