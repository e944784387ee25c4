//! `GET /v1/me/export`: every piece of the caller's data, as JSON, with their journal text
//! opened — the account, memberships, the messages and docs they wrote, every mirror session
//! in full, turns, goals, their spectrum, their plan and metered usage.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
use uuid::Uuid;

use super::reflection::{goals_of, session_detail};
use crate::error::ReadError;
use crate::extract::Caller;
use crate::AppState;

/// Rows of `sql` (one `$1` = the caller) as JSON objects.
async fn rows(s: &AppState, sql: &str, user: Uuid) -> Result<Vec<Value>, ReadError> {
    let q = format!("SELECT to_jsonb(t) FROM ({sql}) t");
    Ok(sqlx::query_scalar(&q).bind(user).fetch_all(&s.pool).await?)
}

#[utoipa::path(get, path = "/v1/me/export", tag = "me", description = "every piece of the caller's data, as JSON",
    params(("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")),
    responses((status = 200), (status = 401), (status = 404)))]
pub async fn export(State(s): State<AppState>, Caller(user): Caller) -> Result<Json<Value>, ReadError> {
    let account = rows(
        &s,
        "SELECT user_id, email, name, registered_at FROM rm_users WHERE user_id = $1",
        user,
    )
    .await?;
    let mut account = account.into_iter().next().ok_or(ReadError::NotFound)?;
    for field in ["email", "name"] {
        if let Some(Value::String(v)) = account.get_mut(field) {
            super::open_profiles(&s, vec![(user, v)]).await?;
        }
    }
    let memberships = rows(
        &s,
        "SELECT m.workspace_id, w.name AS workspace, m.role, m.joined_at FROM rm_members m \
         JOIN rm_workspaces w USING (workspace_id) WHERE m.user_id = $1 ORDER BY m.workspace_id",
        user,
    )
    .await?;
    let messages = rows(
        &s,
        "SELECT message_id, workspace_id, channel_id, body, created_at, edited_at, deleted FROM rm_messages \
         WHERE author_id = $1 ORDER BY message_id",
        user,
    )
    .await?;
    let docs = rows(
        &s,
        "SELECT doc_id, workspace_id, title, body, created_at, updated_at, deleted FROM rm_docs WHERE author_id = $1 ORDER BY doc_id",
        user,
    )
    .await?;
    let session_ids: Vec<Uuid> =
        sqlx::query_scalar("SELECT session_id FROM rm_mirror_sessions WHERE owner_id = $1 ORDER BY session_id")
            .bind(user)
            .fetch_all(&s.pool)
            .await?;
    let mut sessions = Vec::with_capacity(session_ids.len());
    for id in session_ids {
        sessions.push(session_detail(&s, user, id).await?);
    }
    let mut turns = Vec::new();
    let mut page = crate::extract::Page {
        limit: Some(200),
        cursor: None,
    };
    loop {
        let list = super::reflection::turns_of(&s, user, &page).await?;
        turns.extend(list.items);
        match list.next_cursor {
            Some(c) => page.cursor = Some(c),
            None => break,
        }
    }
    let spectrum = rows(
        &s,
        "SELECT * FROM spectrum_buckets WHERE subject_kind = 'user' AND subject_id = $1 ORDER BY period, period_start",
        user,
    )
    .await?;
    let plan: Option<String> = sqlx::query_scalar("SELECT plan FROM entitlements WHERE user_id = $1")
        .bind(user)
        .fetch_optional(&s.pool)
        .await?;
    let usage = rows(
        &s,
        "SELECT feature, day, used, prompt_tokens, completion_tokens FROM usage_counters WHERE user_id = $1 ORDER BY day, feature",
        user,
    )
    .await?;
    Ok(Json(json!({
        "exported_at": chrono::Utc::now(),
        "account": account,
        "plan": plan.unwrap_or_else(|| "free".into()),
        "memberships": memberships,
        "messages": messages,
        "docs": docs,
        "mirror_sessions": sessions,
        "turns": turns,
        "lens_goals": goals_of(&s, user).await?,
        "spectrum": spectrum,
        "usage": usage,
    })))
}
