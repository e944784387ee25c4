//! `/v1/workspaces`, one workspace, its members and its channels.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{role, List};
use crate::error::ReadError;
use crate::extract::{ApiPath, Caller, Page};
use crate::AppState;

#[derive(Serialize, sqlx::FromRow)]
pub struct Workspace {
    pub id: Uuid,
    pub name: String,
    pub owner_id: Uuid,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub version: i64,
}

const WORKSPACE: &str = "SELECT w.workspace_id AS id, w.name, w.owner_id, m.role, w.created_at, w.version
     FROM rm_workspaces w JOIN rm_members m ON m.workspace_id = w.workspace_id AND m.user_id = $1
    WHERE NOT w.deleted";

#[utoipa::path(get, path = "/v1/workspaces", tag = "workspaces", description = "the caller's workspaces", params(("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")), responses((status = 200), (status = 401), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn list(
    State(s): State<AppState>,
    Caller(user): Caller,
    page: Page,
) -> Result<Json<List<Workspace>>, ReadError> {
    let limit = page.limit()?;
    let rows: Vec<Workspace> = sqlx::query_as(&format!(
        "{WORKSPACE} AND ($2::uuid IS NULL OR w.workspace_id > $2) ORDER BY w.workspace_id LIMIT $3"
    ))
    .bind(user)
    .bind(page.cursor()?)
    .bind(limit + 1)
    .fetch_all(&s.pool)
    .await?;
    Ok(Json(List::page(rows, limit, |w| w.id)))
}

#[utoipa::path(get, path = "/v1/workspaces/{id}", tag = "workspaces", description = "one workspace", params(("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")), responses((status = 200), (status = 401), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn get(
    State(s): State<AppState>,
    Caller(user): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Workspace>, ReadError> {
    let row: Option<Workspace> = sqlx::query_as(&format!("{WORKSPACE} AND w.workspace_id = $2"))
        .bind(user)
        .bind(id)
        .fetch_optional(&s.pool)
        .await?;
    row.map(Json).ok_or(ReadError::NotFound)
}

#[derive(Serialize, sqlx::FromRow)]
pub struct Member {
    pub user_id: Uuid,
    pub name: String,
    pub role: String,
    pub joined_at: DateTime<Utc>,
}

#[utoipa::path(get, path = "/v1/workspaces/{id}/members", tag = "workspaces", description = "members with roles", params(("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")), responses((status = 200), (status = 401), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn members(
    State(s): State<AppState>,
    Caller(user): Caller,
    ApiPath(id): ApiPath<Uuid>,
    page: Page,
) -> Result<Json<List<Member>>, ReadError> {
    role(&s.pool, id, user).await?;
    let limit = page.limit()?;
    let mut rows: Vec<Member> = sqlx::query_as(
        "SELECT m.user_id, coalesce(u.name, '') AS name, m.role, m.joined_at FROM rm_members m LEFT JOIN rm_users u USING (user_id)
          WHERE m.workspace_id = $1 AND ($2::uuid IS NULL OR m.user_id > $2) ORDER BY m.user_id LIMIT $3",
    )
    .bind(id)
    .bind(page.cursor()?)
    .bind(limit + 1)
    .fetch_all(&s.pool)
    .await?;
    super::open_profiles(&s, rows.iter_mut().map(|m| (m.user_id, &mut m.name)).collect()).await?;
    Ok(Json(List::page(rows, limit, |m| m.user_id)))
}

#[derive(Serialize, sqlx::FromRow)]
pub struct Channel {
    pub id: Uuid,
    pub name: String,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
}

#[utoipa::path(get, path = "/v1/workspaces/{id}/channels", tag = "workspaces", description = "channels", params(("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")), responses((status = 200), (status = 401), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn channels(
    State(s): State<AppState>,
    Caller(user): Caller,
    ApiPath(id): ApiPath<Uuid>,
    page: Page,
) -> Result<Json<List<Channel>>, ReadError> {
    role(&s.pool, id, user).await?;
    let limit = page.limit()?;
    let rows: Vec<Channel> = sqlx::query_as(
        "SELECT channel_id AS id, name, created_by, created_at FROM rm_channels
          WHERE workspace_id = $1 AND NOT deleted AND ($2::uuid IS NULL OR channel_id > $2) ORDER BY channel_id LIMIT $3",
    )
    .bind(id)
    .bind(page.cursor()?)
    .bind(limit + 1)
    .fetch_all(&s.pool)
    .await?;
    Ok(Json(List::page(rows, limit, |c| c.id)))
}
