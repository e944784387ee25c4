//! History for auditors: `/v1/events` (the log in global order; NDJSON streaming with
//! `Accept: application/x-ndjson`), `/v1/aggregates/{type}/{id}/events` and
//! `/v1/aggregates/{type}/{id}/state?at_position=`.
//!
//! Who may read what: a workspace's events, to its admins and owners; a user's own stream, to
//! that user; everything, to the platform `auditor` role. Others get 404 (or 403 when they are
//! a plain member of the workspace). Within that, every envelope goes through the one
//! visibility policy (`prism_projections::visibility`): a direct conversation is shown to its
//! two participants only — an admin who is not one sees neither its events nor its state — and
//! an auditor sees its envelopes with the text taken out (`payload.redacted` names what).

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::stream;
use prism_projections::history::{Envelope, History, StateAt, AGGREGATE_TYPES};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use prism_domain::WorkspaceId;
use prism_projections::visibility::{self, Viewer};

use super::{oversee, role};
use crate::error::ReadError;
use crate::extract::{ApiPath, ApiQuery, Principal};
use crate::AppState;

/// Types whose events can be listed: the aggregates, and sign-in records.
const EVENT_STREAM_TYPES: &[&str] = &["user", "workspace", "channel", "message", "conversation", "doc", "auth"];

/// `{type}` of `/v1/aggregates/{type}/{id}/events`: [`EVENT_STREAM_TYPES`], for the contract.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StreamType {
    User,
    Workspace,
    Channel,
    Message,
    Conversation,
    Doc,
    Auth,
}

/// `{type}` of `/v1/aggregates/{type}/{id}/state`: the aggregates with a state to replay
/// ([`AGGREGATE_TYPES`]), for the contract.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AggregateType {
    User,
    Workspace,
    Channel,
    Message,
    Conversation,
    Doc,
}

const NDJSON: &str = "application/x-ndjson";

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Events after this global position (default 0).
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// JSON: 1–1000, default 100. NDJSON: any number, default all up to now.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// One workspace's events (its admins and owners); without it, auditors only.
    pub workspace_id: Option<Uuid>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EventsPage {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<prism_projections::history::Envelope>,
    /// Pass as `after` for the next page; absent when this page reached the end of the log.
    pub next_after: Option<i64>,
}

fn wants_ndjson(h: &HeaderMap) -> bool {
    h.get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains(NDJSON))
}

#[utoipa::path(get, path = "/v1/events", tag = "history", description = "event envelopes in global order, as stored (their hashes verify); `Accept: application/x-ndjson` streams",
    params(EventsQuery), responses((status = 200, body = EventsPage), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn events(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Result<Response, ReadError> {
    let after = q.after.unwrap_or(0);
    if after < 0 {
        return Err(ReadError::bad("invalid_query", "after must be a non-negative position"));
    }
    let viewer = match q.workspace_id.map(WorkspaceId) {
        Some(ws) => {
            oversee(&s, &who, ws).await?;
            viewer(&s, &who, Some(ws)).await?
        }
        None if who.auditor => viewer(&s, &who, None).await?,
        None => {
            return Err(ReadError::Forbidden(
                "the whole log is for auditors; pass workspace_id for a workspace you administer",
            ))
        }
    };
    if wants_ndjson(&headers) {
        let limit = match q.limit {
            None => i64::MAX,
            Some(n) if n >= 1 => n,
            Some(_) => return Err(ReadError::bad("invalid_query", "limit must be at least 1")),
        };
        return Ok(ndjson(s.history.clone(), after, limit, q.workspace_id, viewer));
    }
    let limit = match q.limit {
        None => 100,
        Some(n) if (1..=1000).contains(&n) => n,
        Some(_) => return Err(ReadError::bad("invalid_query", "limit must be between 1 and 1000")),
    };
    let items = s.history.events(after, limit, q.workspace_id).await?;
    // Paged on what the log holds, so a page thinned by the policy still says where to go on.
    let next_after = (items.len() as i64 == limit)
        .then(|| items.last().map(|e| e.global_position))
        .flatten();
    let items = visibility::shown_to(&s.reads(), items, &viewer).await?;
    Ok(Json(EventsPage { items, next_after }).into_response())
}

/// Streams pages of the log as NDJSON, one envelope a line, without holding it in memory. An
/// error mid-stream ends the body early (the client sees a truncated stream, never a bad line).
fn ndjson(history: History, after: i64, limit: i64, workspace: Option<Uuid>, viewer: Viewer) -> Response {
    const PAGE: i64 = 1000;
    let pages = stream::unfold((after, limit), move |(after, left)| {
        let history = history.clone();
        async move {
            if left <= 0 {
                return None;
            }
            match history.events(after, PAGE.min(left), workspace).await {
                Ok(events) if events.is_empty() => None,
                Ok(events) => {
                    let last = events.last().map_or(after, |e| e.global_position);
                    let read = events.len() as i64;
                    let events = match visibility::shown_to(history.store().pool(), events, &viewer).await {
                        Ok(shown) => shown,
                        Err(e) => {
                            tracing::warn!(error = %e, "event stream ended early");
                            return Some((Err(std::io::Error::other(e.to_string())), (after, 0)));
                        }
                    };
                    let mut out = Vec::with_capacity(events.len() * 512);
                    for e in &events {
                        if serde_json::to_writer(&mut out, e).is_err() {
                            return Some((Err(std::io::Error::other("serialisation")), (after, 0)));
                        }
                        out.push(b'\n');
                    }
                    Some((Ok::<_, std::io::Error>(out), (last, left - read)))
                }
                Err(e) => {
                    tracing::warn!(error = %e, "event stream ended early");
                    Some((Err(std::io::Error::other(e.to_string())), (after, 0)))
                }
            }
        }
    });
    let mut res = Body::from_stream(pages).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(NDJSON));
    res
}

/// Who the caller is to the visibility policy in `workspace`.
pub(crate) async fn viewer(s: &AppState, who: &Principal, workspace: Option<WorkspaceId>) -> Result<Viewer, ReadError> {
    let role = match workspace {
        Some(ws) => match role(&s.reads(), ws, who.user).await {
            Ok(r) => Some(r),
            Err(ReadError::NotFound) => None,
            Err(e) => return Err(e),
        },
        None => None,
    };
    Ok(Viewer {
        user: who.user.0,
        role,
        auditor: who.auditor,
        impersonated: who.impersonated,
    })
}

/// Whether the caller may read this aggregate's history (404 if it does not exist for them),
/// and its events as the caller is shown them (none hidden: a conversation they may not see is
/// not found).
async fn may_read(s: &AppState, who: &Principal, ty: &str, id: Uuid) -> Result<Vec<Envelope>, ReadError> {
    if !EVENT_STREAM_TYPES.contains(&ty) {
        return Err(ReadError::bad(
            "invalid_aggregate_type",
            format!(
                "unknown aggregate type `{ty}`; one of {}",
                EVENT_STREAM_TYPES.join(", ")
            ),
        ));
    }
    let tenant = match s.history.tenant_of(ty, id).await? {
        None => return Err(ReadError::NotFound),
        Some(Some(ws)) => match oversee(s, who, WorkspaceId(ws)).await {
            Err(ReadError::Forbidden(_)) => return Err(ReadError::NotFound),
            Err(e) => return Err(e),
            Ok(()) => Some(WorkspaceId(ws)),
        },
        // A user's own stream holds what their reflection adds up to (weekly counts): theirs
        // alone, never an impersonation's.
        Some(None) if ty == "user" && id == who.user.0 && who.impersonated => {
            return Err(ReadError::NotAllowed {
                code: "impersonation_not_allowed",
                message: "not under impersonation: this is the user's alone",
            })
        }
        Some(None) if who.auditor || (ty == "user" && id == who.user.0) => None,
        Some(None) => return Err(ReadError::NotFound),
    };
    let events = s.history.aggregate_events(ty, id).await?;
    let raw = events.len();
    let shown = visibility::shown_to(&s.reads(), events, &viewer(s, who, tenant).await?).await?;
    if shown.len() < raw {
        return Err(ReadError::NotFound);
    }
    Ok(shown)
}

#[utoipa::path(get, path = "/v1/aggregates/{type}/{id}/events", tag = "history", description = "one aggregate's events, as stored",
    params(("type" = inline(StreamType), Path, description = "the stream's type"), ("id" = Uuid, Path, description = "the aggregate's id")),
    responses((status = 200, body = EventsPage), (status = 400), (status = 401), (status = 404)))]
