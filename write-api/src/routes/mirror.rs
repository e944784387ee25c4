//! `/v1/mirror/…`: mirror sessions, their messages (the safety gate, then fragments), a
//! fragment's reframe, closing and deleting. Every session is its owner's alone: anyone
//! else's id answers 404.

use axum::extract::State;
use prism_domain::MirrorSessionId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::answer::{Answer, ApiResult};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, CommandHeaders, Myself};
use crate::routes::{CommandAnswer, ErrorBody};
use crate::AppState;

#[derive(Deserialize, Serialize, ToSchema)]
pub struct MessageInput {
    /// 1–8,000 characters.
    pub text: String,
}

#[derive(Deserialize, Serialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct CloseInput {
    /// Optional, 1–8,000 characters.
    #[serde(default)]
    pub reflection: Option<String>,
}

#[utoipa::path(post, path = "/v1/mirror/sessions", tag = "reflection",
    responses((status = 201, body = CommandAnswer), (status = 401, body = ErrorBody)))]
pub async fn start(State(s): State<AppState>, Myself(a): Myself, h: CommandHeaders) -> ApiResult {
    let ctx = h.context(a, &());
    Ok(s.commands.start_session(&ctx).await?.into())
}

#[utoipa::path(post, path = "/v1/mirror/sessions/{id}/messages", tag = "reflection", request_body = MessageInput,
    description = "201 {id, fragments: [{id, category, start, end, confidence}]}, with check_in: {message, resources} when the text reads as despair without risk now; or 200 {crisis: true, resources} and nothing reframed",
    responses((status = 201, body = CommandAnswer), (status = 200, body = CommandAnswer), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn message(
    State(s): State<AppState>,
    Myself(a): Myself,
    h: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(i): ApiJson<MessageInput>,
) -> ApiResult {
    let ctx = h.context(a, &(id, &i));
    Ok(s.commands
        .submit_message(&ctx, MirrorSessionId(id), &i.text)
        .await?
        .into())
}

#[utoipa::path(post, path = "/v1/mirror/fragments/{id}/reframe", tag = "reflection",
    description = "201 {reframe, micro_action}; a fragment is reframed once",
    responses((status = 201, body = CommandAnswer), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn reframe(
    State(s): State<AppState>,
    Myself(a): Myself,
    h: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult {
    let ctx = h.context(a, &id);
    Ok(s.commands.reframe_fragment(&ctx, id).await?.into())
}

#[utoipa::path(post, path = "/v1/mirror/sessions/{id}/close", tag = "reflection", request_body = CloseInput,
    responses((status = 200, body = CommandAnswer), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn close(
    State(s): State<AppState>,
    Myself(a): Myself,
    h: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult {
    let body = body.map_err(|_| ApiError::TooLarge)?;
    // The body is optional here: no body closes without a reflection.
    let i: CloseInput = if body.iter().all(u8::is_ascii_whitespace) {
        CloseInput::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => ApiError::bad_request("invalid_body", e.to_string()),
            _ => ApiError::bad_request("malformed_json", e.to_string()),
        })?
    };
    let ctx = h.context(a, &(id, &i));
    Ok(s.commands
        .close_session(&ctx, MirrorSessionId(id), i.reflection.as_deref())
        .await?
        .into())
}

#[utoipa::path(delete, path = "/v1/mirror/sessions/{id}", tag = "reflection",
    description = "204; the session's text is shredded and its analytics dropped",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    Myself(a): Myself,
    h: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult {
    let ctx = h.context(a, &id);
    let out = s.commands.delete_session(&ctx, MirrorSessionId(id)).await?;
    Ok(Answer::no_content(out))
}
