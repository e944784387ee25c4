//! `/v1/turns`: a thought in, three reframes and a micro-action out (or, when the safety gate
//! fires, crisis resources and nothing reframed); `/v1/turns/{id}/save`.

use axum::extract::State;
use prism_domain::TurnId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::answer::ApiResult;
use crate::extract::{ApiJson, ApiPath, CommandHeaders, Myself};
use crate::routes::{CommandAnswer, ErrorBody};
use crate::AppState;

#[derive(Deserialize, Serialize, ToSchema)]
pub struct TurnInput {
    /// 1–8,000 characters.
    pub text: String,
}

#[utoipa::path(post, path = "/v1/turns", tag = "reflection", request_body = TurnInput,
    description = "201 {id, position, version, reframes: [3], micro_action, crisis: false}, with check_in: {message, resources: [...]} when the text reads as despair without risk now (\"my life is over\" about a setback); or 200 {crisis: true, resources: [...]} and nothing reframed",
    responses((status = 201, body = CommandAnswer), (status = 200, body = CommandAnswer), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn request(
    State(s): State<AppState>,
    Myself(a): Myself,
    h: CommandHeaders,
    ApiJson(i): ApiJson<TurnInput>,
) -> ApiResult {
    let ctx = h.context(a, &i);
    Ok(s.commands.request_turn(&ctx, &i.text).await?.into())
}

#[utoipa::path(post, path = "/v1/turns/{id}/save", tag = "reflection",
    responses((status = 200, body = CommandAnswer), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn save(
    State(s): State<AppState>,
    Myself(a): Myself,
    h: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult {
    let ctx = h.context(a, &id);
    Ok(s.commands.save_turn(&ctx, TurnId(id)).await?.into())
}
