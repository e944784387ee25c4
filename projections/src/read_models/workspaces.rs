use prism_domain::aggregates::WorkspaceEvent;
use prism_event_store::StoredEvent;
use sqlx::PgConnection;

use crate::ProjectionError;

pub(super) async fn apply(tx: &mut PgConnection, e: &StoredEvent) -> Result<(), ProjectionError> {
    let ws = e.aggregate_id;
    match super::typed::<WorkspaceEvent>(e)? {
        WorkspaceEvent::Created { name, owner_id, .. } => {
            sqlx::query(
                "INSERT INTO rm_workspaces (workspace_id, name, owner_id, created_at, updated_at, version)
                 VALUES ($1, $2, $3, $4, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(ws)
            .bind(name)
            .bind(owner_id.0)
            .bind(e.recorded_at)
            .bind(e.sequence)
            .execute(&mut *tx)
            .await?;
            return Ok(());
        }
        WorkspaceEvent::Renamed { name } => {
            sqlx::query("UPDATE rm_workspaces SET name = $2 WHERE workspace_id = $1")
                .bind(ws)
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        WorkspaceEvent::Deleted { .. } => {
            sqlx::query("UPDATE rm_workspaces SET deleted = true WHERE workspace_id = $1")
                .bind(ws)
                .execute(&mut *tx)
                .await?;
        }
        WorkspaceEvent::JoinCodeRotated { .. } => {}
        WorkspaceEvent::MemberJoined { user_id, role } => {
            sqlx::query(
                "INSERT INTO rm_members (workspace_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = EXCLUDED.role",
            )
            .bind(ws)
            .bind(user_id.0)
            .bind(role.as_str())
            .bind(e.recorded_at)
            .execute(&mut *tx)
            .await?;
        }
        WorkspaceEvent::MemberRoleChanged { user_id, role, .. } => {
            sqlx::query("UPDATE rm_members SET role = $3 WHERE workspace_id = $1 AND user_id = $2")
                .bind(ws)
                .bind(user_id.0)
                .bind(role.as_str())
                .execute(&mut *tx)
                .await?;
        }
        WorkspaceEvent::MemberLeft { user_id, .. } => {
            sqlx::query("DELETE FROM rm_members WHERE workspace_id = $1 AND user_id = $2")
                .bind(ws)
                .bind(user_id.0)
                .execute(&mut *tx)
                .await?;
        }
    }
    sqlx::query("UPDATE rm_workspaces SET version = $2, updated_at = $3 WHERE workspace_id = $1")
        .bind(ws)
        .bind(e.sequence)
        .bind(e.recorded_at)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
