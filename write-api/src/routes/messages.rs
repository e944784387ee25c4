//! `/v1/channels/{id}/messages`, `/v1/messages/{id}` and reactions.

use axum::extract::State;
use prism_domain::MessageId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::answer::ApiResult;
use crate::extract::{ApiJson, ApiPath, CommandHeaders, MemberOrKey};
use crate::routes::{CommandAnswer, ErrorBody};
use crate::AppState;

#[derive(Deserialize, Serialize, ToSchema)]
pub struct PostInput {
    pub body: String,
    /// Reply in the thread of this message.
    pub parent_id: Option<Uuid>,
    /// Files the author uploaded to this workspace (`POST /v1/workspaces/{id}/files`), at most 10.
    #[serde(default)]
    #[schema(max_items = 10)]
    pub attachments: Vec<Uuid>,
}

#[derive(Deserialize, Serialize, ToSchema)]
pub struct EditInput {
    pub body: String,
}

#[derive(Deserialize, Serialize, ToSchema)]
pub struct ReactionInput {
    pub emoji: String,
}

#[utoipa::path(post, path = "/v1/channels/{id}/messages", tag = "messages", request_body = PostInput,
    responses((status = 201, body = CommandAnswer), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn post(
    State(s): State<AppState>,
    MemberOrKey(a): MemberOrKey,
    h: CommandHeaders,
    ApiPath(channel): ApiPath<Uuid>,
    ApiJson(i): ApiJson<PostInput>,
) -> ApiResult {
    let ctx = h.context(a, &i);
    Ok(s.commands
        .post_message_with(&ctx, channel, &i.body, i.parent_id.map(MessageId), &i.attachments)
        .await?
        .into())
}

#[utoipa::path(patch, path = "/v1/messages/{id}", tag = "messages", request_body = EditInput,
    responses((status = 200, body = CommandAnswer), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn edit(
    State(s): State<AppState>,
    MemberOrKey(a): MemberOrKey,
    h: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(i): ApiJson<EditInput>,
) -> ApiResult {
    let ctx = h.context(a, &i);
    Ok(s.commands.edit_message(&ctx, MessageId(id), &i.body).await?.into())
}

#[utoipa::path(delete, path = "/v1/messages/{id}", tag = "messages",
    responses((status = 200, body = CommandAnswer), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    MemberOrKey(a): MemberOrKey,
    h: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult {
    let ctx = h.context(a, &());
    Ok(s.commands.delete_message(&ctx, MessageId(id)).await?.into())
}

#[utoipa::path(post, path = "/v1/messages/{id}/reactions", tag = "messages", request_body = ReactionInput,
    responses((status = 200, description = "also `added`: true when the reaction is now on", body = CommandAnswer), (status = 404, body = ErrorBody)))]
pub async fn react(
    State(s): State<AppState>,
    MemberOrKey(a): MemberOrKey,
    h: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(i): ApiJson<ReactionInput>,
) -> ApiResult {
    let ctx = h.context(a, &i);
    Ok(s.commands.toggle_reaction(&ctx, MessageId(id), &i.emoji).await?.into())
}