pub async fn aggregate_events(
    State(s): State<AppState>,
    who: Principal,
    ApiPath((ty, id)): ApiPath<(String, Uuid)>,
) -> Result<Json<EventsPage>, ReadError> {
    let items = may_read(&s, &who, &ty, id).await?;
    Ok(Json(EventsPage {
        items,
        next_after: None,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StateQuery {
    /// The aggregate as it was once the log reached this position (default: now).
    #[param(minimum = 0)]
    pub at_position: Option<i64>,
}

#[utoipa::path(get, path = "/v1/aggregates/{type}/{id}/state", tag = "history", description = "the aggregate as it was at a position, replayed through the upcasters",
    params(("type" = inline(AggregateType), Path, description = "the aggregate's type"), ("id" = Uuid, Path, description = "the aggregate's id"), StateQuery),
    responses((status = 200, body = StateAt), (status = 400), (status = 401), (status = 404)))]
pub async fn state(
    State(s): State<AppState>,
    who: Principal,
    ApiPath((ty, id)): ApiPath<(String, Uuid)>,
    ApiQuery(q): ApiQuery<StateQuery>,
) -> Result<Json<StateAt>, ReadError> {
    if !AGGREGATE_TYPES.contains(&ty.as_str()) {
        return Err(ReadError::bad(
            "invalid_aggregate_type",
            format!("no state to replay for `{ty}`; one of {}", AGGREGATE_TYPES.join(", ")),
        ));
    }
    if q.at_position.is_some_and(|p| p < 0) {
        return Err(ReadError::bad(
            "invalid_query",
            "at_position must be a non-negative position",
        ));
    }
    let events = may_read(&s, &who, &ty, id).await?;
    let mut at = s
        .history
        .state_at(&ty, id, q.at_position)
        .await?
        .ok_or(ReadError::NotFound)?;
    // What the policy took out of the events is taken out of the state they replay into.
    let redacted: std::collections::BTreeSet<String> = events
        .iter()
        .filter_map(|e| e.payload.get("redacted")?.as_array().cloned())
        .flatten()
        .filter_map(|f| f.as_str().map(str::to_owned))
        .collect();
    if let (false, serde_json::Value::Object(state)) = (redacted.is_empty(), &mut at.state) {
        for f in &redacted {
            state.remove(f);
        }
        state.insert("redacted".into(), serde_json::json!(redacted));
    }
    Ok(Json(at))
}
