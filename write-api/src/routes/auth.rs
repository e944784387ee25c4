//! `/v1/auth/*`: register, login, refresh, logout.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract::{ApiJson, ClientIp};
use crate::limits::Limit;
use crate::AppState;

#[derive(Deserialize, Serialize, ToSchema)]
pub struct RegisterInput {
    pub email: String,
    pub password: String,
    pub name: String,
}

#[derive(Deserialize, Serialize, ToSchema)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
}

#[derive(Deserialize, Serialize, ToSchema)]
pub struct RefreshInput {
    pub refresh_token: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokensAnswer {
    pub user_id: uuid::Uuid,
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: String,
    pub expires_in: u64,
}

fn request_id(h: &HeaderMap) -> Option<String> {
    h.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned)
}

#[utoipa::path(post, path = "/v1/auth/register", tag = "auth", request_body = RegisterInput,
    responses((status = 201, body = TokensAnswer), (status = 409, body = crate::routes::ErrorBody), (status = 422, body = crate::routes::ErrorBody), (status = 429, body = crate::routes::ErrorBody, description = "rate_limited"), (status = 503, body = crate::routes::ErrorBody, description = "busy")))]
pub async fn register(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(i): ApiJson<RegisterInput>,
) -> Result<impl IntoResponse, ApiError> {
    s.limits.check(Limit::RegisterIp, &ip)?;
    let tokens = s
        .commands
        .register(&i.email, &i.password, &i.name, request_id(&headers))
        .await?;
    Ok((StatusCode::CREATED, Json(tokens)))
}

#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginInput,
    responses((status = 200, body = TokensAnswer), (status = 401, body = crate::routes::ErrorBody), (status = 429, body = crate::routes::ErrorBody, description = "rate_limited, or too_many_attempts (the account is locked for a while)"), (status = 503, body = crate::routes::ErrorBody, description = "busy")))]
pub async fn login(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(i): ApiJson<LoginInput>,
) -> Result<impl IntoResponse, ApiError> {
    s.limits.check(Limit::LoginIp, &ip)?;
    // Keyed by the address as an account would have it (and bounded by its rules); an
    // address no account can have is refused by the sign-in itself.
    if let Ok(email) = prism_domain::values::Email::parse(&i.email) {
        s.limits.check(Limit::LoginAccount, email.as_str())?;
    }
    Ok(Json(
        s.commands.login(&i.email, &i.password, request_id(&headers)).await?,
    ))
}

#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshInput,
    responses((status = 200, body = TokensAnswer), (status = 401, body = crate::routes::ErrorBody), (status = 429, body = crate::routes::ErrorBody, description = "rate_limited")))]
pub async fn refresh(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(i): ApiJson<RefreshInput>,
) -> Result<impl IntoResponse, ApiError> {
    s.limits.check(Limit::RefreshIp, &ip)?;
    Ok(Json(s.commands.refresh(&i.refresh_token, request_id(&headers)).await?))
}

#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", request_body = RefreshInput, responses((status = 204)))]
pub async fn logout(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiJson(i): ApiJson<RefreshInput>,
) -> Result<StatusCode, ApiError> {
    s.commands.logout(&i.refresh_token, request_id(&headers)).await?;
    Ok(StatusCode::NO_CONTENT)
}
