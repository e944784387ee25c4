//! `/v1/auth/*`: register, login, refresh, logout, password reset.

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

/// The request id and user agent a new session is kept with.
fn client(h: &HeaderMap) -> prism_commands::auth::Client {
    prism_commands::auth::Client {
        request_id: request_id(h),
        user_agent: h
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

#[utoipa::path(post, path = "/v1/auth/register", tag = "auth", security(()), request_body = RegisterInput,
    responses((status = 201, body = TokensAnswer), (status = 409, body = crate::routes::ErrorBody), (status = 422, body = crate::routes::ErrorBody), (status = 429, body = crate::routes::ErrorBody, description = "rate_limited"), (status = 503, body = crate::routes::ErrorBody, description = "busy")))]
pub async fn register(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(i): ApiJson<RegisterInput>,
) -> Result<impl IntoResponse, ApiError> {
    s.limits.check(Limit::RegisterIp, &ip)?;
    // The one answer that tells an address has an account (409; see the README's policy) is
    // rationed per address: past `register_taken_ip`, that address may not register at all
    // for the window, so its answers stop telling anything.
    s.limits.barred(Limit::RegisterTakenIp, &ip)?;
    match s
        .commands
        .register(&i.email, &i.password, &i.name, client(&headers))
        .await
    {
        Ok(tokens) => Ok((StatusCode::CREATED, Json(tokens))),
        Err(e @ prism_commands::CommandError::Taken(_)) => {
            s.limits.strike(Limit::RegisterTakenIp, &ip)?;
            Err(e.into())
        }
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", security(()), request_body = LoginInput,
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
    Ok(Json(s.commands.login(&i.email, &i.password, client(&headers)).await?))
}

#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", security(()), request_body = RefreshInput,
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

#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", security(()), request_body = RefreshInput, responses((status = 204)))]
pub async fn logout(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiJson(i): ApiJson<RefreshInput>,
) -> Result<StatusCode, ApiError> {
    s.commands.logout(&i.refresh_token, request_id(&headers)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct ResetInput {
    pub email: String,
}

/// Always 202, whether or not the address has an account: a link goes out only if it does.
#[utoipa::path(post, path = "/v1/auth/password-reset", tag = "auth", security(()), request_body = ResetInput,
    description = "a password-reset link by mail (`token=<token>`, one hour, single use); the same answer for an unknown address",
    responses((status = 202, body = Accepted), (status = 400, body = crate::routes::ErrorBody), (status = 429, body = crate::routes::ErrorBody, description = "rate_limited")))]
pub async fn password_reset(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(i): ApiJson<ResetInput>,
) -> Result<impl IntoResponse, ApiError> {
    s.limits.check(Limit::ResetIp, &ip)?;
    s.limits.check(Limit::ResetAccount, &i.email.trim().to_lowercase())?;
    s.commands
        .request_password_reset(&i.email, request_id(&headers))
        .await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { accepted: true })))
}

#[derive(Serialize, ToSchema)]
pub struct Accepted {
    pub accepted: bool,
}

#[derive(Deserialize, ToSchema)]
pub struct ResetConfirmInput {
    pub token: String,
    pub new_password: String,
}

#[derive(Serialize, ToSchema)]
pub struct PasswordChanged {
    pub password_changed: bool,
}

/// The new password for the token's account; every session of that account ends.
#[utoipa::path(post, path = "/v1/auth/password-reset/confirm", tag = "auth", security(()), request_body = ResetConfirmInput,
    responses((status = 200, body = PasswordChanged), (status = 400, body = crate::routes::ErrorBody, description = "invalid_token: unknown, used or expired"),
        (status = 422, body = crate::routes::ErrorBody, description = "validation_failed: the new password"), (status = 429, body = crate::routes::ErrorBody, description = "rate_limited")))]
pub async fn password_reset_confirm(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(i): ApiJson<ResetConfirmInput>,
) -> Result<impl IntoResponse, ApiError> {
    s.limits.check(Limit::ResetIp, &ip)?;
    s.commands
        .confirm_password_reset(&i.token, &i.new_password, request_id(&headers))
        .await?;
    Ok(Json(PasswordChanged { password_changed: true }))
}

#[derive(Deserialize, ToSchema)]
pub struct VerifyEmailInput {
    /// The `token` of the link in the mail sent at registration.
    pub token: String,
}

#[derive(Serialize, ToSchema)]
pub struct EmailVerified {
    pub email_verified: bool,
}

/// Confirms the address of the account the token was sent for (once, within 48 hours).
#[utoipa::path(post, path = "/v1/auth/verify-email", tag = "auth", security(()), request_body = VerifyEmailInput,
    responses((status = 200, body = EmailVerified), (status = 400, body = crate::routes::ErrorBody, description = "invalid_token: unknown, used or expired"),
        (status = 429, body = crate::routes::ErrorBody, description = "rate_limited")))]
pub async fn verify_email(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(i): ApiJson<VerifyEmailInput>,
) -> Result<impl IntoResponse, ApiError> {
    s.limits.check(Limit::VerifyIp, &ip)?;
    s.commands.verify_email(&i.token, request_id(&headers)).await?;
    Ok(Json(EmailVerified { email_verified: true }))
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordInput {
    pub current_password: String,
    pub new_password: String,
}

/// The caller's new password; every other session of theirs ends (this one stays).
#[utoipa::path(post, path = "/v1/auth/password", tag = "auth", request_body = PasswordInput,
    security(("bearer" = [])),
    responses((status = 200, body = PasswordChanged), (status = 401, body = crate::routes::ErrorBody, description = "invalid_credentials: the current password is wrong"),
        (status = 422, body = crate::routes::ErrorBody, description = "validation_failed: the new password"), (status = 503, body = crate::routes::ErrorBody, description = "busy")))]
pub async fn change_password(
    State(s): State<AppState>,
    crate::extract::Myself(a): crate::extract::Myself,
    h: crate::extract::CommandHeaders,
    ApiJson(i): ApiJson<PasswordInput>,
) -> Result<impl IntoResponse, ApiError> {
    let ctx = h.context(a, &());
    s.commands
        .change_password(&ctx, &i.current_password, &i.new_password)
        .await?;
    Ok(Json(PasswordChanged { password_changed: true }))
}
