//! Where each projection stands.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgExecutor, PgPool};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Status {
    pub name: String,
    pub position: i64,
    pub updated_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub halted_at: Option<DateTime<Utc>>,
}

/// Every projection's status, with its lag behind the log's last position.
pub async fn all(pool: &PgPool) -> Result<Vec<(Status, i64)>, sqlx::Error> {
    let head: i64 = sqlx::query_scalar("SELECT coalesce(max(global_position), 0) FROM events")
        .fetch_one(pool)
        .await?;
    let rows: Vec<Status> =
        sqlx::query_as("SELECT name, position, updated_at, last_error, halted_at FROM projection_status ORDER BY name")
            .fetch_all(pool)
            .await?;
    Ok(rows
        .into_iter()
        .map(|s| {
            let lag = (head - s.position).max(0);
            (s, lag)
        })
        .collect())
}

/// The position a projection has applied up to (0 if it never ran).
pub async fn position<'e>(exec: impl PgExecutor<'e>, name: &str) -> Result<i64, sqlx::Error> {
    Ok(
        sqlx::query_scalar("SELECT position FROM projection_status WHERE name = $1")
            .bind(name)
            .fetch_optional(exec)
            .await?
            .unwrap_or(0),
    )
}

/// Where a relay stands: its position, lag, and whether (since when, why) it cannot publish.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct RelayStatus {
    pub name: String,
    pub position: i64,
    pub lag: i64,
    pub updated_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub failing_since: Option<DateTime<Utc>>,
}

impl RelayStatus {
    /// Stuck: it has failed to publish for longer than `grace` (a reconnect is not stuck).
    pub fn stuck(&self, grace: chrono::Duration) -> bool {
        self.failing_since.is_some_and(|t| Utc::now() - t > grace)
    }
}

/// Every relay's status.
pub async fn relays(pool: &PgPool) -> Result<Vec<RelayStatus>, sqlx::Error> {
    sqlx::query_as(
        "SELECT name, position, greatest((SELECT coalesce(max(global_position), 0) FROM events) - position, 0) AS lag,
                updated_at, last_error, failing_since
           FROM relay_checkpoints ORDER BY name",
    )
    .fetch_all(pool)
    .await
}
