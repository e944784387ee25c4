//! `/v1/workspaces/{id}/conversations`: the one direct conversation of a pair.

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
pub struct ConversationInput {
    pub member_id: Uuid,
}

#[utoipa::path(post, path = "/v1/workspaces/{id}/conversations", tag = "conversations", request_body = ConversationInput,
    responses((status = 201, description = "started", body = CommandAnswer), (status = 200, description = "the pair's existing conversation", body = CommandAnswer), (status = 404, body = ErrorBody)))]
pub async fn start(
    State(s): State<AppState>,
    Authenticated(a): Authenticated,
    h: CommandHeaders,
    ApiPath(ws): ApiPath<Uuid>,
    ApiJson(i): ApiJson<ConversationInput>,
) -> ApiResult {
    let ctx = h.context(a, &i);
    Ok(s.commands
        .start_conversation(&ctx, WorkspaceId(ws), UserId(i.member_id))
        .await?
        .into())
}
