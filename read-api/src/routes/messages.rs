//! `/v1/channels/{id}/messages` (newest first, with reaction counts) and `/v1/messages/{id}`.
//! A conversation's id works as a channel's, for its two members only.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use prism_domain::MessageId;
use prism_projections::read_models::messages::{self, Message};
use uuid::Uuid;

use super::List;
use crate::consistency::At;
use crate::error::ReadError;
use crate::extract::{ApiPath, Page, Reader};
use crate::AppState;

/// May `who` read `target` (a channel or a conversation)? Else 404, as if it did not exist.
/// An API key reads the channels of its own workspace, never a direct conversation.
pub async fn can_read(s: &AppState, target: Uuid, who: Reader, at: i64) -> Result<(), ReadError> {
    let user = match who {
        Reader::User(user) => user,
        Reader::Key { workspace, .. } => {
            return match prism_projections::read_models::channels::workspace_of(&s.reads(), target).await? {
                Some(ws) if ws == workspace => Ok(()),
                _ => Err(ReadError::NotFound),
            };
        }
    };
    if s.hot.as_ref().is_some_and(|h| h.may_read(target, user.0, at)) {
        return Ok(());
    }
    if !messages::can_read(&s.reads(), target, user).await? {
        return Err(ReadError::NotFound);
    }
    if let Some(h) = &s.hot {
        h.offer_access(target, user.0, at);
    }
    Ok(())
}

#[utoipa::path(get, path = "/v1/channels/{id}/messages", tag = "messages", description = "messages, newest first, with reaction counts", params(crate::extract::Page, ("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")), responses((status = 200), (status = 401), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn list(
    State(s): State<AppState>,
    user: Reader,
    ApiPath(target): ApiPath<Uuid>,
    Extension(At(at)): Extension<At>,
    page: Page,
) -> Result<Response, ReadError> {
    let limit = page.limit()?;
    let cursor = page.cursor()?;
    can_read(&s, target, user, at).await?;
    // A first page is what most reads ask for: the node's hot pages answer it without Postgres
    // when they hold it as it is at the position this read reflects.
    let hot = s.hot.as_ref().filter(|_| cursor.is_none());
    if let Some(body) = hot.and_then(|h| h.page(target, limit, at)) {
        return Ok(json(body));
    }
    let mut rows = messages::page(&s.reads(), target, cursor, limit + 1).await?;
    open_authors(&s, &mut rows).await?;
    let list = List::page(rows, limit, |m| m.id);
    let body = bytes::Bytes::from(serde_json::to_vec(&list).map_err(|e| ReadError::Internal(e.to_string()))?);
    if let Some(h) = hot {
        h.offer_page(
            target,
            limit,
            at,
            body.clone(),
            list.items.iter().map(|m| m.id).collect(),
        );
    }
    Ok(json(body))
}

fn json(body: bytes::Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[utoipa::path(get, path = "/v1/messages/{id}", tag = "messages", description = "one message", params(("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")), responses((status = 200), (status = 401), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn get(
    State(s): State<AppState>,
    user: Reader,
    ApiPath(id): ApiPath<MessageId>,
    Extension(At(at)): Extension<At>,
) -> Result<Json<Message>, ReadError> {
    let m = messages::get(&s.reads(), id).await?.ok_or(ReadError::NotFound)?;
    can_read(&s, m.channel_id, user, at).await?;
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
