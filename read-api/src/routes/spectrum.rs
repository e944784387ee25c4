//! `/v1/spectrum/weekly`, `/v1/spectrum/monthly` (the caller's activity) and
//! `/v1/workspaces/{id}/spectrum/weekly` (the workspace's, for admins and owners).

use std::collections::BTreeSet;

use axum::extract::State;
use axum::Json;
use chrono::{Days, Months, NaiveDate, Utc};
use prism_domain::{UserId, WorkspaceId};
use prism_projections::spectrum::{self, month_start, week_start, Bucket, Subject, WeekCounts};
use serde::{Deserialize, Serialize};

use crate::error::ReadError;
use crate::extract::{ApiPath, ApiQuery, Myself, Principal};
use crate::AppState;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Range {
    /// First day (YYYY-MM-DD); default 12 periods before `to`.
    pub from: Option<NaiveDate>,
    /// Last day (YYYY-MM-DD); default today (UTC).
    pub to: Option<NaiveDate>,
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
async fn insight(s: &AppState, user: UserId, b: &ReflectionBucket) -> Result<Insight, ReadError> {
    let counts = WeekCounts {
        sessions: b.sessions,
        fragments: b.fragments.clone(),
        turns: b.turns,
        saved_turns: b.saved_turns,
        actions_added: b.actions_added,
        actions_completed: b.actions_completed,
    };
    let stored = spectrum::insight(&s.reads(), user, b.period_start)
        .await
        .map_err(|e| ReadError::Internal(e.to_string()))?;
    let text = match stored {
        Some((sealed, key)) if key == counts.key() => {
            s.vault.opener(prism_vault::Scope::user(user)).await?.open(&sealed)?
        }
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
    user: UserId,
    period: Period,
    start: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<ReflectionBucket>, ReadError> {
    let mut out: Vec<ReflectionBucket> = spectrum::periods(&s.reads(), user, period.name(), start, to)
        .await?
        .into_iter()
        .map(|p| ReflectionBucket {
            period_start: p.period_start,
            sessions: p.counts.sessions,
            fragments: p.counts.fragments,
            turns: p.counts.turns,
            saved_turns: p.counts.saved_turns,
            crises: p.crises,
            actions_added: p.counts.actions_added,
            actions_completed: p.counts.actions_completed,
            completion_rate: None,
        })
        .collect();
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

async fn spectrum(s: &AppState, subject: Subject, period: Period, r: Range) -> Result<Spectrum, ReadError> {
    let to = r.to.unwrap_or_else(|| Utc::now().date_naive());
    let default_from = match period {
        Period::Week => to.checked_sub_days(Days::new(7 * 11)),
        Period::Month => to.checked_sub_months(Months::new(11)),
    };
    let from = r.from.or(default_from).unwrap_or(to);
    // At most five years, ending at `to`; an empty range (from after to) is `to` alone. The
    // answer's `from` says what was served.
    let earliest = to.checked_sub_days(Days::new(366 * 5)).unwrap_or(NaiveDate::MIN);
    let from = from.clamp(earliest, to);
    let start = match period {
        Period::Week => week_start(from),
        Period::Month => month_start(from),
    };
    let mut buckets = spectrum::buckets(&s.reads(), subject, period.name(), start, to).await?;
    // Streaks look back past `from`: fetch the active days that can belong to one.
    let since = start.checked_sub_days(Days::new(3660)).unwrap_or(NaiveDate::MIN);
    let days: BTreeSet<NaiveDate> = spectrum::active_days(&s.reads(), subject, since, to)
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
    let reflection = match subject {
        Subject::User(user) => reflection(s, user, period, start, to).await?,
        Subject::Workspace(_) => Vec::new(),
    };
    let insight = match (period, subject, reflection.last()) {
        (Period::Week, Subject::User(user), Some(b)) => Some(insight(s, user, b).await?),
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
    Myself(user): Myself,
    ApiQuery(r): ApiQuery<Range>,
) -> Result<Json<Spectrum>, ReadError> {
    Ok(Json(spectrum(&s, Subject::User(user), Period::Week, r).await?))
}

#[utoipa::path(get, path = "/v1/spectrum/monthly", tag = "spectrum", description = "the caller's activity per month", params(Range),
    responses((status = 200, body = Spectrum), (status = 400), (status = 401)))]
pub async fn monthly(
    State(s): State<AppState>,
    Myself(user): Myself,
    ApiQuery(r): ApiQuery<Range>,
) -> Result<Json<Spectrum>, ReadError> {
    Ok(Json(spectrum(&s, Subject::User(user), Period::Month, r).await?))
}

#[utoipa::path(get, path = "/v1/workspaces/{id}/spectrum/weekly", tag = "spectrum", description = "the workspace's activity per ISO week (admins, owners)", params(Range),
    responses((status = 200, body = Spectrum), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn workspace_weekly(
    State(s): State<AppState>,
    who: Principal,
    ApiPath(ws): ApiPath<WorkspaceId>,
    ApiQuery(r): ApiQuery<Range>,
) -> Result<Json<Spectrum>, ReadError> {
    super::oversee(&s, &who, ws).await?;
    Ok(Json(spectrum(&s, Subject::Workspace(ws), Period::Week, r).await?))
}
