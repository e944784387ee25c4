//! `GET /v1/workspaces/{id}/stream`: Server-Sent Events of what the caller may see of the
//! workspace's kernel events — a projection of the log through the visibility rules
//! (`prism_projections::visibility`), never a tap on it.
//!
//! - Membership comes from the log (the workspace's own events), not from a read model, and is
//!   followed on every batch the node's tail broadcasts: when the caller leaves, is removed or
//!   the workspace is deleted, the stream sends `revoked` and ends, whatever `Last-Event-ID`
//!   said. A role change takes effect on the next event (join codes are for admins).
//! - Each event's SSE id is its global position. `Last-Event-ID` resumes after it: never from
//!   before the caller's current membership began (it is moved up to that point), never past
//!   the log's head (400). A replay shows only what REST shows now (no text of deleted or
//!   superseded messages).
//! - Who comes online or goes offline in the workspace comes as `presence.changed` (ephemeral,
//!   from the bus: [`crate::presence`]); the stream itself makes its caller online.
//! - The caller's new notifications in the workspace come as `notification` events (a second
//!   per-node tail, over the notifications the read models commit).
//! - One tail per node feeds every stream (`prism_projections::feed`); a stream costs no
//!   database work of its own once live. Streams are capped per user and per node (429).

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use prism_domain::WorkspaceId;
use prism_projections::feed::{Batch, Feed, StreamGuard};
use prism_projections::read_models::notifications::Notification;
use prism_projections::visibility::{MembershipTracker, Viewer};
use prism_projections::ProjectionError;
use tokio::sync::{broadcast, mpsc};
use uuid::Uuid;

use crate::error::ReadError;
use crate::extract::{ApiPath, Caller};
use crate::AppState;

/// Events a replay reads at a time.
const REPLAY_PAGE: i64 = 256;

#[utoipa::path(get, path = "/v1/workspaces/{id}/stream", tag = "stream",
    description = "Server-Sent Events: what the caller may see of the workspace's kernel events, as it happens. Ends with a `revoked` event when the caller's membership does.",
    params(("Last-Event-ID" = Option<String>, Header, pattern = r"^[0-9]{1,18}$", description = "resume after this position (moved up to where the caller's membership began; past the head: 409)")),
    responses((status = 200, content_type = "text/event-stream"), (status = 400), (status = 401), (status = 404), (status = 429, description = "too many open streams"), (status = 503)))]
pub async fn stream(
    State(s): State<AppState>,
    Caller(user): Caller,
    ApiPath(ws): ApiPath<WorkspaceId>,
    headers: HeaderMap,
) -> Result<Sse<impl futures::Stream<Item = Result<Event, Infallible>>>, ReadError> {
    // The token is checked again while the stream lives: it ends when the session is revoked
    // or the token expires, not only when the membership does.
    let session = Session {
        claims: crate::extract::claims(&headers, &s)?,
        revocations: s.revocations.clone(),
    };
    let resume = match headers.get("last-event-id") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(crate::extract::position)
                .ok_or_else(|| ReadError::bad("invalid_last_event_id", "Last-Event-ID must be a position we sent"))?,
        ),
    };
    let guard = s.feed.admit(user.0).ok_or(ReadError::TooMany {
        code: "too_many_streams",
        message: "too many open streams; close one and retry",
        retry_after: 5,
    })?;
    // Subscribe before reading the membership: every workspace event after it is seen live.
    let (live, published) = s.feed.subscribe().await.map_err(unavailable)?;
    let notes = s.feed.subscribe_notifications().await.map_err(unavailable)?;
    let changes = s.presence.subscribe().await;
    let member = MembershipTracker::load(s.feed.pool(), ws.0, user.0)
        .await
        .map_err(unavailable)?;
    let Some(m) = member.now else {
        return Err(ReadError::NotFound);
    };
    // Online in the workspace while this stream lives.
    let here = s.presence.open(ws.0, user.0).await;
    let start = match resume {
        Some(p) => {
            let head = s.feed.head().await.map_err(unavailable)?;
            if p > head {
                return Err(ReadError::NotReached {
                    code: "position_not_reached",
                    message: format!("position {p} is past the end of the log ({head})"),
                });
            }
            // From the event that made them a member (inclusive).
            p.max(m.since - 1)
        }
        // Never from before the caller's membership, even if this node's tail is behind.
        None => published.max(m.since - 1),
    };
    // A small buffer: a client that stops reading holds little (the shared tail's ring is
    // bounded too, and a stream that falls behind it catches up from the log).
    let (tx, mut rx) = mpsc::channel(16);
    let to = Audience {
        ws: ws.0,
        impersonated: session.claims.act.is_some(),
    };
    tokio::spawn(follow(
        s.feed.clone(),
        to,
        member,
        session,
        start,
        (live, notes, changes),
        tx,
        (guard, here),
    ));
    let events = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

fn unavailable(e: ProjectionError) -> ReadError {
    ReadError::Unavailable(e.to_string())
}

type Out = mpsc::Sender<Result<Event, Infallible>>;

/// Why a stream stopped sending.
enum End {
    /// The client went away.
    Gone,
    /// The caller is no longer a member: `revoked` was sent.
    Revoked,
}

/// The token a stream was opened with, and the node's revocations.
struct Session {
    claims: prism_auth::Claims,
    revocations: prism_auth::Revocations,
}

impl Session {
    fn ended(&self) -> bool {
        self.revocations.is_revoked(&self.claims) || chrono::Utc::now().timestamp() >= self.claims.exp
    }
}

