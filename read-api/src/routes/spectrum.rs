//! `/v1/spectrum/weekly`, `/v1/spectrum/monthly` (the caller's activity) and
//! `/v1/workspaces/{id}/spectrum/weekly` (the workspace's, for admins and owners).

use std::collections::BTreeSet;

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Days, Months, NaiveDate, Utc};
use prism_projections::spectrum::{month_start, week_start, WeekCounts};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ReadError;
use crate::extract::{ApiPath, ApiQuery, Caller, Principal};
use crate::AppState;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct Range {
    /// First day (YYYY-MM-DD); default 12 periods before `to`.
    pub from: Option<NaiveDate>,
    /// Last day (YYYY-MM-DD); default today (UTC).
    pub to: Option<NaiveDate>,
}

#[derive(Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Bucket {
    pub period_start: NaiveDate,
    pub messages_posted: i64,
    pub edits: i64,
    pub deletions: i64,
    pub reactions_given: i64,
    pub reactions_received: i64,
    pub docs_created: i64,
    pub docs_edited: i64,
    pub active_days: i64,
    pub distinct_channels: i64,
    pub first_activity: DateTime<Utc>,
    pub last_activity: DateTime<Utc>,
    /// Consecutive active days ending on this period's last active day.
    #[sqlx(default)]
    pub streak: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Spectrum {
    pub period: &'static str,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub buckets: Vec<Bucket>,
    /// Consecutive active days up to `to` (or the day before it).
    pub current_streak: i64,
    /// The caller's reflection signals per period (their own spectrum only; never text).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reflection: Vec<ReflectionBucket>,
    /// For the caller's latest week with reflection in the range: a short insight written by
    /// the AI gateway from these counts alone, off the request path (weekly view only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insight: Option<Insight>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Insight {
    pub period_start: NaiveDate,
    pub text: String,
}

/// The insight for `b`: the one the writers stored for this week, if it was written from these
/// very counts; otherwise the built-in one, from the counts alone. The read path never waits on
/// a model.
async fn insight(s: &AppState, user: Uuid, b: &ReflectionBucket) -> Result<Insight, ReadError> {
    let counts = WeekCounts {
        sessions: b.sessions,
        fragments: b.fragments.clone(),
        turns: b.turns,
        saved_turns: b.saved_turns,
        actions_added: b.actions_added,
        actions_completed: b.actions_completed,
    };
    let stored = prism_projections::spectrum::insight(&s.pool, user, b.period_start)
        .await
        .map_err(|e| ReadError::Internal(e.to_string()))?;
    let text = match stored {
        Some((sealed, key)) if key == counts.key() => s
            .vault
            .opener(prism_vault::Scope::user(prism_domain::UserId(user)))
            .await?
            .open(&sealed)?,
        _ => prism_ai_gateway::builtin::insight(&prism_ai_gateway::WeekSummary {
            sessions: counts.sessions,
            fragments: counts.fragments,
            turns: counts.turns,
            saved_turns: counts.saved_turns,
            actions_added: counts.actions_added,
            actions_completed: counts.actions_completed,
        }),
    };
    Ok(Insight {
        period_start: b.period_start,
        text,
    })
}

#[derive(Serialize, Default, utoipa::ToSchema)]
pub struct ReflectionBucket {
    pub period_start: NaiveDate,
    pub sessions: i64,
    /// Distorted fragments found, per category.
    pub fragments: std::collections::BTreeMap<String, i64>,
    pub turns: i64,
    pub saved_turns: i64,
    pub crises: i64,
    pub actions_added: i64,
    pub actions_completed: i64,
    /// actions completed / actions added in the period (null when none were added).
    pub completion_rate: Option<f64>,
}

/// Reflection facts counted per period, for the periods in `start..=to`.
async fn reflection(
    s: &AppState,
    user: Uuid,
    period: Period,
    start: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<ReflectionBucket>, ReadError> {
    let rows: Vec<(NaiveDate, String, Option<String>, i64)> = sqlx::query_as(
        "SELECT date_trunc($2, at AT TIME ZONE 'UTC')::date, kind, category, count(*) FROM spectrum_reflection
          WHERE user_id = $1 AND at >= $3::date AND at < $4::date + 1 GROUP BY 1, 2, 3 ORDER BY 1",
    )
    .bind(user)
    .bind(period.name())
    .bind(start)
    .bind(to)
    .fetch_all(&s.pool)
    .await?;
    let mut out: Vec<ReflectionBucket> = Vec::new();
    for (period_start, kind, category, n) in rows {
        if out.last().map(|b| b.period_start) != Some(period_start) {
            out.push(ReflectionBucket {
                period_start,
                ..Default::default()
            });
        }
        let Some(b) = out.last_mut() else { continue };
        match kind.as_str() {
            "session" => b.sessions += n,
            "fragment" => *b.fragments.entry(category.unwrap_or_default()).or_default() += n,
            "turn" => b.turns += n,
            "turn_saved" => b.saved_turns += n,
            "crisis" => b.crises += n,
            "action_added" => b.actions_added += n,
            "action_completed" => b.actions_completed += n,
            _ => {}
        }
    }
    for b in &mut out {
        b.completion_rate = (b.actions_added > 0).then(|| b.actions_completed as f64 / b.actions_added as f64);
    }
    Ok(out)
}

#[derive(Clone, Copy)]
enum Period {
    Week,
    Month,
}

impl Period {
    fn name(self) -> &'static str {
        match self {
            Self::Week => "week",
            Self::Month => "month",
        }
    }
}

