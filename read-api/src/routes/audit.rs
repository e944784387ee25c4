//! `/v1/workspaces/{id}/audit` (admins and owners), `/v1/workspaces/{id}/audit/verify`, and
//! `/v1/audit` (the platform trail, sign-ins included, for the `auditor` role).

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use prism_domain::{UserId, WorkspaceId};
use prism_projections::audit::{self, AuditEntry};
use prism_projections::history::Finding;
use prism_projections::visibility::Viewer;

use super::history::viewer;
use super::oversee;
use crate::error::ReadError;
use crate::extract::{ApiPath, ApiQuery, Principal};
use crate::AppState;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Only this actor's events.
    pub actor: Option<Uuid>,
    /// Only this event type, e.g. `member.left`.
    pub action: Option<String>,
    /// From this time (RFC 3339), inclusive.
    pub from: Option<DateTime<Utc>>,
    /// Until this time (RFC 3339), exclusive.
    pub to: Option<DateTime<Utc>>,
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(value_type = Option<i64>)]
    pub cursor: Option<String>,
    /// `/v1/audit` only: one workspace.
    pub workspace_id: Option<Uuid>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    pub next_cursor: Option<String>,
}

/// A page of the trail as `viewer` may see it (`None`: all of it, for auditors).
async fn trail(
    s: &AppState,
    workspace: Option<WorkspaceId>,
    f: &AuditFilter,
    viewer: Option<&Viewer>,
) -> Result<AuditPage, ReadError> {
    let limit = match f.limit {
        None => 50,
        Some(n) if (1..=200).contains(&n) => n,
        Some(_) => return Err(ReadError::bad("invalid_query", "limit must be between 1 and 200")),
    };
    let before = f
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| ReadError::bad("invalid_cursor", "the cursor is not one we gave"))
        })
        .transpose()?;
    if let (Some(a), Some(b)) = (f.from, f.to) {
        // An empty range holds nothing.
        if a >= b {
            return Ok(AuditPage {
                items: Vec::new(),
                next_cursor: None,
            });
        }
    }
    let filter = audit::TrailFilter {
        workspace,
        actor: f.actor.map(UserId),
        action: f.action.as_deref(),
        from: f.from,
        to: f.to,
        before,
    };
    let (items, next) = audit::trail_as(&s.reads(), &filter, limit, viewer).await?;
    Ok(AuditPage {
        next_cursor: next.map(|p| p.to_string()),
        items,
    })
}

#[utoipa::path(get, path = "/v1/workspaces/{id}/audit", tag = "audit", description = "the workspace's audit trail, newest first (admins, owners, auditors); entries for events the caller may not see (a direct conversation they are not in) are left out",
    params(AuditFilter), responses((status = 200, body = AuditPage), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn workspace(
    State(s): State<AppState>,
    who: Principal,
    ApiPath(ws): ApiPath<WorkspaceId>,
    ApiQuery(f): ApiQuery<AuditFilter>,
) -> Result<Json<AuditPage>, ReadError> {
    oversee(&s, &who, ws).await?;
    let viewer = viewer(&s, &who, Some(ws)).await?;
    Ok(Json(trail(&s, Some(ws), &f, Some(&viewer)).await?))
}

#[utoipa::path(get, path = "/v1/audit", tag = "audit", description = "the platform's audit trail, sign-ins included (auditors)",
    params(AuditFilter), responses((status = 200, body = AuditPage), (status = 400), (status = 401), (status = 403)))]
pub async fn platform(
    State(s): State<AppState>,
    who: Principal,
    ApiQuery(f): ApiQuery<AuditFilter>,
) -> Result<Json<AuditPage>, ReadError> {
    if !who.auditor {
        return Err(ReadError::Forbidden("the platform audit trail is for auditors"));
    }
    Ok(Json(trail(&s, f.workspace_id.map(WorkspaceId), &f, None).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Verification {
    pub ok: bool,
    pub checked: u64,
    /// How many events did not verify.
    pub bad: u64,
    /// The earliest event (by position) that did not verify, and why.
    #[schema(value_type = Option<Object>)]
    pub first_bad: Option<Finding>,
}

#[utoipa::path(get, path = "/v1/workspaces/{id}/audit/verify", tag = "audit", description = "recomputes the workspace's hash chains from the log and checks the audit trail's copies. `ok` is the whole workspace's; `checked`, `bad` and `first_bad` count and name only events the caller may see: `ok: false` without `first_bad` means the events that fail are in a direct conversation the caller is not in",
    responses((status = 200, body = Verification), (status = 401), (status = 403), (status = 404)))]
pub async fn verify(
    State(s): State<AppState>,
    who: Principal,
    ApiPath(ws): ApiPath<WorkspaceId>,
) -> Result<Json<Verification>, ReadError> {
    oversee(&s, &who, ws).await?;
    let viewer = viewer(&s, &who, Some(ws)).await?;
    let r = s.history.verify_as(Some(ws.0), Some(&viewer)).await?;
    Ok(Json(Verification {
        ok: r.ok,
        checked: r.checked,
        bad: r.bad,
        first_bad: r.first_bad,
    }))
}
