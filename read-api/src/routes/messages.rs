//! `/v1/channels/{id}/messages` (newest first, with reaction counts) and `/v1/messages/{id}`.
//! A conversation's id works as a channel's, for its two members only.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::List;
use crate::error::ReadError;
use crate::extract::{ApiPath, Caller, Page};
use crate::AppState;

#[derive(Serialize, sqlx::FromRow)]
pub struct Message {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub channel_id: Uuid,
    pub author_id: Uuid,
    /// The author's display name ("erased user" once they erased their account).
    pub author_name: Option<String>,
    pub body: String,
    pub parent_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub edited: bool,
    pub deleted: bool,
    pub reply_count: i32,
    pub version: i64,
    /// emoji → how many reacted with it.
    #[sqlx(json)]
    pub reactions: BTreeMap<String, i64>,
}

/// A message with its reaction counts (kept on the row by the projection).
const MESSAGE: &str = "SELECT message_id AS id, workspace_id, channel_id, author_id,
        (SELECT u.name FROM rm_users u WHERE u.user_id = rm_messages.author_id) AS author_name,
        body, parent_id, created_at, edited_at,
        edited_at IS NOT NULL AS edited, deleted, reply_count, version, reactions FROM rm_messages";

/// May `user` read `target` (a channel or a conversation)? One query: the channel (or the
/// conversation the caller is part of) in a live workspace the caller is a member of.
pub async fn can_read(pool: &PgPool, target: Uuid, user: Uuid) -> Result<(), ReadError> {
    let ok: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM rm_members m JOIN rm_workspaces w ON w.workspace_id = m.workspace_id AND NOT w.deleted
          WHERE m.user_id = $2 AND m.workspace_id = coalesce(
                (SELECT c.workspace_id FROM rm_channels c WHERE c.channel_id = $1 AND NOT c.deleted),
                (SELECT v.workspace_id FROM rm_conversations v WHERE v.conversation_id = $1 AND (v.member_a = $2 OR v.member_b = $2)))",
    )
    .bind(target)
    .bind(user)
    .fetch_optional(pool)
    .await?;
    ok.map(|_| ()).ok_or(ReadError::NotFound)
}

#[utoipa::path(get, path = "/v1/channels/{id}/messages", tag = "messages", description = "messages, newest first, with reaction counts", params(("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")), responses((status = 200), (status = 401), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn list(
    State(s): State<AppState>,
    Caller(user): Caller,
    ApiPath(target): ApiPath<Uuid>,
    page: Page,
) -> Result<Json<List<Message>>, ReadError> {
    can_read(&s.pool, target, user).await?;
    let limit = page.limit()?;
    let mut rows: Vec<Message> = sqlx::query_as(&format!(
        "{MESSAGE} WHERE channel_id = $1 AND ($2::uuid IS NULL OR message_id < $2) ORDER BY message_id DESC LIMIT $3"
    ))
    .bind(target)
    .bind(page.cursor()?)
    .bind(limit + 1)
    .fetch_all(&s.pool)
    .await?;
    open_authors(&s, &mut rows).await?;
    Ok(Json(List::page(rows, limit, |m| m.id)))
}

#[utoipa::path(get, path = "/v1/messages/{id}", tag = "messages", description = "one message", params(("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")), responses((status = 200), (status = 401), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn get(
    State(s): State<AppState>,
    Caller(user): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Message>, ReadError> {
    let row: Option<Message> = sqlx::query_as(&format!("{MESSAGE} WHERE message_id = $1"))
        .bind(id)
        .fetch_optional(&s.pool)
        .await?;
    let m = row.ok_or(ReadError::NotFound)?;
    can_read(&s.pool, m.channel_id, user).await?;
    let mut one = [m];
    open_authors(&s, &mut one).await?;
    let [m] = one;
    Ok(Json(m))
}

/// The authors' display names, opened (they are sealed in the log and the read model).
async fn open_authors(s: &AppState, rows: &mut [Message]) -> Result<(), ReadError> {
    let fields = rows
        .iter_mut()
        .filter_map(|m| {
            let id = m.author_id;
            m.author_name.as_mut().map(|n| (id, n))
        })
        .collect();
    super::open_profiles(s, fields).await
}
