//! What is waiting for the caller: `GET /v1/notifications` (with `?unread=true`),
//! `GET /v1/notifications/unread-counts` and the direct-message inbox `GET /v1/conversations`.
//! All of it is the caller's own (a person, never an API key): nothing here takes a workspace
//! or a user from the request.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use prism_projections::read_models::conversations;
use prism_projections::read_models::notifications::{self, Notification};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::List;
use crate::error::ReadError;
use crate::extract::{ApiQuery, Caller, Page};
use crate::AppState;

#[derive(Debug, Deserialize)]
pub struct Unread {
    /// Only the unread ones.
    pub unread: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct Notifications {
    pub items: Vec<Notification>,
    pub next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/notifications", tag = "notifications",
    description = "the caller's notifications, newest first: mentions, replies in their threads, direct messages to them, invitations",
    params(crate::extract::Page, ("unread" = Option<bool>, Query, description = "only the unread ones"),
        ("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")),
    responses((status = 200, body = Notifications), (status = 400), (status = 401), (status = 403), (status = 503, description = "projection_behind")))]
pub async fn list(
    State(s): State<AppState>,
    Caller(user): Caller,
    ApiQuery(q): ApiQuery<Unread>,
    page: Page,
) -> Result<Json<List<Notification>>, ReadError> {
    let limit = page.limit()?;
    let rows = notifications::list(&s.reads(), user.0, q.unread.unwrap_or(false), page.cursor()?, limit + 1).await?;
    Ok(Json(List::page(rows, limit, |n| n.id)))
}

#[utoipa::path(get, path = "/v1/notifications/unread-counts", tag = "notifications",
    description = "how many unread notifications the caller has, per workspace: `{workspace_id: count}`",
    params(("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")),
    responses((status = 200, body = BTreeMap<String, i64>), (status = 401), (status = 403), (status = 503, description = "projection_behind")))]
pub async fn unread_counts(
    State(s): State<AppState>,
    Caller(user): Caller,
) -> Result<Json<BTreeMap<Uuid, i64>>, ReadError> {
    Ok(Json(
        notifications::unread_counts(&s.reads(), user.0)
            .await?
            .into_iter()
            .collect(),
    ))
}

/// The other person of a conversation.
#[derive(Serialize, ToSchema)]
pub struct OtherMember {
    pub user_id: Uuid,
    pub name: String,
}

/// The last live message of a conversation.
#[derive(Serialize, ToSchema)]
pub struct LastMessage {
    pub id: Uuid,
    pub author_id: Uuid,
    pub body: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct Conversation {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub other_member: OtherMember,
    pub last_message: Option<LastMessage>,
    /// Direct messages to the caller here not read yet.
    pub unread: i64,
    /// The last message's time, else when the conversation started.
    pub last_activity_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct Conversations {
    pub items: Vec<Conversation>,
    pub next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/conversations", tag = "notifications",
    description = "the caller's direct conversations across their workspaces, newest activity first (also those someone else started)",
    params(crate::extract::Page, ("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")),
    responses((status = 200, body = Conversations), (status = 400), (status = 401), (status = 403), (status = 503, description = "projection_behind")))]
pub async fn conversations(
    State(s): State<AppState>,
    Caller(user): Caller,
    page: Page,
) -> Result<Json<List<Conversation>>, ReadError> {
    let limit = page.limit()?;
    let mut rows = conversations::inbox(&s.reads(), user, page.cursor()?, limit + 1).await?;
    let fields = rows
        .iter_mut()
        .filter_map(|r| {
            let id = r.other_id;
            r.other_name.as_mut().map(|n| (id, n))
        })
        .collect();
    super::open_profiles(&s, fields).await?;
    let items = rows
        .into_iter()
        .map(|r| Conversation {
            id: r.id,
            workspace_id: r.workspace_id,
            other_member: OtherMember {
                user_id: r.other_id,
                name: r.other_name.unwrap_or_default(),
            },
            last_message: match (r.last_id, r.last_author, r.last_body, r.last_at) {
                (Some(id), Some(author_id), Some(body), Some(created_at)) => Some(LastMessage {
                    id,
                    author_id,
                    body,
                    created_at,
                }),
                _ => None,
            },
            unread: r.unread,
            last_activity_at: r.activity,
        })
        .collect();
    Ok(Json(List::page(items, limit, |c| c.id)))
}
