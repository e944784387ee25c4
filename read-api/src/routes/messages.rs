//! `/v1/channels/{id}/messages` (newest first, with reaction counts) and `/v1/messages/{id}`.
//! A conversation's id works as a channel's, for its two members only.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::{role, List};
use crate::error::ReadError;
use crate::extract::{ApiPath, Caller, Page};
use crate::AppState;

#[derive(Serialize, sqlx::FromRow)]
pub struct Message {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub channel_id: Uuid,
    pub author_id: Uuid,
    pub body: String,
    pub parent_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub edited: bool,
    pub deleted: bool,
    pub reply_count: i32,
    pub version: i64,
    #[sqlx(skip)]
    pub reactions: BTreeMap<String, i64>,
}

const MESSAGE: &str =
    "SELECT message_id AS id, workspace_id, channel_id, author_id, body, parent_id, created_at, edited_at,
        edited_at IS NOT NULL AS edited, deleted, reply_count, version FROM rm_messages";

/// May `user` read `target` (a channel or a conversation)?
pub async fn can_read(pool: &PgPool, target: Uuid, user: Uuid) -> Result<(), ReadError> {
    let channel: Option<Uuid> =
        sqlx::query_scalar("SELECT workspace_id FROM rm_channels WHERE channel_id = $1 AND NOT deleted")
            .bind(target)
            .fetch_optional(pool)
            .await?;
    if let Some(ws) = channel {
        return role(pool, ws, user).await.map(|_| ());
    }
    let conv: Option<Uuid> = sqlx::query_scalar(
        "SELECT workspace_id FROM rm_conversations WHERE conversation_id = $1 AND (member_a = $2 OR member_b = $2)",
    )
    .bind(target)
    .bind(user)
    .fetch_optional(pool)
    .await?;
    match conv {
        Some(ws) => role(pool, ws, user).await.map(|_| ()),
        None => Err(ReadError::NotFound),
    }
}

async fn with_reactions(pool: &PgPool, mut rows: Vec<Message>) -> Result<Vec<Message>, ReadError> {
    let ids: Vec<Uuid> = rows.iter().map(|m| m.id).collect();
    let counts: Vec<(Uuid, String, i64)> =
        sqlx::query_as("SELECT message_id, emoji, count(*) FROM rm_reactions WHERE message_id = ANY($1) GROUP BY 1, 2")
            .bind(&ids)
            .fetch_all(pool)
            .await?;
    for (id, emoji, n) in counts {
        if let Some(m) = rows.iter_mut().find(|m| m.id == id) {
            m.reactions.insert(emoji, n);
        }
    }
    Ok(rows)
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
    let rows: Vec<Message> = sqlx::query_as(&format!(
        "{MESSAGE} WHERE channel_id = $1 AND ($2::uuid IS NULL OR message_id < $2) ORDER BY message_id DESC LIMIT $3"
    ))
    .bind(target)
    .bind(page.cursor()?)
    .bind(limit + 1)
    .fetch_all(&s.pool)
    .await?;
    let page = List::page(rows, limit, |m| m.id);
    Ok(Json(List {
        items: with_reactions(&s.pool, page.items).await?,
        next_cursor: page.next_cursor,
    }))
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
    let mut rows = with_reactions(&s.pool, vec![m]).await?;
    rows.pop().map(Json).ok_or(ReadError::NotFound)
}
