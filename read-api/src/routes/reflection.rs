//! The caller's reflection: mirror sessions, turns, lens goals and today's affirmation. Only
//! ever the caller's own rows (another user's id is 404, whatever the caller's role); text is
//! opened with the owner's key here, at the last moment.

use std::collections::HashMap;

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use prism_domain::{MirrorSessionId, TurnId, UserId};
use prism_projections::read_models::reflection::{self, SessionRow, TurnRow};
use prism_vault::{Opener, Scope};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::List;
use crate::error::ReadError;
use crate::extract::{ApiPath, ApiQuery, Myself, Page};
use crate::AppState;

const HDR: &str = "wait until the read models reach this position";

#[derive(Serialize)]
pub struct Session {
    pub id: Uuid,
    pub started_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub reflection: Option<String>,
    pub message_count: i32,
    pub crisis_count: i32,
    pub last_activity: DateTime<Utc>,
}

fn open(o: &Opener, v: Option<String>) -> Result<Option<String>, ReadError> {
    Ok(v.map(|v| o.open(&v)).transpose()?)
}

fn session_of(o: &Opener, r: SessionRow) -> Result<Session, ReadError> {
    Ok(Session {
        id: r.id,
        started_at: r.started_at,
        closed_at: r.closed_at,
        reflection: open(o, r.reflection)?,
        message_count: r.message_count,
        crisis_count: r.crisis_count,
        last_activity: r.last_activity,
    })
}

#[utoipa::path(get, path = "/v1/mirror/sessions", tag = "reflection", description = "the caller's sessions, newest first",
    params(crate::extract::Page, ("X-Min-Position" = Option<i64>, Header, description = HDR)), responses((status = 200), (status = 401)))]
pub async fn sessions(
    State(s): State<AppState>,
    Myself(user): Myself,
    page: Page,
) -> Result<Json<List<Session>>, ReadError> {
    let limit = page.limit()?;
    let rows = reflection::sessions(&s.reads(), user, page.cursor()?, limit + 1).await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let openers = s.vault.openers(user, &ids).await?;
    let items = rows
        .into_iter()
        .map(|r| {
            let o = openers.get(&r.id).ok_or(ReadError::NotFound)?;
            session_of(o, r)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(List::page(items, limit, |x| x.id)))
}

#[utoipa::path(get, path = "/v1/mirror/sessions/{id}", tag = "reflection",
    description = "one of the caller's sessions with its messages and their fragments (crisis messages are not kept: text null)",
    params(("X-Min-Position" = Option<i64>, Header, description = HDR)), responses((status = 200), (status = 401), (status = 404)))]
pub async fn session(
    State(s): State<AppState>,
    Myself(user): Myself,
    ApiPath(id): ApiPath<MirrorSessionId>,
) -> Result<Json<Value>, ReadError> {
    Ok(Json(session_detail(&s, user, id).await?))
}

/// One session of `user`, with its messages and fragments, opened (404 if not theirs).
pub(crate) async fn session_detail(s: &AppState, user: UserId, id: MirrorSessionId) -> Result<Value, ReadError> {
    let (row, messages, fragments) = reflection::session(&s.reads(), user, id)
        .await?
        .ok_or(ReadError::NotFound)?;
    let o = s.vault.opener(Scope::of(user, id.0)).await?;
    let mut by_message: HashMap<Uuid, Vec<Value>> = HashMap::new();
    for f in fragments {
        by_message.entry(f.message_id).or_default().push(json!({
            "id": f.id, "category": f.category, "start": f.start_char, "end": f.end_char,
            "confidence": f.confidence, "reframe": open(&o, f.reframe)?,
        }));
    }
    let messages = messages
        .into_iter()
        .map(|m| {
            Ok(json!({
                "id": m.id, "text": open(&o, m.text)?, "crisis": m.crisis, "created_at": m.created_at,
                "fragments": by_message.remove(&m.id).unwrap_or_default(),
            }))
        })
        .collect::<Result<Vec<_>, ReadError>>()?;
    let mut body = serde_json::to_value(session_of(&o, row)?).map_err(|e| ReadError::Internal(e.to_string()))?;
    body["messages"] = json!(messages);
    Ok(body)
}

#[derive(Serialize)]
pub struct Turn {
    pub id: Uuid,
    /// Null for a crisis turn: its text is never kept.
    pub text: Option<String>,
    pub crisis: bool,
    pub reframes: Vec<String>,
    pub micro_action: Option<String>,
    pub saved: bool,
    pub created_at: DateTime<Utc>,
}

fn turn_of(o: &Opener, r: TurnRow) -> Result<Turn, ReadError> {
    Ok(Turn {
        id: r.id,
        text: open(o, r.text)?,
        crisis: r.crisis,
        reframes: r
            .reframes
            .map(|j| j.0)
            .unwrap_or_default()
            .iter()
            .map(|x| o.open(x))
            .collect::<Result<_, _>>()?,
        micro_action: open(o, r.micro_action)?,
        saved: r.saved,
        created_at: r.created_at,
    })
}

/// `?saved=true` (only saved turns) or `?saved=false` (only unsaved); all when absent.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TurnFilter {
    /// Only the saved ones.
    pub saved: Option<bool>,
}

