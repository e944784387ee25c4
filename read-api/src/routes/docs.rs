//! `/v1/workspaces/{id}/docs`, `/v1/docs/{id}` and `/v1/docs/{id}/history`.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{role, List};
use crate::error::ReadError;
use crate::extract::{ApiPath, ApiQuery, Caller, Page};
use crate::AppState;

#[derive(Serialize, sqlx::FromRow)]
pub struct Doc {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub author_id: Uuid,
    pub title: String,
    pub body: String,
    pub archived: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

const DOC: &str =
    "SELECT doc_id AS id, workspace_id, author_id, title, body, archived, created_at, updated_at, version FROM rm_docs";

#[derive(Deserialize)]
pub struct Filter {
    #[serde(default)]
    pub archived: bool,
}

#[utoipa::path(get, path = "/v1/workspaces/{id}/docs", tag = "docs", description = "docs (archived ones with ?archived=true)", params(("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")), responses((status = 200), (status = 401), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn list(
    State(s): State<AppState>,
    Caller(user): Caller,
    ApiPath(ws): ApiPath<Uuid>,
    ApiQuery(f): ApiQuery<Filter>,
    page: Page,
) -> Result<Json<List<Doc>>, ReadError> {
    role(&s.pool, ws, user).await?;
    let limit = page.limit()?;
    let rows: Vec<Doc> = sqlx::query_as(&format!(
        "{DOC} WHERE workspace_id = $1 AND NOT deleted AND archived = $2 AND ($3::uuid IS NULL OR doc_id < $3)
          ORDER BY doc_id DESC LIMIT $4"
    ))
    .bind(ws)
    .bind(f.archived)
    .bind(page.cursor()?)
    .bind(limit + 1)
    .fetch_all(&s.pool)
    .await?;
    Ok(Json(List::page(rows, limit, |d| d.id)))
}

async fn readable(s: &AppState, id: Uuid, user: Uuid) -> Result<Doc, ReadError> {
    let row: Option<Doc> = sqlx::query_as(&format!("{DOC} WHERE doc_id = $1 AND NOT deleted"))
        .bind(id)
        .fetch_optional(&s.pool)
        .await?;
    let doc = row.ok_or(ReadError::NotFound)?;
    role(&s.pool, doc.workspace_id, user).await?;
    Ok(doc)
}

#[utoipa::path(get, path = "/v1/docs/{id}", tag = "docs", description = "one doc", params(("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")), responses((status = 200), (status = 401), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn get(
    State(s): State<AppState>,
    Caller(user): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Doc>, ReadError> {
    readable(&s, id, user).await.map(Json)
}

#[derive(Serialize, sqlx::FromRow)]
pub struct Version {
    pub version: i64,
    pub title: String,
    pub body: String,
    pub edited_by: Uuid,
    pub at: DateTime<Utc>,
}

/// Every version of the doc, oldest first (they come from its events).
#[utoipa::path(get, path = "/v1/docs/{id}/history", tag = "docs", description = "every version of the doc", params(("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")), responses((status = 200), (status = 401), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn history(
    State(s): State<AppState>,
    Caller(user): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<List<Version>>, ReadError> {
    readable(&s, id, user).await?;
    let rows: Vec<Version> = sqlx::query_as(
        "SELECT version, title, body, edited_by, at FROM rm_doc_versions WHERE doc_id = $1 ORDER BY version",
    )
    .bind(id)
    .fetch_all(&s.pool)
    .await?;
    Ok(Json(List {
        items: rows,
        next_cursor: None,
    }))
}
