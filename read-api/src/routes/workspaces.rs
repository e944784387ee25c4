//! `/v1/workspaces`, one workspace, its members and its channels. The queries are the read
//! models' (`prism_projections::read_models::{workspaces, channels}`).

use axum::extract::State;
use axum::Json;
use prism_domain::WorkspaceId;
use prism_projections::read_models::channels::{self, Channel};
use prism_projections::read_models::workspaces::{self, Member, Workspace};

use super::{role, List};
use crate::error::ReadError;
use crate::extract::{ApiPath, Caller, Page, Reader};
use crate::AppState;
#[utoipa::path(get, path = "/v1/workspaces", tag = "workspaces", description = "the caller's workspaces", params(crate::extract::Page, ("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")), responses((status = 200), (status = 401), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn list(
    State(s): State<AppState>,
    Caller(user): Caller,
    page: Page,
) -> Result<Json<List<Workspace>>, ReadError> {
    let limit = page.limit()?;
    let rows = workspaces::of_member(&s.reads(), user, page.cursor()?, limit + 1).await?;
    Ok(Json(List::page(rows, limit, |w| w.id)))
}

#[utoipa::path(get, path = "/v1/workspaces/{id}", tag = "workspaces", description = "one workspace", params(("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")), responses((status = 200), (status = 401), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn get(
    State(s): State<AppState>,
    Caller(user): Caller,
    ApiPath(id): ApiPath<WorkspaceId>,
) -> Result<Json<Workspace>, ReadError> {
    let row = workspaces::one(&s.reads(), user, id).await?;
    row.map(Json).ok_or(ReadError::NotFound)
}

#[utoipa::path(get, path = "/v1/workspaces/{id}/members", tag = "workspaces", description = "members with roles", params(crate::extract::Page, ("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")), responses((status = 200), (status = 401), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn members(
    State(s): State<AppState>,
    user: Reader,
    ApiPath(id): ApiPath<WorkspaceId>,
    page: Page,
) -> Result<Json<List<Member>>, ReadError> {
    role(&s.reads(), id, user).await?;
    let limit = page.limit()?;
    let mut rows = workspaces::members(&s.reads(), id, page.cursor()?, limit + 1).await?;
    let ids: Vec<uuid::Uuid> = rows.iter().map(|m| m.user_id).collect();
    let online = s.presence.online(id.0, &ids);
    for m in &mut rows {
        m.online = online.contains(&m.user_id);
    }
    super::open_profiles(&s, rows.iter_mut().map(|m| (m.user_id, &mut m.name)).collect()).await?;
    Ok(Json(List::page(rows, limit, |m| m.user_id)))
}

#[utoipa::path(get, path = "/v1/workspaces/{id}/channels", tag = "workspaces", description = "channels", params(crate::extract::Page, ("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")), responses((status = 200), (status = 401), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn channels(
    State(s): State<AppState>,
    user: Reader,
    ApiPath(id): ApiPath<WorkspaceId>,
    page: Page,
) -> Result<Json<List<Channel>>, ReadError> {
    role(&s.reads(), id, user).await?;
    let limit = page.limit()?;
    let rows = channels::list(&s.reads(), id, page.cursor()?, limit + 1).await?;
    Ok(Json(List::page(rows, limit, |c| c.id)))
}

