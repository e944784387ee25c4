//! `GET /v1/workspaces/{id}/stream`: Server-Sent Events of the workspace's kernel events.
//!
//! Membership is checked at connect and followed in the stream itself: when the caller leaves
//! or is removed (or the workspace is deleted) they get a final `revoked` event and it ends. Each event's SSE
//! id is its global position, so a client reconnecting with `Last-Event-ID` resumes exactly
//! where it stopped (the feed reads the log below the safe horizon, so nothing is skipped).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::stream::Stream;
use uuid::Uuid;

use super::role;
use crate::error::ReadError;
use crate::extract::{ApiPath, Caller};
use crate::AppState;

/// How often an idle stream looks for new events.
const POLL: Duration = Duration::from_millis(100);

#[utoipa::path(get, path = "/v1/workspaces/{id}/stream", tag = "stream", description = "Server-Sent Events of the workspace", params(("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")), responses((status = 200), (status = 401), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn stream(
    State(s): State<AppState>,
    Caller(user): Caller,
    ApiPath(ws): ApiPath<Uuid>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ReadError> {
    role(&s.pool, ws, user).await?;
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok());
    let start = match resume {
        Some(p) => p,
        None => s
            .feed
            .horizon()
            .await
            .map_err(|e| ReadError::Unavailable(e.to_string()))?,
    };
    let events = futures::stream::unfold((s, start, false), move |(s, mut cp, done)| async move {
        if done {
            return None;
        }
        loop {
            let batch = match s.feed.tail(ws, cp, 1).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "stream read failed");
                    tokio::time::sleep(POLL).await;
                    continue;
                }
            };
            let Some(e) = batch.into_iter().next() else {
                tokio::time::sleep(POLL).await;
                continue;
            };
            cp = e.global_position;
            // Decided on the event itself, not on a read model that may lag behind it.
            let leaves = e.event_type == "member.left"
                && e.payload.get("user_id").and_then(|v| v.as_str()) == Some(&user.to_string());
            if leaves || e.event_type == "workspace.deleted" {
                let bye = Event::default()
                    .event("revoked")
                    .data("you are no longer a member of this workspace");
                return Some((Ok(bye), (s, cp, true)));
            }
            let event = Event::default()
                .id(e.global_position.to_string())
                .event(e.event_type.clone())
                .json_data(&e)
                .unwrap_or_else(|_| Event::default().event("error").data("unserialisable event"));
            return Some((Ok(event), (s, cp, false)));
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
