//! `/v1/lens/…`: goals and the actions toward them; the owner's alone.

use axum::extract::State;
use prism_domain::LensGoalId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::answer::ApiResult;
use crate::extract::{ApiJson, ApiPath, CommandHeaders, Myself};
use crate::routes::{CommandAnswer, ErrorBody};
use crate::AppState;

#[derive(Deserialize, Serialize, ToSchema)]
pub struct TitleInput {
    /// 1–200 characters.
    pub title: String,
}

#[utoipa::path(post, path = "/v1/lens/goals", tag = "reflection", request_body = TitleInput,
    responses((status = 201, body = CommandAnswer), (status = 422, body = ErrorBody)))]
pub async fn create_goal(
    State(s): State<AppState>,
    Myself(a): Myself,
    h: CommandHeaders,
    ApiJson(i): ApiJson<TitleInput>,
) -> ApiResult {
    let ctx = h.context(a, &i);
    Ok(s.commands.create_goal(&ctx, &i.title).await?.into())
}

#[utoipa::path(post, path = "/v1/lens/goals/{id}/actions", tag = "reflection", request_body = TitleInput,
    responses((status = 201, body = CommandAnswer), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_action(
    State(s): State<AppState>,
    Myself(a): Myself,
    h: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(i): ApiJson<TitleInput>,
) -> ApiResult {
    let ctx = h.context(a, &(id, &i));
    Ok(s.commands.add_action(&ctx, LensGoalId(id), &i.title).await?.into())
}

#[utoipa::path(post, path = "/v1/lens/actions/{id}/complete", tag = "reflection",
    responses((status = 200, body = CommandAnswer), (status = 404, body = ErrorBody)))]
pub async fn complete_action(
    State(s): State<AppState>,
    Myself(a): Myself,
    h: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult {
    let ctx = h.context(a, &id);
    Ok(s.commands.complete_action(&ctx, id).await?.into())
}