#[utoipa::path(get, path = "/v1/channels/{id}", tag = "workspaces", description = "one channel (members of its workspace; an API key of it)",
    params(("id" = Uuid, Path, description = "the channel"), ("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")),
    responses((status = 200), (status = 401), (status = 403), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn channel(
    State(s): State<AppState>,
    user: Reader,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> Result<Json<Channel>, ReadError> {
    let c = channels::one(&s.reads(), id).await?.ok_or(ReadError::NotFound)?;
    role(&s.reads(), WorkspaceId(c.workspace_id), user).await?;
    Ok(Json(c))
}

/// A pending invitation, as the workspace's admins see it.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Invitation {
    pub id: uuid::Uuid,
    pub email: String,
    /// `member`, `admin` or `owner`.
    #[schema(value_type = String)]
    pub role: prism_domain::Role,
    pub invited_by: uuid::Uuid,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Invitations {
    pub items: Vec<Invitation>,
    pub next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/workspaces/{id}/invitations", tag = "workspaces", description = "the invitations waiting for an answer (admins and owners)",
    params(("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")),
    responses((status = 200, body = Invitations), (status = 401), (status = 403), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn invitations(
    State(s): State<AppState>,
    Caller(user): Caller,
    ApiPath(id): ApiPath<WorkspaceId>,
) -> Result<Json<Invitations>, ReadError> {
    match role(&s.reads(), id, user).await? {
        prism_domain::Role::Owner | prism_domain::Role::Admin => {}
        prism_domain::Role::Member => {
            return Err(ReadError::Forbidden("this is for the workspace's admins and owners"))
        }
    }
    let rows = workspaces::pending_invitations(&s.reads(), id).await?;
    let mut items = Vec::with_capacity(rows.len());
    for r in rows {
        // Each invitation's address is sealed with a key of its own (destroyed once answered).
        let o = s
            .vault
            .opener(prism_vault::Scope::of(prism_domain::UserId(r.invited_by), r.id))
            .await?;
        items.push(Invitation {
            email: o.open(&r.email)?,
            id: r.id,
            role: r.role,
            invited_by: r.invited_by,
            created_at: r.created_at,
            expires_at: r.expires_at,
        });
    }
    Ok(Json(Invitations {
        items,
        next_cursor: None,
    }))
}

/// An API key as its workspace's admins see it: never its secret.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    pub id: uuid::Uuid,
    pub name: String,
    /// `read`, `write`.
    pub scopes: Vec<String>,
    pub created_by: uuid::Uuid,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Set once revoked: the key no longer works.
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Set when Prism revoked it rather than a person: `grantor_lost_authority` (whoever made
    /// it was removed, demoted or erased). Make a new key if it is still wanted.
    pub revoked_reason: Option<String>,
    /// When it last wrote an event or read (to the minute).
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ApiKeys {
    pub items: Vec<ApiKey>,
    pub next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/workspaces/{id}/api-keys", tag = "workspaces", description = "the workspace's API keys, newest first, revoked ones included, without secrets (admins and owners)",
    params(crate::extract::Page, ("id" = uuid::Uuid, Path, description = "the workspace"), ("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")),
    responses((status = 200, body = ApiKeys), (status = 400), (status = 401), (status = 403), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn api_keys(
    State(s): State<AppState>,
    Caller(user): Caller,
    ApiPath(id): ApiPath<WorkspaceId>,
    page: Page,
) -> Result<Json<ApiKeys>, ReadError> {
    match role(&s.reads(), id, user).await? {
        prism_domain::Role::Owner | prism_domain::Role::Admin => {}
        prism_domain::Role::Member => {
            return Err(ReadError::Forbidden("this is for the workspace's admins and owners"))
        }
    }
    let limit = page.limit()?;
    let rows =
        prism_projections::read_models::api_keys::of_workspace(&s.reads(), id, page.cursor()?, limit + 1).await?;
    let page = List::page(rows, limit, |k| k.id);
    Ok(Json(ApiKeys {
        items: page
            .items
            .into_iter()
            .map(|k| ApiKey {
                id: k.id,
                name: k.name,
                scopes: k.scopes,
                created_by: k.created_by,
                created_at: k.created_at,
                expires_at: k.expires_at,
                revoked_at: k.revoked_at,
                revoked_reason: k.revoked_reason,
                last_used_at: k.last_used_at,
            })
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// A webhook endpoint as its workspace's admins see it: never its secret.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Webhook {
    pub id: uuid::Uuid,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub enabled: bool,
    /// Why Prism turned it off: `grantor_lost_authority` (whoever last set it up was removed,
    /// demoted or erased; an owner or admin who enables it again vouches for it), or what its
    /// deliveries did. None when enabled, or turned off by hand.
    pub disabled_reason: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Webhooks {
    pub items: Vec<Webhook>,
    pub next_cursor: Option<String>,
}

/// Admins and owners of `ws`, or 403 (404 for anyone else).
async fn admin_of(s: &AppState, ws: WorkspaceId, user: prism_domain::UserId) -> Result<(), ReadError> {
    match role(&s.reads(), ws, user).await? {
        prism_domain::Role::Owner | prism_domain::Role::Admin => Ok(()),
        prism_domain::Role::Member => Err(ReadError::Forbidden("this is for the workspace's admins and owners")),
    }
}

#[utoipa::path(get, path = "/v1/workspaces/{id}/webhooks", tag = "webhooks", description = "the workspace's webhook endpoints, without secrets (admins and owners)",
    params(("id" = uuid::Uuid, Path, description = "the workspace"), ("X-Min-Position" = Option<i64>, Header, description = "wait until the delivery worker's projection reaches this position")),
    responses((status = 200, body = Webhooks), (status = 401), (status = 403), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn webhooks(
    State(s): State<AppState>,
    Caller(user): Caller,
    ApiPath(id): ApiPath<WorkspaceId>,
) -> Result<Json<Webhooks>, ReadError> {
    admin_of(&s, id, user).await?;
    let rows = prism_projections::webhooks::endpoints(&s.reads(), id.0).await?;
    Ok(Json(Webhooks {
        items: rows
            .into_iter()
            .map(|e| Webhook {
                id: e.id,
                url: e.url,
                events: e.events,
                description: e.description,
                enabled: e.enabled,
                disabled_reason: e.disabled_reason,
                created_at: e.created_at,
            })
            .collect(),
        next_cursor: None,
    }))
}

/// One delivery of a webhook.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub id: uuid::Uuid,
    pub event_id: uuid::Uuid,
    pub event_type: String,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    pub attempts: i32,
    /// The receiver's last HTTP status, if it answered.
    pub last_status: Option<i32>,
    /// When it is tried next (pending ones).
    pub next_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Deliveries {
    pub items: Vec<Delivery>,
    pub next_cursor: Option<String>,
}

/// What a delivery's `status` may be.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Dead,
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryFilter {
    /// `pending`, `delivered` or `dead`.
    #[param(value_type = Option<DeliveryStatus>, inline)]
    pub status: Option<String>,
}

#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = "webhooks", description = "the webhook's deliveries, newest first (admins and owners of its workspace)",
    params(crate::extract::Page, ("id" = uuid::Uuid, Path, description = "the webhook"), DeliveryFilter, ("X-Min-Position" = Option<i64>, Header, description = "wait until the delivery worker's projection reaches this position")),
    responses((status = 200, body = Deliveries), (status = 400), (status = 401), (status = 403), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn deliveries(
    State(s): State<AppState>,
    Caller(user): Caller,
    ApiPath(id): ApiPath<uuid::Uuid>,
    crate::extract::ApiQuery(f): crate::extract::ApiQuery<DeliveryFilter>,
    page: Page,
) -> Result<Json<Deliveries>, ReadError> {
    if let Some(st) = f.status.as_deref() {
        if !matches!(st, "pending" | "delivered" | "dead") {
            return Err(ReadError::bad("invalid_query", "status is pending, delivered or dead"));
        }
    }
    let ws = prism_projections::webhooks::workspace_of(&s.reads(), id)
        .await?
        .ok_or(ReadError::NotFound)?;
    admin_of(&s, WorkspaceId(ws), user).await?;
    let limit = page.limit()?;
    let rows =
        prism_projections::webhooks::deliveries(&s.reads(), id, f.status.as_deref(), page.cursor()?, limit + 1).await?;
    let page = List::page(rows, limit, |d| d.id);
    Ok(Json(Deliveries {
        items: page
            .items
            .into_iter()
            .map(|d| Delivery {
                id: d.id,
                event_id: d.event_id,
                event_type: d.event_type,
                status: d.status,
                attempts: d.attempts,
                last_status: d.last_status,
                next_attempt_at: d.next_attempt_at,
            })
            .collect(),
        next_cursor: page.next_cursor,
    }))
}