async fn spectrum(s: &AppState, kind: &str, subject: Uuid, period: Period, r: Range) -> Result<Spectrum, ReadError> {
    let to = r.to.unwrap_or_else(|| Utc::now().date_naive());
    let default_from = match period {
        Period::Week => to.checked_sub_days(Days::new(7 * 11)),
        Period::Month => to.checked_sub_months(Months::new(11)),
    };
    let from = r.from.or(default_from).unwrap_or(to);
    if from > to {
        return Err(ReadError::bad("invalid_query", "from must not be after to"));
    }
    if (to - from).num_days() > 366 * 5 {
        return Err(ReadError::bad("invalid_query", "a range of at most five years"));
    }
    let start = match period {
        Period::Week => week_start(from),
        Period::Month => month_start(from),
    };
    let mut buckets: Vec<Bucket> = sqlx::query_as(
        "SELECT b.period_start, b.messages_posted, b.edits, b.deletions, b.reactions_given, b.reactions_received,
                b.docs_created, b.docs_edited, b.first_activity, b.last_activity,
                (SELECT count(*) FROM spectrum_days d
                  WHERE d.subject_kind = b.subject_kind AND d.subject_id = b.subject_id
                    AND d.day >= b.period_start
                    AND d.day < b.period_start + CASE WHEN b.period = 'week' THEN interval '7 days' ELSE interval '1 month' END
                ) AS active_days,
                (SELECT count(*) FROM spectrum_channels c
                  WHERE c.subject_kind = b.subject_kind AND c.subject_id = b.subject_id
                    AND c.period = b.period AND c.period_start = b.period_start) AS distinct_channels
           FROM spectrum_buckets b
          WHERE b.subject_kind = $1 AND b.subject_id = $2 AND b.period = $3 AND b.period_start BETWEEN $4 AND $5
          ORDER BY b.period_start",
    )
    .bind(kind)
    .bind(subject)
    .bind(period.name())
    .bind(start)
    .bind(to)
    .fetch_all(&s.pool)
    .await?;
    // Streaks look back past `from`: fetch the active days that can belong to one.
    let days: BTreeSet<NaiveDate> = sqlx::query_scalar(
        "SELECT day FROM spectrum_days WHERE subject_kind = $1 AND subject_id = $2 AND day <= $3 AND day >= $4::date - 3660",
    )
    .bind(kind)
    .bind(subject)
    .bind(to)
    .bind(start)
    .fetch_all(&s.pool)
    .await?
    .into_iter()
    .collect();
    let run_ending = |last: NaiveDate| {
        let mut n = 0;
        let mut d = Some(last);
        while let Some(day) = d.filter(|d| days.contains(d)) {
            n += 1;
            d = day.pred_opt();
        }
        n
    };
    for b in &mut buckets {
        let end = b.last_activity.date_naive().min(to);
        let last = days.range(b.period_start..=end).next_back().copied();
        b.streak = last.map_or(0, run_ending);
    }
    let current_streak = match (run_ending(to), to.pred_opt()) {
        (0, Some(y)) => run_ending(y),
        (n, _) => n,
    };
    let reflection = match kind {
        "user" => reflection(s, subject, period, start, to).await?,
        _ => Vec::new(),
    };
    let insight = match (period, reflection.last()) {
        (Period::Week, Some(b)) => Some(insight(s, subject, b).await?),
        _ => None,
    };
    Ok(Spectrum {
        period: period.name(),
        from,
        to,
        buckets,
        current_streak,
        reflection,
        insight,
    })
}

#[utoipa::path(get, path = "/v1/spectrum/weekly", tag = "spectrum", description = "the caller's activity per ISO week", params(Range),
    responses((status = 200, body = Spectrum), (status = 400), (status = 401)))]
pub async fn weekly(
    State(s): State<AppState>,
    Caller(user): Caller,
    ApiQuery(r): ApiQuery<Range>,
) -> Result<Json<Spectrum>, ReadError> {
    Ok(Json(spectrum(&s, "user", user, Period::Week, r).await?))
}

#[utoipa::path(get, path = "/v1/spectrum/monthly", tag = "spectrum", description = "the caller's activity per month", params(Range),
    responses((status = 200, body = Spectrum), (status = 400), (status = 401)))]
pub async fn monthly(
    State(s): State<AppState>,
    Caller(user): Caller,
    ApiQuery(r): ApiQuery<Range>,
) -> Result<Json<Spectrum>, ReadError> {
    Ok(Json(spectrum(&s, "user", user, Period::Month, r).await?))
}

#[utoipa::path(get, path = "/v1/workspaces/{id}/spectrum/weekly", tag = "spectrum", description = "the workspace's activity per ISO week (admins, owners)", params(Range),
    responses((status = 200, body = Spectrum), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn workspace_weekly(
    State(s): State<AppState>,
    who: Principal,
    ApiPath(ws): ApiPath<Uuid>,
    ApiQuery(r): ApiQuery<Range>,
) -> Result<Json<Spectrum>, ReadError> {
    super::oversee(&s, &who, ws).await?;
    Ok(Json(spectrum(&s, "workspace", ws, Period::Week, r).await?))
}
