//! `/v1/workspaces/{id}/docs`, `/v1/docs/{id}` and `/v1/docs/{id}/history`.

use axum::extract::State;
use axum::Json;
use prism_domain::{DocId, WorkspaceId};
use prism_projections::read_models::docs::{self, Doc, Version};
use serde::Deserialize;

use super::{role, List};
use crate::error::ReadError;
use crate::extract::{ApiPath, ApiQuery, Page, Reader};
use crate::AppState;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Filter {
    /// The archived docs instead of the live ones.
    #[serde(default)]
    pub archived: bool,
}

#[utoipa::path(get, path = "/v1/workspaces/{id}/docs", tag = "docs", description = "docs (archived ones with ?archived=true)", params(crate::extract::Page, Filter), responses((status = 200), (status = 401), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn list(
    State(s): State<AppState>,
    user: Reader,
    ApiPath(ws): ApiPath<WorkspaceId>,
    ApiQuery(f): ApiQuery<Filter>,
    page: Page,
) -> Result<Json<List<Doc>>, ReadError> {
    role(&s.reads(), ws, user).await?;
    let limit = page.limit()?;
    let rows = docs::list(&s.reads(), ws, f.archived, page.cursor()?, limit + 1).await?;
    Ok(Json(List::page(rows, limit, |d| d.id)))
}

async fn readable(s: &AppState, id: DocId, user: Reader) -> Result<Doc, ReadError> {
    let row = docs::get(&s.reads(), id).await?;
    let doc = row.ok_or(ReadError::NotFound)?;
    role(&s.reads(), WorkspaceId(doc.workspace_id), user).await?;
    Ok(doc)
}

#[utoipa::path(get, path = "/v1/docs/{id}", tag = "docs", description = "one doc", params(("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")), responses((status = 200), (status = 401), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn get(State(s): State<AppState>, user: Reader, ApiPath(id): ApiPath<DocId>) -> Result<Json<Doc>, ReadError> {
    readable(&s, id, user).await.map(Json)
}

/// Every version of the doc, oldest first (they come from its events).
#[utoipa::path(get, path = "/v1/docs/{id}/history", tag = "docs", description = "every version of the doc", params(("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")), responses((status = 200), (status = 401), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn history(
    State(s): State<AppState>,
    user: Reader,
    ApiPath(id): ApiPath<DocId>,
) -> Result<Json<List<Version>>, ReadError> {
    readable(&s, id, user).await?;
    let rows = docs::versions(&s.reads(), id).await?;
    Ok(Json(List {
        items: rows,
        next_cursor: None,
    }))
}