#[utoipa::path(get, path = "/v1/turns", tag = "reflection", description = "the caller's turns, newest first; `?saved=true` for saved ones",
    params(crate::extract::Page, TurnFilter, ("X-Min-Position" = Option<i64>, Header, description = HDR)), responses((status = 200), (status = 400), (status = 401)))]
pub async fn turns(
    State(s): State<AppState>,
    Myself(user): Myself,
    page: Page,
    ApiQuery(filter): ApiQuery<TurnFilter>,
) -> Result<Json<List<Turn>>, ReadError> {
    Ok(Json(turns_of(&s, user, &page, &filter).await?))
}

pub(crate) async fn turns_of(
    s: &AppState,
    user: UserId,
    page: &Page,
    filter: &TurnFilter,
) -> Result<List<Turn>, ReadError> {
    let limit = page.limit()?;
    let rows = reflection::turns(&s.reads(), user, filter.saved, page.cursor()?, limit + 1).await?;
    let o = s.vault.opener(Scope::user(user)).await?;
    let items = rows
        .into_iter()
        .map(|r| turn_of(&o, r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(List::page(items, limit, |t| t.id))
}

#[utoipa::path(get, path = "/v1/turns/{id}", tag = "reflection", description = "one of the caller's turns",
    params(("X-Min-Position" = Option<i64>, Header, description = HDR)), responses((status = 200), (status = 401), (status = 404)))]
pub async fn turn(
    State(s): State<AppState>,
    Myself(user): Myself,
    ApiPath(id): ApiPath<TurnId>,
) -> Result<Json<Turn>, ReadError> {
    let row = reflection::turn(&s.reads(), user, id)
        .await?
        .ok_or(ReadError::NotFound)?;
    let o = s.vault.opener(Scope::user(user)).await?;
    Ok(Json(turn_of(&o, row)?))
}

/// The caller's goals with their actions, opened.
pub(crate) async fn goals_of(s: &AppState, user: UserId) -> Result<Vec<Value>, ReadError> {
    let (goals, actions) = reflection::goals(&s.reads(), user).await?;
    let o = s.vault.opener(Scope::user(user)).await?;
    let mut by_goal: HashMap<Uuid, Vec<Value>> = HashMap::new();
    for a in actions {
        by_goal.entry(a.goal_id).or_default().push(json!({
            "id": a.id, "title": o.open(&a.title)?, "created_at": a.created_at,
            "completed": a.completed_at.is_some(), "completed_at": a.completed_at,
        }));
    }
    goals
        .into_iter()
        .map(|g| {
            let (id, title, created_at) = (g.id, g.title, g.created_at);
            let actions = by_goal.remove(&id).unwrap_or_default();
            let done = actions.iter().filter(|a| a["completed"] == true).count();
            Ok(json!({
                "id": id, "title": o.open(&title)?, "created_at": created_at,
                "actions": actions.len(), "completed": done, "items": actions,
            }))
        })
        .collect()
}

#[utoipa::path(get, path = "/v1/lens/goals", tag = "reflection", description = "the caller's goals with their actions",
    params(("X-Min-Position" = Option<i64>, Header, description = HDR)), responses((status = 200), (status = 401)))]
pub async fn goals(State(s): State<AppState>, Myself(user): Myself) -> Result<Json<Value>, ReadError> {
    Ok(Json(json!({ "items": goals_of(&s, user).await? })))
}

fn stable_pick(user: UserId, day: chrono::NaiveDate, n: usize) -> usize {
    // FNV-1a over the user id and the day: stable across processes and releases.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in user.0.as_bytes().iter().chain(day.to_string().as_bytes()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % n.max(1) as u64) as usize
}

#[utoipa::path(get, path = "/v1/lens/affirmation/today", tag = "reflection",
    description = "today's focus: an affirmation and, if the caller has goals, one open action to take today (the same all day)",
    params(("X-Min-Position" = Option<i64>, Header, description = HDR)), responses((status = 200), (status = 401)))]
pub async fn affirmation(State(s): State<AppState>, Myself(user): Myself) -> Result<Json<Value>, ReadError> {
    let today = Utc::now().date_naive();
    // The day's set as the AI gateway wrote it (off the request path), else the templates;
    // one of them by a stable hash of (user, day), the same all day long.
    let written = prism_projections::read_models::affirmations(&s.reads(), today)
        .await
        .map_err(|e| ReadError::Internal(e.to_string()))?;
    let affirmation = match written.filter(|w| !w.is_empty()) {
        Some(set) => set[stable_pick(user, today, set.len())].clone(),
        None => {
            let t = prism_ai_gateway::builtin::AFFIRMATIONS;
            t[stable_pick(user, today, t.len())].to_owned()
        }
    };
    let goals = goals_of(&s, user).await?;
    let open: Vec<(&Value, &Value)> = goals
        .iter()
        .flat_map(|g| {
            g["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| a["completed"] == false)
                .map(move |a| (g, a))
        })
        .collect();
    let focus = (!open.is_empty()).then(|| {
        let (g, a) = open[stable_pick(user, today, open.len())];
        json!({"goal_id": g["id"], "goal": g["title"], "action_id": a["id"], "action": a["title"]})
    });
    Ok(Json(json!({
        "date": today,
        "affirmation": affirmation,
        "focus": focus,
    })))
}
