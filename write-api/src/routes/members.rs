//! `/v1/workspaces/{id}/members/{user_id}`: change a role, remove a member (or leave).

use axum::extract::State;
use prism_domain::{UserId, WorkspaceId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::answer::ApiResult;
use crate::extract::{ApiJson, ApiPath, Authenticated, CommandHeaders};
use crate::routes::{CommandAnswer, ErrorBody};
use crate::AppState;

#[derive(Deserialize, Serialize, ToSchema)]
pub struct RoleInput {
    /// `owner`, `admin` or `member`.
    pub role: String,
}

#[utoipa::path(patch, path = "/v1/workspaces/{id}/members/{user_id}", tag = "members", request_body = RoleInput,
    responses((status = 200, body = CommandAnswer), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn change_role(
    State(s): State<AppState>,
    Authenticated(a): Authenticated,
    h: CommandHeaders,
    ApiPath((id, user)): ApiPath<(Uuid, Uuid)>,
    ApiJson(i): ApiJson<RoleInput>,
) -> ApiResult {
    let ctx = h.context(a, &i);
    Ok(s.commands
        .change_role(&ctx, WorkspaceId(id), UserId(user), &i.role)
        .await?
        .into())
}

#[utoipa::path(delete, path = "/v1/workspaces/{id}/members/{user_id}", tag = "members",
    responses((status = 200, body = CommandAnswer), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn remove(
    State(s): State<AppState>,
    Authenticated(a): Authenticated,
    h: CommandHeaders,
    ApiPath((id, user)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult {
    let ctx = h.context(a, &());
    Ok(s.commands
        .remove_member(&ctx, WorkspaceId(id), UserId(user))
        .await?
        .into())
}
