//! Reading the activity buckets: a subject's buckets in a range, and its active days (for
//! streaks). Active days and distinct channels are counted here, when read.

use chrono::{DateTime, NaiveDate, Utc};
use prism_domain::{UserId, WorkspaceId};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::ProjectionError;

/// Whose activity: one user's, or one workspace's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    User(UserId),
    Workspace(WorkspaceId),
}

impl Subject {
    fn parts(self) -> (&'static str, Uuid) {
        match self {
            Self::User(u) => ("user", u.0),
            Self::Workspace(w) => ("workspace", w.0),
        }
    }
}

/// One period of a subject's activity.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
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
    /// Consecutive active days ending on this period's last active day (the reader computes
    /// it from [`active_days`]).
    #[sqlx(default)]
    pub streak: i64,
}

/// `subject`'s buckets of `period` (`"week"` or `"month"`) starting from `start` through `to`.
pub async fn buckets(
    pool: &PgPool,
    subject: Subject,
    period: &str,
    start: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Bucket>, ProjectionError> {
    let (kind, id) = subject.parts();
    Ok(sqlx::query_as(
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
    .bind(id)
    .bind(period)
    .bind(start)
    .bind(to)
    .fetch_all(pool)
    .await?)
}

/// `subject`'s active days from `since` through `to`.
pub async fn active_days(
    pool: &PgPool,
    subject: Subject,
    since: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<NaiveDate>, ProjectionError> {
    let (kind, id) = subject.parts();
    Ok(sqlx::query_scalar(
        "SELECT day FROM spectrum_days WHERE subject_kind = $1 AND subject_id = $2 AND day <= $3 AND day >= $4",
    )
    .bind(kind)
    .bind(id)
    .bind(to)
    .bind(since)
    .fetch_all(pool)
    .await?)
}

/// Every bucket of `user`'s own activity, one JSON object per row (the personal-data export).
pub fn personal(
    pool: &PgPool,
    user: UserId,
) -> futures::stream::BoxStream<'_, Result<serde_json::Value, ProjectionError>> {
    use futures::StreamExt;
    sqlx::query_scalar::<_, serde_json::Value>(
        "SELECT to_jsonb(t) FROM (SELECT * FROM spectrum_buckets WHERE subject_kind = 'user' AND subject_id = $1 \
         ORDER BY period, period_start) t",
    )
    .bind(user.0)
    .fetch(pool)
    .map(|r| r.map_err(ProjectionError::from))
    .boxed()
}
