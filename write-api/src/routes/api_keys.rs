//! `POST /v1/workspaces/{id}/api-keys` (the key is in the answer, once) and
//! `DELETE /v1/api-keys/{id}`. Keys are made and revoked by people: a key cannot make keys.

use axum::extract::State;
use axum::http::StatusCode;
use prism_commands::workspace::NewApiKey;
use prism_domain::WorkspaceId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::answer::ApiResult;
use crate::extract::{ApiJson, ApiPath, Authenticated, CommandHeaders, Myself};
use crate::routes::{CommandAnswer, ErrorBody};
use crate::AppState;

#[derive(Deserialize, Serialize, ToSchema)]
pub struct ApiKeyInput {
    /// 1–100 characters, shown in the key list.
    pub name: String,
    /// `read` (the read API), `write` (member-level commands on channels, messages,
    /// reactions and docs), or both.
    pub scopes: Vec<String>,
    /// When the key stops working (RFC 3339, in the future); none: until revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Text, read here: a time that does not parse is a 422 on this field, like any other rule.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<String>,
}

#[utoipa::path(post, path = "/v1/workspaces/{id}/api-keys", tag = "workspaces", request_body = ApiKeyInput,
    description = "201 `{id, key}`: the key (`prism_…`) is in this answer only (a replay with the same Idempotency-Key answers without it); admins and owners. Send it as `Authorization: Bearer prism_…` to either API.",
    params(("id" = Uuid, Path, description = "the workspace")),
    responses((status = 201, body = CommandAnswer), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "not an admin or owner, or an API key"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "conflict: the workspace kept changing"), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    // A key outlives an impersonation: only the person makes one.
    Myself(a): Myself,
    h: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(i): ApiJson<ApiKeyInput>,
) -> ApiResult {
    let ctx = h.context(a, &i);
    let expires_at = i
        .expires_at
        .as_deref()
        .map(|t| {
            chrono::DateTime::parse_from_rfc3339(t.trim())
                .map(|d| d.with_timezone(&chrono::Utc))
                .map_err(|_| {
                    prism_domain::DomainError::invalid(
                        "expires_at",
                        "must be an RFC 3339 time, e.g. 2030-01-01T00:00:00Z",
                    )
                })
        })
        .transpose()?;
    let new = NewApiKey::parse(&i.name, &i.scopes, expires_at)?;
    Ok(s.commands.create_api_key(&ctx, WorkspaceId(id), new).await?.into())
}

#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "workspaces", description = "204: the key stops working on every node within a second; admins and owners of its workspace",
    params(("id" = Uuid, Path, description = "the key")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "conflict: the workspace kept changing")))]
pub async fn revoke(
    State(s): State<AppState>,
    Authenticated(a): Authenticated,
    h: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, crate::error::ApiError> {
    let ctx = h.context(a, &id);
    s.commands.revoke_api_key(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
