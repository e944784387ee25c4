//! Outgoing webhooks (admins and owners): register, change, rotate the secret, delete, and
//! replay dead deliveries. Deliveries themselves are the delivery worker's
//! (`prism_projections::webhooks`); the replay routes reach its dead letters through the
//! [`DeadLetters`] port the binary wires in, after logging `webhook.replay_requested`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use futures::future::BoxFuture;
use prism_domain::WorkspaceId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::answer::ApiResult;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, CommandHeaders, Myself};
use crate::routes::{CommandAnswer, ErrorBody};
use crate::AppState;

/// Where dead webhook deliveries are put back in line (the delivery worker's table; the write
/// API reaches it only through this).
pub trait DeadLetters: Send + Sync {
    /// Puts `webhook`'s dead deliveries (one, or all) back in line; how many.
    fn replay(&self, webhook: Uuid, delivery: Option<Uuid>) -> BoxFuture<'_, Result<u64, String>>;
}

#[derive(Deserialize, Serialize, ToSchema)]
pub struct WebhookInput {
    /// `http(s)`; private, loopback and link-local targets are refused unless
    /// `PRISM_WEBHOOK_ALLOW_PRIVATE=1`.
    pub url: String,
    /// The event types wanted, e.g. `["message.created"]`: a workspace's content and membership.
    pub events: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[utoipa::path(post, path = "/v1/workspaces/{id}/webhooks", tag = "webhooks", request_body = WebhookInput,
    description = "201 `{id, secret}`: the signing secret (`whsec_…`) is in this answer only; admins and owners. Each matching event is POSTed with `webhook-id`, `webhook-timestamp` and `webhook-signature` (Standard Webhooks).",
    params(("id" = Uuid, Path, description = "the workspace")),
    responses((status = 201, body = CommandAnswer), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "conflict: the workspace kept changing"), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    Myself(a): Myself,
    h: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(i): ApiJson<WebhookInput>,
) -> ApiResult {
    let ctx = h.context(a, &i);
    Ok(s.commands
        .create_webhook(&ctx, WorkspaceId(id), &i.url, &i.events, i.description.as_deref())
        .await?
        .into())
}

#[derive(Deserialize, Serialize, ToSchema)]
pub struct WebhookPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

#[utoipa::path(patch, path = "/v1/webhooks/{id}", tag = "webhooks", request_body = WebhookPatch,
    description = "200: a new URL, event list, or enabled state; admins and owners",
    params(("id" = Uuid, Path, description = "the webhook")),
    responses((status = 200, body = CommandAnswer), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "conflict: the workspace kept changing"), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(s): State<AppState>,
    Myself(a): Myself,
    h: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(i): ApiJson<WebhookPatch>,
) -> ApiResult {
    let ctx = h.context(a, &i);
    Ok(s.commands
        .update_webhook(&ctx, id, i.url.as_deref(), i.events.as_deref(), i.enabled)
        .await?
        .into())
}

#[utoipa::path(post, path = "/v1/webhooks/{id}/rotate-secret", tag = "webhooks",
    description = "200 `{secret}`: deliveries are signed with the new secret from now on; admins and owners",
    params(("id" = Uuid, Path, description = "the webhook")),
    responses((status = 200, body = CommandAnswer), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "conflict: the workspace kept changing")))]
pub async fn rotate_secret(
    State(s): State<AppState>,
    Myself(a): Myself,
    h: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult {
    let ctx = h.context(a, &id);
    Ok(s.commands.rotate_webhook_secret(&ctx, id).await?.into())
}

#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "webhooks", description = "204: nothing more is delivered to it; admins and owners",
    params(("id" = Uuid, Path, description = "the webhook")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "conflict: the workspace kept changing")))]
pub async fn delete(
    State(s): State<AppState>,
    Myself(a): Myself,
    h: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    let ctx = h.context(a, &id);
    s.commands.delete_webhook(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct Replayed {
    /// How many dead deliveries were put back in line.
    pub replayed: u64,
}

async fn replay(
    s: &AppState,
    a: prism_commands::Actor,
    h: &CommandHeaders,
    webhook: Uuid,
    delivery: Option<Uuid>,
) -> Result<(StatusCode, Json<Replayed>), ApiError> {
    let ctx = h.context(a, &(webhook, delivery));
    s.commands.replay_webhook(&ctx, webhook, delivery).await?;
    let dead = s.dead_letters.as_ref().ok_or_else(|| {
        ApiError::Command(prism_commands::CommandError::Unavailable(
            "no webhook delivery worker is configured".into(),
        ))
    })?;
    let replayed = dead
        .replay(webhook, delivery)
        .await
        .map_err(|e| ApiError::Command(prism_commands::CommandError::Unavailable(e)))?;
    Ok((StatusCode::ACCEPTED, Json(Replayed { replayed })))
}

#[utoipa::path(post, path = "/v1/webhooks/{id}/deliveries/{delivery_id}/replay", tag = "webhooks",
    description = "202: the dead delivery is tried again, from a fresh count of attempts; admins and owners",
    params(("id" = Uuid, Path, description = "the webhook"), ("delivery_id" = Uuid, Path, description = "the delivery")),
    responses((status = 202, body = Replayed), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn replay_one(
    State(s): State<AppState>,
    Myself(a): Myself,
    h: CommandHeaders,
    ApiPath((id, delivery)): ApiPath<(Uuid, Uuid)>,
) -> Result<(StatusCode, Json<Replayed>), ApiError> {
    replay(&s, a, &h, id, Some(delivery)).await
}

#[utoipa::path(post, path = "/v1/webhooks/{id}/replay-dead", tag = "webhooks",
    description = "202 `{replayed: N}`: every dead delivery of the webhook is tried again; admins and owners",
    params(("id" = Uuid, Path, description = "the webhook")),
    responses((status = 202, body = Replayed), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn replay_dead(
    State(s): State<AppState>,
    Myself(a): Myself,
    h: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<(StatusCode, Json<Replayed>), ApiError> {
    replay(&s, a, &h, id, None).await
}
