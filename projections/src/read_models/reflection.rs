//! The reflection read models: mirror sessions with their messages and fragments, turns, lens
//! goals and actions. Text is kept sealed, as the events carry it (the read API opens it with
//! the owner's key). A deleted session, and everything of an erased user, is removed.

use chrono::{DateTime, Utc};
use prism_domain::aggregates::{AiMonthEvent, LensGoalEvent, MirrorSessionEvent, TurnEvent};
use prism_domain::{MirrorSessionId, TurnId, UserId};
use prism_event_store::StoredEvent;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::ProjectionError;

// ---- reading: every query takes the owner, so no one reads another person's rows. Text comes
// back sealed, as stored; the read API opens it with the owner's key at the last moment.

/// A mirror session, `reflection` sealed.
#[derive(Debug, sqlx::FromRow)]
pub struct SessionRow {
    pub id: Uuid,
    pub started_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub reflection: Option<String>,
    pub message_count: i32,
    pub crisis_count: i32,
    pub last_activity: DateTime<Utc>,
}

/// A message of a session, `text` sealed (`None` for a crisis message: never kept).
#[derive(Debug, sqlx::FromRow)]
pub struct MessageRow {
    pub id: Uuid,
    pub text: Option<String>,
    pub crisis: bool,
    pub created_at: DateTime<Utc>,
}

/// A fragment found in a session's message, `reframe` sealed.
#[derive(Debug, sqlx::FromRow)]
pub struct FragmentRow {
    pub id: Uuid,
    pub message_id: Uuid,
    pub category: String,
    pub start_char: i32,
    pub end_char: i32,
    pub confidence: f32,
    pub reframe: Option<String>,
}

/// A turn, every text sealed.
#[derive(Debug, sqlx::FromRow)]
pub struct TurnRow {
    pub id: Uuid,
    pub text: Option<String>,
    pub crisis: bool,
    pub reframes: Option<Json<Vec<String>>>,
    pub micro_action: Option<String>,
    pub saved: bool,
    pub created_at: DateTime<Utc>,
}

/// A lens goal, `title` sealed.
#[derive(Debug, sqlx::FromRow)]
pub struct GoalRow {
    pub id: Uuid,
    pub title: String,
    pub created_at: DateTime<Utc>,
}

