use prism_domain::aggregates::ChannelEvent;
use prism_domain::WorkspaceId;
use prism_event_store::StoredEvent;
use sqlx::PgConnection;

use crate::ProjectionError;

/// A channel of a workspace.
#[derive(Debug, serde::Serialize, sqlx::FromRow)]
pub struct Channel {
    pub id: uuid::Uuid,
    pub workspace_id: uuid::Uuid,
    pub name: String,
    pub created_by: uuid::Uuid,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// The live channels of `workspace`, by id, after `after`.
pub async fn list(
    pool: &sqlx::PgPool,
    workspace: WorkspaceId,
    after: Option<uuid::Uuid>,
    limit: i64,
) -> Result<Vec<Channel>, crate::ProjectionError> {
    Ok(sqlx::query_as(
        "SELECT channel_id AS id, workspace_id, name, created_by, created_at FROM rm_channels
          WHERE workspace_id = $1 AND NOT deleted AND ($2::uuid IS NULL OR channel_id > $2) ORDER BY channel_id LIMIT $3",
    )
    .bind(workspace.0)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// One live channel of a live workspace (never a direct conversation).
pub async fn one(pool: &sqlx::PgPool, channel: uuid::Uuid) -> Result<Option<Channel>, crate::ProjectionError> {
    Ok(sqlx::query_as(
        "SELECT c.channel_id AS id, c.workspace_id, c.name, c.created_by, c.created_at
           FROM rm_channels c JOIN rm_workspaces w USING (workspace_id)
          WHERE c.channel_id = $1 AND NOT c.deleted AND NOT w.deleted",
    )
    .bind(channel)
    .fetch_optional(pool)
    .await?)
}

pub(super) async fn apply(tx: &mut PgConnection, e: &StoredEvent) -> Result<(), ProjectionError> {
    let id = e.aggregate_id;
    match super::typed::<ChannelEvent>(e)? {
        ChannelEvent::Created {
            workspace_id,
            name,
            created_by,
            ..
        } => {
            sqlx::query(
                "INSERT INTO rm_channels (channel_id, workspace_id, name, created_by, created_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(workspace_id.0)
            .bind(name)
            .bind(created_by.0)
            .bind(e.recorded_at)
            .execute(&mut *tx)
            .await?;
        }
        ChannelEvent::Updated { name, .. } => {
            sqlx::query("UPDATE rm_channels SET name = $2 WHERE channel_id = $1")
                .bind(id)
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        ChannelEvent::Deleted { .. } => {
            sqlx::query("UPDATE rm_channels SET deleted = true WHERE channel_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
    }
    Ok(())
}

/// The live workspace of a live channel (not of a direct conversation), if there is one.
pub async fn workspace_of(pool: &sqlx::PgPool, channel: uuid::Uuid) -> Result<Option<WorkspaceId>, ProjectionError> {
    let ws: Option<uuid::Uuid> = sqlx::query_scalar(
        "SELECT c.workspace_id FROM rm_channels c JOIN rm_workspaces w USING (workspace_id)
          WHERE c.channel_id = $1 AND NOT c.deleted AND NOT w.deleted",
    )
    .bind(channel)
    .fetch_optional(pool)
    .await?;
    Ok(ws.map(WorkspaceId))
}
