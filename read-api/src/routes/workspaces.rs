//! `/v1/workspaces`, one workspace, its members and its channels. The queries are the read
//! models' (`prism_projections::read_models::{workspaces, channels}`).

use axum::extract::State;
use axum::Json;
use prism_domain::WorkspaceId;
use prism_projections::read_models::channels::{self, Channel};
use prism_projections::read_models::workspaces::{self, Member, Workspace};

use super::{role, List};
use crate::error::ReadError;
use crate::extract::{ApiPath, Caller, Page};
use crate::AppState;
#[utoipa::path(get, path = "/v1/workspaces", tag = "workspaces", description = "the caller's workspaces", params(("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")), responses((status = 200), (status = 401), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn list(
    State(s): State<AppState>,
    Caller(user): Caller,
    page: Page,
) -> Result<Json<List<Workspace>>, ReadError> {
    let limit = page.limit()?;
    let rows = workspaces::of_member(&s.pool, user, page.cursor()?, limit + 1).await?;
    Ok(Json(List::page(rows, limit, |w| w.id)))
}

#[utoipa::path(get, path = "/v1/workspaces/{id}", tag = "workspaces", description = "one workspace", params(("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")), responses((status = 200), (status = 401), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn get(
    State(s): State<AppState>,
    Caller(user): Caller,
    ApiPath(id): ApiPath<WorkspaceId>,
) -> Result<Json<Workspace>, ReadError> {
    let row = workspaces::one(&s.pool, user, id).await?;
    row.map(Json).ok_or(ReadError::NotFound)
}

#[utoipa::path(get, path = "/v1/workspaces/{id}/members", tag = "workspaces", description = "members with roles", params(("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")), responses((status = 200), (status = 401), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn members(
    State(s): State<AppState>,
    Caller(user): Caller,
    ApiPath(id): ApiPath<WorkspaceId>,
    page: Page,
) -> Result<Json<List<Member>>, ReadError> {
    role(&s.pool, id, user).await?;
    let limit = page.limit()?;
    let mut rows = workspaces::members(&s.pool, id, page.cursor()?, limit + 1).await?;
    super::open_profiles(&s, rows.iter_mut().map(|m| (m.user_id, &mut m.name)).collect()).await?;
    Ok(Json(List::page(rows, limit, |m| m.user_id)))
}

#[utoipa::path(get, path = "/v1/workspaces/{id}/channels", tag = "workspaces", description = "channels", params(("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")), responses((status = 200), (status = 401), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn channels(
    State(s): State<AppState>,
    Caller(user): Caller,
    ApiPath(id): ApiPath<WorkspaceId>,
    page: Page,
) -> Result<Json<List<Channel>>, ReadError> {
    role(&s.pool, id, user).await?;
    let limit = page.limit()?;
    let rows = channels::list(&s.pool, id, page.cursor()?, limit + 1).await?;
    Ok(Json(List::page(rows, limit, |c| c.id)))
}
