use prism_domain::aggregates::ChannelEvent;
use prism_event_store::StoredEvent;
use sqlx::PgConnection;

use crate::ProjectionError;

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
