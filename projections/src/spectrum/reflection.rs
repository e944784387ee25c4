//! The reflection side of the spectrum: facts from mirror sessions, turns and lens goals,
//! written in log order, honouring the owner's exclusions; counted per period when read.
//! Facts carry no text, only kinds, categories and times.

use prism_domain::aggregates::{LensGoalEvent, MirrorSessionEvent, TurnEvent, UserEvent};
use prism_domain::UserId;
use prism_event_store::StoredEvent;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::read_models::typed;
use crate::ProjectionError;

struct Fact {
    user: Uuid,
    kind: &'static str,
    session: Option<Uuid>,
    category: Option<String>,
    at: chrono::DateTime<chrono::Utc>,
}

fn actor(e: &StoredEvent) -> Option<Uuid> {
    e.metadata.get("actor_id")?.as_str()?.parse().ok()
}

/// Writes the facts of a run of events (no reset or erasure inside it), in order.
pub(super) async fn apply(tx: &mut PgConnection, events: &[StoredEvent]) -> Result<(), ProjectionError> {
    let mut facts: Vec<Fact> = Vec::new();
    for e in events {
        let Some(user) = actor(e) else { continue };
        let fact = |kind, session: Option<Uuid>, category: Option<String>| Fact {
            user,
            kind,
            session,
            category,
            at: e.recorded_at,
        };
        match e.aggregate_type.as_str() {
            "mirror_session" => {
                let session = Some(e.aggregate_id);
                match typed::<MirrorSessionEvent>(e)? {
                    MirrorSessionEvent::Started { .. } => facts.push(fact("session", session, None)),
                    MirrorSessionEvent::FragmentsDetected { fragments } => facts.extend(
                        fragments
                            .into_iter()
                            .map(|f| fact("fragment", session, Some(f.category))),
                    ),
                    MirrorSessionEvent::CrisisDetected { .. } => facts.push(fact("crisis", session, None)),
                    MirrorSessionEvent::Deleted { .. } => {
                        flush(tx, &mut facts).await?;
                        sqlx::query("DELETE FROM spectrum_reflection WHERE session_id = $1")
                            .bind(e.aggregate_id)
                            .execute(&mut *tx)
                            .await?;
                    }
                    _ => {}
                }
            }
            "turn" => match typed::<TurnEvent>(e)? {
                TurnEvent::Requested { .. } => facts.push(fact("turn", None, None)),
                TurnEvent::Saved { .. } => facts.push(fact("turn_saved", None, None)),
                TurnEvent::CrisisDetected { .. } => facts.push(fact("crisis", None, None)),
                TurnEvent::Reframed { .. } => {}
            },
            "lens_goal" => match typed::<LensGoalEvent>(e)? {
                LensGoalEvent::ActionAdded { .. } => facts.push(fact("action_added", None, None)),
                LensGoalEvent::ActionCompleted { .. } => facts.push(fact("action_completed", None, None)),
                LensGoalEvent::Created { .. } => {}
            },
            "user" => match typed::<UserEvent>(e)? {
                UserEvent::InsightWritten {
                    user_id,
                    week,
                    text,
                    counts,
                    source,
                } => {
                    flush(tx, &mut facts).await?;
                    sqlx::query(
                        "INSERT INTO spectrum_insights (user_id, week, text, counts, source, written_at) \
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, week) DO UPDATE SET \
                         text = EXCLUDED.text, counts = EXCLUDED.counts, source = EXCLUDED.source, written_at = EXCLUDED.written_at",
                    )
                    .bind(user_id.0)
                    .bind(week)
                    .bind(text)
                    .bind(counts)
                    .bind(source)
                    .bind(e.recorded_at)
                    .execute(&mut *tx)
                    .await?;
                }
                UserEvent::SpectrumSessionExcluded { user_id, session_id } => {
                    flush(tx, &mut facts).await?;
                    sqlx::query(
                        "INSERT INTO spectrum_exclusions (user_id, session_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    )
                    .bind(user_id.0)
                    .bind(session_id)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("DELETE FROM spectrum_reflection WHERE session_id = $1")
                        .bind(session_id)
                        .execute(&mut *tx)
                        .await?;
                }
                _ => {}
            },
            _ => {}
        }
    }
    flush(tx, &mut facts).await
}

/// Inserts the facts gathered so far, leaving out excluded sessions'.
async fn flush(tx: &mut PgConnection, facts: &mut Vec<Fact>) -> Result<(), ProjectionError> {
    if facts.is_empty() {
        return Ok(());
    }
    let users: Vec<Uuid> = facts.iter().map(|f| f.user).collect();
    let kinds: Vec<&str> = facts.iter().map(|f| f.kind).collect();
    let sessions: Vec<Option<Uuid>> = facts.iter().map(|f| f.session).collect();
    let categories: Vec<Option<String>> = facts.iter().map(|f| f.category.clone()).collect();
    let at: Vec<_> = facts.iter().map(|f| f.at).collect();
    sqlx::query(
        "INSERT INTO spectrum_reflection (user_id, kind, session_id, category, at)
         SELECT f.u, f.k, f.s, f.c, f.a FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::timestamptz[]) AS f(u, k, s, c, a)
          WHERE f.s IS NULL OR NOT EXISTS (SELECT 1 FROM spectrum_exclusions x WHERE x.session_id = f.s)",
    )
    .bind(&users)
    .bind(&kinds)
    .bind(&sessions)
    .bind(&categories)
    .bind(&at)
    .execute(&mut *tx)
    .await?;
    facts.clear();
    Ok(())
}