/// How often a live stream looks at its token again.
const SESSION_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// Whose events a stream carries, and whether an admin is looking on the caller's behalf (then
/// what is an admin's secret — join codes, API keys — is not shown).
#[derive(Clone, Copy)]
struct Audience {
    ws: Uuid,
    impersonated: bool,
}

/// What a stream listens to: the log's batches, new notifications, presence changes.
type Feeds = (
    broadcast::Receiver<Arc<Batch>>,
    broadcast::Receiver<Arc<Vec<Notification>>>,
    broadcast::Receiver<crate::presence::Change>,
);

/// One stream: the replay from `start`, then the live tail, through the caller's view.
#[allow(clippy::too_many_arguments)]
async fn follow(
    feed: Feed,
    ws: Audience,
    mut member: MembershipTracker,
    session: Session,
    start: i64,
    (mut live, mut notes, mut changes): Feeds,
    tx: Out,
    _guards: (StreamGuard, crate::presence::PresenceGuard),
) {
    let mut sent = start;
    // Replay (and, after falling behind the broadcast, catch up) from the log.
    loop {
        match catch_up(&feed, ws, &mut member, &mut sent, &tx).await {
            Ok(None) => {}
            Ok(Some(_)) => return,
            Err(e) => {
                tracing::warn!(error = %e, "stream replay failed");
                return;
            }
        }
        let mut check = tokio::time::interval(SESSION_CHECK);
        loop {
            let batch = tokio::select! {
                b = live.recv() => b,
                n = notes.recv() => {
                    // Missed ones (a slow client) are in `GET /v1/notifications`.
                    if let Ok(n) = n {
                        if notify(&n, ws, &member, &tx).await.is_some() {
                            return;
                        }
                    }
                    continue;
                }
                c = changes.recv() => {
                    if let Ok(c) = c {
                        if c.workspace_id == ws.ws && member.now.is_some() {
                            let event = Event::default()
                                .event("presence.changed")
                                .json_data(c)
                                .unwrap_or_else(|_| Event::default().event("error").data("unserialisable presence"));
                            if tx.send(Ok(event)).await.is_err() {
                                return;
                            }
                        }
                    }
                    continue;
                }
                _ = tx.closed() => return,
                _ = check.tick() => {
                    if session.ended() {
                        let bye = Event::default().event("revoked").data("your session has ended; sign in again");
                        let _ = tx.send(Ok(bye)).await;
                        return;
                    }
                    continue;
                }
            };
            match batch {
                Ok(batch) => {
                    if let Some(_end) = deliver(&batch, ws, &mut member, &mut sent, &tx).await {
                        return;
                    }
                }
                // Too slow for the broadcast: read what was missed from the log itself.
                Err(broadcast::error::RecvError::Lagged(_)) => break,
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}

/// Sends the tenant's events after `sent` up to the horizon, from the log.
async fn catch_up(
    feed: &Feed,
    ws: Audience,
    member: &mut MembershipTracker,
    sent: &mut i64,
    tx: &Out,
) -> Result<Option<End>, ProjectionError> {
    // From the membership's own point if that is earlier: a removal missed while falling
    // behind is read again, even when the client resumed ahead of it.
    let mut read = (*sent).min(member.at);
    loop {
        let batch = feed.replay(ws.ws, read, REPLAY_PAGE).await?;
        let Some(last) = batch.events.last().map(|e| e.global_position) else {
            return Ok(None);
        };
        if let Some(end) = deliver(&batch, ws, member, sent, tx).await {
            return Ok(Some(end));
        }
        read = last;
    }
}

/// Sends the caller's new notifications of this workspace as `notification` events (no SSE
/// id: they are not positions of this stream).
async fn notify(notes: &[Notification], to: Audience, member: &MembershipTracker, tx: &Out) -> Option<End> {
    member.now?;
    for n in notes
        .iter()
        .filter(|n| n.user_id == member.user && n.workspace_id == to.ws)
    {
        let event = Event::default()
            .event("notification")
            .json_data(n)
            .unwrap_or_else(|_| Event::default().event("error").data("unserialisable notification"));
        if tx.send(Ok(event)).await.is_err() {
            return Some(End::Gone);
        }
    }
    None
}

/// Sends what the caller may see of `batch` (the workspace's events after `sent`), following
/// their membership through it.
async fn deliver(batch: &Batch, to: Audience, member: &mut MembershipTracker, sent: &mut i64, tx: &Out) -> Option<End> {
    let ws = to.ws;
    for e in &batch.events {
        // Every workspace event moves the membership (the tracker skips what it has folded),
        // even one at or before the resume point.
        if member.observe(e) && member.now.is_none() {
            let bye = Event::default()
                .event("revoked")
                .data("you are no longer a member of this workspace");
            let _ = tx.send(Ok(bye)).await;
            return Some(End::Revoked);
        }
        if e.tenant_id != Some(ws) || e.global_position <= *sent {
            continue;
        }
        *sent = e.global_position;
        let viewer = Viewer {
            user: member.user,
            role: member.now.map(|m| m.role),
            auditor: false,
            impersonated: to.impersonated,
        };
        let Some(shown) = batch.facts.show(e, &viewer).apply(e) else {
            continue;
        };
        let event = Event::default()
            .id(shown.global_position.to_string())
            .event(shown.event_type.clone())
            .json_data(&shown)
            .unwrap_or_else(|_| Event::default().event("error").data("unserialisable event"));
        if tx.send(Ok(event)).await.is_err() {
            return Some(End::Gone);
        }
    }
    None
}