/// An action of a goal, `title` sealed.
#[derive(Debug, sqlx::FromRow)]
pub struct ActionRow {
    pub id: Uuid,
    pub goal_id: Uuid,
    pub title: String,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

const SESSION: &str =
    "SELECT session_id AS id, started_at, closed_at, reflection, message_count, crisis_count, last_activity \
     FROM rm_mirror_sessions";

/// `owner`'s sessions, newest first, older than `before`.
pub async fn sessions(
    pool: &PgPool,
    owner: UserId,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<SessionRow>, ProjectionError> {
    Ok(sqlx::query_as(&format!(
        "{SESSION} WHERE owner_id = $1 AND ($2::uuid IS NULL OR session_id < $2) ORDER BY session_id DESC LIMIT $3"
    ))
    .bind(owner.0)
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// The ids of `owner`'s sessions after `after`, oldest first (the export walks them).
pub async fn session_ids(pool: &PgPool, owner: UserId, after: Uuid, limit: i64) -> Result<Vec<Uuid>, ProjectionError> {
    Ok(sqlx::query_scalar(
        "SELECT session_id FROM rm_mirror_sessions WHERE owner_id = $1 AND session_id > $2 ORDER BY session_id LIMIT $3",
    )
    .bind(owner.0)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// One of `owner`'s sessions with its messages and their fragments, oldest first.
pub async fn session(
    pool: &PgPool,
    owner: UserId,
    id: MirrorSessionId,
) -> Result<Option<(SessionRow, Vec<MessageRow>, Vec<FragmentRow>)>, ProjectionError> {
    let row: Option<SessionRow> = sqlx::query_as(&format!("{SESSION} WHERE session_id = $1 AND owner_id = $2"))
        .bind(id.0)
        .bind(owner.0)
        .fetch_optional(pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let messages = sqlx::query_as(
        "SELECT message_id AS id, text, crisis, created_at FROM rm_mirror_messages WHERE session_id = $1 ORDER BY message_id",
    )
    .bind(id.0)
    .fetch_all(pool)
    .await?;
    let fragments = sqlx::query_as(
        "SELECT fragment_id AS id, message_id, category, start_char, end_char, confidence, reframe \
         FROM rm_mirror_fragments WHERE session_id = $1 ORDER BY fragment_id",
    )
    .bind(id.0)
    .fetch_all(pool)
    .await?;
    Ok(Some((row, messages, fragments)))
}

const TURN: &str = "SELECT turn_id AS id, text, crisis, reframes, micro_action, saved, created_at FROM rm_turns";

/// `owner`'s turns (only saved or unsaved ones if `saved` says), newest first, older than `before`.
pub async fn turns(
    pool: &PgPool,
    owner: UserId,
    saved: Option<bool>,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<TurnRow>, ProjectionError> {
    Ok(sqlx::query_as(&format!(
        "{TURN} WHERE owner_id = $1 AND ($2::uuid IS NULL OR turn_id < $2) AND ($4::boolean IS NULL OR saved = $4) \
         ORDER BY turn_id DESC LIMIT $3"
    ))
    .bind(owner.0)
    .bind(before)
    .bind(limit)
    .bind(saved)
    .fetch_all(pool)
    .await?)
}

/// One of `owner`'s turns.
pub async fn turn(pool: &PgPool, owner: UserId, id: TurnId) -> Result<Option<TurnRow>, ProjectionError> {
    Ok(sqlx::query_as(&format!("{TURN} WHERE turn_id = $1 AND owner_id = $2"))
        .bind(id.0)
        .bind(owner.0)
        .fetch_optional(pool)
        .await?)
}

/// `owner`'s goals and all their actions, oldest first.
pub async fn goals(pool: &PgPool, owner: UserId) -> Result<(Vec<GoalRow>, Vec<ActionRow>), ProjectionError> {
    let goals = sqlx::query_as(
        "SELECT goal_id AS id, title, created_at FROM rm_lens_goals WHERE owner_id = $1 ORDER BY goal_id",
    )
    .bind(owner.0)
    .fetch_all(pool)
    .await?;
    let actions = sqlx::query_as(
        "SELECT action_id AS id, goal_id, title, created_at, completed_at FROM rm_lens_actions WHERE owner_id = $1 ORDER BY action_id",
    )
    .bind(owner.0)
    .fetch_all(pool)
    .await?;
    Ok((goals, actions))
}

pub(super) async fn apply(tx: &mut PgConnection, e: &StoredEvent) -> Result<(), ProjectionError> {
    match e.aggregate_type.as_str() {
        "mirror_session" => mirror(tx, e).await,
        "turn" => turn_events(tx, e).await,
        "lens_goal" => lens(tx, e).await,
        "ai_month" => affirmations_written(tx, e).await,
        _ => Ok(()),
    }
}

async fn mirror(tx: &mut PgConnection, e: &StoredEvent) -> Result<(), ProjectionError> {
    use MirrorSessionEvent as E;
    let session = e.aggregate_id;
    let at = e.recorded_at;
    match super::typed::<E>(e)? {
        E::Started { owner, .. } => {
            sqlx::query(
                "INSERT INTO rm_mirror_sessions (session_id, owner_id, started_at, last_activity) \
                 VALUES ($1, $2, $3, $3) ON CONFLICT DO NOTHING",
            )
            .bind(session)
            .bind(owner.0)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        E::MessageSubmitted { message_id, text } => {
            sqlx::query(
                "WITH s AS (UPDATE rm_mirror_sessions SET message_count = message_count + 1, last_activity = $4 \
                     WHERE session_id = $2 RETURNING owner_id) \
                 INSERT INTO rm_mirror_messages (message_id, session_id, owner_id, text, crisis, created_at) \
                 SELECT $1, $2, s.owner_id, $3, false, $4 FROM s ON CONFLICT DO NOTHING",
            )
            .bind(message_id)
            .bind(session)
            .bind(text)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        E::CrisisDetected { message_id, .. } => {
            sqlx::query(
                "WITH s AS (UPDATE rm_mirror_sessions SET message_count = message_count + 1, \
                     crisis_count = crisis_count + 1, last_activity = $3 WHERE session_id = $2 RETURNING owner_id) \
                 INSERT INTO rm_mirror_messages (message_id, session_id, owner_id, text, crisis, created_at) \
                 SELECT $1, $2, s.owner_id, NULL, true, $3 FROM s ON CONFLICT DO NOTHING",
            )
            .bind(message_id)
            .bind(session)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        E::FragmentsDetected { fragments } => {
            let ids: Vec<_> = fragments.iter().map(|f| f.fragment_id).collect();
            let messages: Vec<_> = fragments.iter().map(|f| f.message_id).collect();
            let categories: Vec<_> = fragments.iter().map(|f| f.category.clone()).collect();
            let starts: Vec<i32> = fragments.iter().map(|f| f.start as i32).collect();
            let ends: Vec<i32> = fragments.iter().map(|f| f.end as i32).collect();
            let confidences: Vec<f32> = fragments.iter().map(|f| f.confidence).collect();
            sqlx::query(
                "INSERT INTO rm_mirror_fragments (fragment_id, session_id, message_id, owner_id, category, start_char, end_char, confidence) \
                 SELECT f.id, $2, f.message_id, s.owner_id, f.category, f.s, f.e, f.c \
                 FROM unnest($1::uuid[], $3::uuid[], $4::text[], $5::int[], $6::int[], $7::real[]) AS f(id, message_id, category, s, e, c) \
                 CROSS JOIN (SELECT owner_id FROM rm_mirror_sessions WHERE session_id = $2) s \
                 ON CONFLICT DO NOTHING",
            )
            .bind(&ids)
            .bind(session)
            .bind(&messages)
            .bind(&categories)
            .bind(&starts)
            .bind(&ends)
            .bind(&confidences)
            .execute(&mut *tx)
            .await?;
        }
        E::FragmentReframed { fragment_id, reframe } => {
            sqlx::query("UPDATE rm_mirror_fragments SET reframe = $2, reframed_at = $3 WHERE fragment_id = $1")
                .bind(fragment_id)
                .bind(reframe)
                .bind(at)
                .execute(&mut *tx)
                .await?;
        }
        E::Closed { reflection } => {
            sqlx::query(
                "UPDATE rm_mirror_sessions SET closed_at = $2, reflection = $3, last_activity = $2 WHERE session_id = $1",
            )
            .bind(session)
            .bind(at)
            .bind(reflection)
            .execute(&mut *tx)
            .await?;
        }
        E::Deleted { .. } => {
            for table in ["rm_mirror_fragments", "rm_mirror_messages", "rm_mirror_sessions"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE session_id = $1"))
                    .bind(session)
                    .execute(&mut *tx)
                    .await?;
            }
        }
    }
    Ok(())
}

async fn turn_events(tx: &mut PgConnection, e: &StoredEvent) -> Result<(), ProjectionError> {
    let id = e.aggregate_id;
    match super::typed::<TurnEvent>(e)? {
        TurnEvent::Requested { owner, text, .. } => {
            sqlx::query(
                "INSERT INTO rm_turns (turn_id, owner_id, text, crisis, created_at) VALUES ($1, $2, $3, false, $4) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(owner.0)
            .bind(text)
            .bind(e.recorded_at)
            .execute(&mut *tx)
            .await?;
        }
        TurnEvent::CrisisDetected { owner, .. } => {
            sqlx::query(
                "INSERT INTO rm_turns (turn_id, owner_id, text, crisis, created_at) VALUES ($1, $2, NULL, true, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(owner.0)
            .bind(e.recorded_at)
            .execute(&mut *tx)
            .await?;
        }
        TurnEvent::Reframed { reframes, micro_action } => {
            sqlx::query("UPDATE rm_turns SET reframes = $2, micro_action = $3 WHERE turn_id = $1")
                .bind(id)
                .bind(sqlx::types::Json(reframes))
                .bind(micro_action)
                .execute(&mut *tx)
                .await?;
        }
        TurnEvent::Saved { .. } => {
            sqlx::query("UPDATE rm_turns SET saved = true WHERE turn_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
    }
    Ok(())
}

async fn lens(tx: &mut PgConnection, e: &StoredEvent) -> Result<(), ProjectionError> {
    let goal = e.aggregate_id;
    match super::typed::<LensGoalEvent>(e)? {
        LensGoalEvent::Created { owner, title, .. } => {
            sqlx::query(
                "INSERT INTO rm_lens_goals (goal_id, owner_id, title, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(goal)
            .bind(owner.0)
            .bind(title)
            .bind(e.recorded_at)
            .execute(&mut *tx)
            .await?;
        }
        LensGoalEvent::ActionAdded { action_id, text } => {
            sqlx::query(
                "INSERT INTO rm_lens_actions (action_id, goal_id, owner_id, title, created_at) \
                 SELECT $1, $2, owner_id, $3, $4 FROM rm_lens_goals WHERE goal_id = $2 ON CONFLICT DO NOTHING",
            )
            .bind(action_id)
            .bind(goal)
            .bind(text)
            .bind(e.recorded_at)
            .execute(&mut *tx)
            .await?;
        }
        LensGoalEvent::ActionCompleted { action_id } => {
            sqlx::query("UPDATE rm_lens_actions SET completed_at = $2 WHERE action_id = $1 AND completed_at IS NULL")
                .bind(action_id)
                .bind(e.recorded_at)
                .execute(&mut *tx)
                .await?;
        }
    }
    Ok(())
}

/// Everything reflective of an erased user goes.
pub(super) async fn erase(tx: &mut PgConnection, user: uuid::Uuid) -> Result<(), ProjectionError> {
    for table in [
        "rm_mirror_fragments",
        "rm_mirror_messages",
        "rm_mirror_sessions",
        "rm_turns",
        "rm_lens_actions",
        "rm_lens_goals",
    ] {
        sqlx::query(&format!("DELETE FROM {table} WHERE owner_id = $1"))
            .bind(user)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Lens's affirmations for a day, as the AI gateway wrote them (or its templates).
async fn affirmations_written(tx: &mut PgConnection, e: &StoredEvent) -> Result<(), ProjectionError> {
    if let AiMonthEvent::AffirmationsWritten {
        day,
        affirmations,
        source,
    } = super::typed::<AiMonthEvent>(e)?
    {
        let Ok(day) = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d") else {
            return Ok(());
        };
        sqlx::query(
            "INSERT INTO lens_affirmations (day, affirmations, source) VALUES ($1, $2, $3) \
             ON CONFLICT (day) DO UPDATE SET affirmations = EXCLUDED.affirmations, source = EXCLUDED.source",
        )
        .bind(day)
        .bind(sqlx::types::Json(affirmations))
        .bind(source)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// The affirmations written for `day`, if any.
pub async fn affirmations(pool: &sqlx::PgPool, day: chrono::NaiveDate) -> Result<Option<Vec<String>>, ProjectionError> {
    let row: Option<sqlx::types::Json<Vec<String>>> =
        sqlx::query_scalar("SELECT affirmations FROM lens_affirmations WHERE day = $1")
            .bind(day)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|j| j.0))
}