/// A reset (or an erasure, which also forgets the exclusions): the user's spectrum rows go.
pub(super) async fn forget(tx: &mut PgConnection, user: Uuid, erased: bool) -> Result<(), ProjectionError> {
    sqlx::query("DELETE FROM spectrum_reflection WHERE user_id = $1")
        .bind(user)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM spectrum_insights WHERE user_id = $1")
        .bind(user)
        .execute(&mut *tx)
        .await?;
    for table in ["spectrum_buckets", "spectrum_days", "spectrum_channels"] {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE subject_kind = 'user' AND subject_id = $1"
        ))
        .bind(user)
        .execute(&mut *tx)
        .await?;
    }
    if erased {
        sqlx::query("DELETE FROM spectrum_exclusions WHERE user_id = $1")
            .bind(user)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// A week of one user's reflection, as counts only: what an insight is written from, and (as
/// its JSON) how a written insight is known to still fit the week.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct WeekCounts {
    pub sessions: i64,
    pub fragments: std::collections::BTreeMap<String, i64>,
    pub turns: i64,
    pub saved_turns: i64,
    pub actions_added: i64,
    pub actions_completed: i64,
}

impl WeekCounts {
    /// The stable JSON of the counts (the map is ordered).
    pub fn key(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Counts `n` facts of `kind` (a `spectrum_reflection.kind`). Crises are not part of the
    /// counts an insight is written from; they are counted by [`periods`] on their own.
    fn add(&mut self, kind: &str, category: Option<String>, n: i64) {
        match kind {
            "session" => self.sessions += n,
            "fragment" => *self.fragments.entry(category.unwrap_or_default()).or_default() += n,
            "turn" => self.turns += n,
            "turn_saved" => self.saved_turns += n,
            "action_added" => self.actions_added += n,
            "action_completed" => self.actions_completed += n,
            _ => {}
        }
    }
}

/// One user's reflection in one period (a week or a month).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeriodCounts {
    pub period_start: chrono::NaiveDate,
    pub counts: WeekCounts,
    pub crises: i64,
}

/// `user`'s reflection counted per `period` (`"week"` or `"month"`, anything else is read as a
/// month) for the facts from `from` through `to`, oldest first; periods without any are left out.
pub async fn periods(
    pool: &sqlx::PgPool,
    user: UserId,
    period: &str,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> Result<Vec<PeriodCounts>, ProjectionError> {
    let period = if period == "week" { "week" } else { "month" };
    let rows: Vec<(chrono::NaiveDate, String, Option<String>, i64)> = sqlx::query_as(
        "SELECT date_trunc($2, at AT TIME ZONE 'UTC')::date, kind, category, count(*) FROM spectrum_reflection
          WHERE user_id = $1 AND at >= $3::date AND at < $4::date + 1 GROUP BY 1, 2, 3 ORDER BY 1",
    )
    .bind(user.0)
    .bind(period)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    let mut out: Vec<PeriodCounts> = Vec::new();
    for (period_start, kind, category, n) in rows {
        if out.last().map(|b| b.period_start) != Some(period_start) {
            out.push(PeriodCounts {
                period_start,
                ..Default::default()
            });
        }
        let Some(b) = out.last_mut() else { continue };
        if kind == "crisis" {
            b.crises += n;
        } else {
            b.counts.add(&kind, category, n);
        }
    }
    Ok(out)
}

/// Each user's reflection counts per week, for the weeks starting on or after `since`.
pub async fn weeks(
    pool: &sqlx::PgPool,
    since: chrono::NaiveDate,
) -> Result<Vec<(Uuid, chrono::NaiveDate, WeekCounts)>, ProjectionError> {
    let rows: Vec<(Uuid, chrono::NaiveDate, String, Option<String>, i64)> = sqlx::query_as(
        "SELECT user_id, date_trunc('week', at AT TIME ZONE 'UTC')::date, kind, category, count(*) FROM spectrum_reflection \
          WHERE at >= $1::date GROUP BY 1, 2, 3, 4 ORDER BY 1, 2",
    )
    .bind(since)
    .fetch_all(pool)
    .await?;
    let mut out: Vec<(Uuid, chrono::NaiveDate, WeekCounts)> = Vec::new();
    for (user, week, kind, category, n) in rows {
        if out.last().map(|(u, w, _)| (*u, *w)) != Some((user, week)) {
            out.push((user, week, WeekCounts::default()));
        }
        let Some((_, _, c)) = out.last_mut() else { continue };
        c.add(&kind, category, n);
    }
    Ok(out)
}

/// The insight written for `user`'s `week`, sealed, with the counts it was written from.
pub async fn insight(
    pool: &sqlx::PgPool,
    user: UserId,
    week: chrono::NaiveDate,
) -> Result<Option<(String, String)>, ProjectionError> {
    Ok(
        sqlx::query_as("SELECT text, counts FROM spectrum_insights WHERE user_id = $1 AND week = $2")
            .bind(user.0)
            .bind(week)
            .fetch_optional(pool)
            .await?,
    )
}

/// The counts each of these users' insights for `week` was written from.
pub async fn insight_counts(
    pool: &sqlx::PgPool,
    week: chrono::NaiveDate,
) -> Result<std::collections::HashMap<Uuid, String>, ProjectionError> {
    let rows: Vec<(Uuid, String)> = sqlx::query_as("SELECT user_id, counts FROM spectrum_insights WHERE week = $1")
        .bind(week)
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().collect())
}
