//! `/v1/workspaces/{id}/docs` and `/v1/docs/{id}`.

use axum::extract::State;
use prism_domain::{DocId, WorkspaceId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::answer::ApiResult;
use crate::extract::{ApiJson, ApiPath, CommandHeaders, MemberOrKey};
use crate::routes::{CommandAnswer, ErrorBody};
use crate::AppState;

#[derive(Deserialize, Serialize, ToSchema)]
pub struct DocInput {
    pub title: String,
    #[serde(default)]
    pub body: String,
    /// Files the author uploaded to this workspace, at most 10.
    #[serde(default)]
    #[schema(max_items = 10)]
    pub attachments: Vec<Uuid>,
}

#[derive(Deserialize, Serialize, ToSchema)]
pub struct DocPatch {
    pub title: Option<String>,
    pub body: Option<String>,
    /// The doc's files from now on (files already on it, or uploaded by the editor), at most 10.
    #[schema(max_items = 10)]
    pub attachments: Option<Vec<Uuid>>,
}

#[utoipa::path(post, path = "/v1/workspaces/{id}/docs", tag = "docs", request_body = DocInput,
    responses((status = 201, body = CommandAnswer), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    MemberOrKey(a): MemberOrKey,
    h: CommandHeaders,
    ApiPath(ws): ApiPath<Uuid>,
    ApiJson(i): ApiJson<DocInput>,
) -> ApiResult {
    let ctx = h.context(a, &i);
    Ok(s.commands
        .create_doc_with(&ctx, WorkspaceId(ws), &i.title, &i.body, &i.attachments)
        .await?
        .into())
}

#[utoipa::path(patch, path = "/v1/docs/{id}", tag = "docs", request_body = DocPatch,
    responses((status = 200, body = CommandAnswer), (status = 412, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(s): State<AppState>,
    MemberOrKey(a): MemberOrKey,
    h: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(i): ApiJson<DocPatch>,
) -> ApiResult {
    let ctx = h.context(a, &i);
    Ok(s.commands
        .update_doc_with(
            &ctx,
            DocId(id),
            i.title.as_deref(),
            i.body.as_deref(),
            i.attachments.as_deref(),
        )
        .await?
        .into())
}

#[utoipa::path(post, path = "/v1/docs/{id}/archive", tag = "docs", responses((status = 200, body = CommandAnswer), (status = 404, body = ErrorBody)))]
pub async fn archive(
    State(s): State<AppState>,
    MemberOrKey(a): MemberOrKey,
    h: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult {
    let ctx = h.context(a, &());
    Ok(s.commands.archive_doc(&ctx, DocId(id), true).await?.into())
}

#[utoipa::path(post, path = "/v1/docs/{id}/restore", tag = "docs", responses((status = 200, body = CommandAnswer), (status = 404, body = ErrorBody)))]
pub async fn restore(
    State(s): State<AppState>,
    MemberOrKey(a): MemberOrKey,
    h: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult {
    let ctx = h.context(a, &());
    Ok(s.commands.archive_doc(&ctx, DocId(id), false).await?.into())
}

#[utoipa::path(delete, path = "/v1/docs/{id}", tag = "docs", responses((status = 200, body = CommandAnswer), (status = 403, body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    MemberOrKey(a): MemberOrKey,
    h: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult {
    let ctx = h.context(a, &());
    Ok(s.commands.delete_doc(&ctx, DocId(id)).await?.into())
}
