//! `POST /v1/admin/impersonations` and `DELETE /v1/admin/impersonations/{id}`: platform admins
//! act as a user, with a reason, in the open (see `prism_commands::auth::impersonation`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use prism_domain::UserId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, Authenticated, CommandHeaders, Myself};
use crate::routes::ErrorBody;
use crate::AppState;

#[derive(Deserialize, Serialize, ToSchema)]
pub struct ImpersonationInput {
    pub user_id: Uuid,
    /// Why (1–500 characters); the user sees it.
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct ImpersonationAnswer {
    pub id: Uuid,
    /// Acts as the user (its `act` claim names the admin); no refresh token.
    pub access_token: String,
    /// Seconds the token lives (at most 15 minutes).
    pub expires_in: u64,
    pub position: i64,
}

#[utoipa::path(post, path = "/v1/admin/impersonations", tag = "admin", request_body = ImpersonationInput,
    description = "201: a short-lived token acting as the user; platform admins (`prism roles grant USER_ID admin`), signed in as themselves. Everything written with it names the admin as `impersonator`; the user's reflection, password, sessions, export and erasure refuse it.",
    responses((status = 201, body = ImpersonationAnswer), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "not a platform admin, or under an impersonation already (impersonation_not_allowed)"), (status = 404, body = ErrorBody, description = "no such user"), (status = 422, body = ErrorBody)))]
pub async fn start(
    State(s): State<AppState>,
    Myself(a): Myself,
    h: CommandHeaders,
    ApiJson(i): ApiJson<ImpersonationInput>,
) -> Result<(StatusCode, Json<ImpersonationAnswer>), ApiError> {
    let ctx = h.context(a, &i);
    let started = s
        .commands
        .start_impersonation(&ctx, UserId(i.user_id), &i.reason)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ImpersonationAnswer {
            id: started.id,
            access_token: started.access_token,
            expires_in: started.expires_in,
            position: started.position,
        }),
    ))
}

#[utoipa::path(delete, path = "/v1/admin/impersonations/{id}", tag = "admin",
    description = "204: the impersonation ends and its token stops working on every node within a second; by the admin who started it, its own token, or another platform admin",
    params(("id" = Uuid, Path, description = "the impersonation")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn end(
    State(s): State<AppState>,
    Authenticated(a): Authenticated,
    h: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    let ctx = h.context(a, &id);
    s.commands.end_impersonation(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
