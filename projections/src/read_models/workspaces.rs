//! Workspaces and their members (`rm_workspaces`, `rm_members`): written from workspace events,
//! read by the workspace routes and every membership check.

use chrono::{DateTime, Utc};
use prism_domain::aggregates::WorkspaceEvent;
use prism_domain::Role;
use prism_domain::{UserId, WorkspaceId};
use prism_event_store::StoredEvent;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::ProjectionError;

/// A workspace as one of its members sees it.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Workspace {
    pub id: Uuid,
    pub name: String,
    pub owner_id: Uuid,
    /// The caller's role in it.
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub version: i64,
}

/// A member, with their display name as stored (sealed: readers open it).
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Member {
    pub user_id: Uuid,
    pub name: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub joined_at: DateTime<Utc>,
    /// Has a live stream of the workspace open (presence; filled by the read API).
    #[sqlx(skip)]
    pub online: bool,
}

const WORKSPACE: &str = "SELECT w.workspace_id AS id, w.name, w.owner_id, m.role, w.created_at, w.version
     FROM rm_workspaces w JOIN rm_members m ON m.workspace_id = w.workspace_id AND m.user_id = $1
    WHERE NOT w.deleted";

/// The live workspaces `user` is a member of, by id, after `after`.
pub async fn of_member(
    pool: &PgPool,
    user: UserId,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Workspace>, ProjectionError> {
    Ok(sqlx::query_as(&format!(
        "{WORKSPACE} AND ($2::uuid IS NULL OR w.workspace_id > $2) ORDER BY w.workspace_id LIMIT $3"
    ))
    .bind(user.0)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// One live workspace, if `user` is a member of it.
pub async fn one(pool: &PgPool, user: UserId, id: WorkspaceId) -> Result<Option<Workspace>, ProjectionError> {
    Ok(sqlx::query_as(&format!("{WORKSPACE} AND w.workspace_id = $2"))
        .bind(user.0)
        .bind(id.0)
        .fetch_optional(pool)
        .await?)
}

/// `user`'s role in the live workspace `workspace`, if they are a member.
pub async fn role(pool: &PgPool, workspace: WorkspaceId, user: UserId) -> Result<Option<Role>, ProjectionError> {
    let role: Option<String> = sqlx::query_scalar(
        "SELECT m.role FROM rm_members m JOIN rm_workspaces w USING (workspace_id)
          WHERE m.workspace_id = $1 AND m.user_id = $2 AND NOT w.deleted",
    )
    .bind(workspace.0)
    .bind(user.0)
    .fetch_optional(pool)
    .await?;
    role.map(|r| {
        Role::parse(&r).map_err(|e| ProjectionError::Unreadable {
            position: 0,
            event_type: "rm_members.role".into(),
            reason: e.to_string(),
        })
    })
    .transpose()
}

/// The members of `workspace`, by user id, after `after`.
pub async fn members(
    pool: &PgPool,
    workspace: WorkspaceId,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Member>, ProjectionError> {
    Ok(sqlx::query_as(
        "SELECT m.user_id, coalesce(u.name, '') AS name, m.role, m.joined_at FROM rm_members m LEFT JOIN rm_users u USING (user_id)
          WHERE m.workspace_id = $1 AND ($2::uuid IS NULL OR m.user_id > $2) ORDER BY m.user_id LIMIT $3",
    )
    .bind(workspace.0)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// A pending invitation, `email` sealed (with the inviter's key for this invitation).
#[derive(Debug, sqlx::FromRow)]
pub struct InvitationRow {
    pub id: Uuid,
    pub email: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub invited_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The invitations of `workspace` still waiting for an answer (not expired), newest first.
pub async fn pending_invitations(pool: &PgPool, workspace: WorkspaceId) -> Result<Vec<InvitationRow>, ProjectionError> {
    Ok(sqlx::query_as(
        "SELECT invitation_id AS id, email, role, invited_by, created_at, expires_at FROM rm_invitations
          WHERE workspace_id = $1 AND status = 'pending' AND expires_at > now() ORDER BY invitation_id DESC LIMIT 500",
    )
    .bind(workspace.0)
    .fetch_all(pool)
    .await?)
}

/// Where a reader can see: their live workspaces (all of them, or only `only` if they are a
/// member of it), and the direct conversations they are part of inside those.
#[derive(Debug, Default)]
pub struct Reach {
    pub workspaces: Vec<Uuid>,
    pub conversations: Vec<Uuid>,
}

/// `user`'s reach, in one round trip.
pub async fn reach(pool: &PgPool, user: UserId, only: Option<WorkspaceId>) -> Result<Reach, ProjectionError> {
    let rows: Vec<(bool, Uuid)> = sqlx::query_as(
        "WITH ws AS (
             SELECT m.workspace_id FROM rm_members m JOIN rm_workspaces w USING (workspace_id)
              WHERE m.user_id = $1 AND NOT w.deleted AND ($2::uuid IS NULL OR m.workspace_id = $2))
         SELECT true, workspace_id FROM ws
         UNION ALL
         SELECT false, c.conversation_id FROM rm_conversations c JOIN ws USING (workspace_id)
          WHERE c.member_a = $1 OR c.member_b = $1",
    )
    .bind(user.0)
    .bind(only.map(|x| x.0))
    .fetch_all(pool)
    .await?;
    let mut reach = Reach::default();
    for (workspace, id) in rows {
        if workspace {
            reach.workspaces.push(id);
        } else {
            reach.conversations.push(id);
        }
    }
    Ok(reach)
}

pub(super) async fn apply(tx: &mut PgConnection, e: &StoredEvent) -> Result<(), ProjectionError> {
    let ws = e.aggregate_id;
    match super::typed::<WorkspaceEvent>(e)? {
        WorkspaceEvent::InvitationCreated {
            invitation_id,
            email,
            role,
            invited_by,
            expires_at,
            ..
        } => {
            sqlx::query(
                "INSERT INTO rm_invitations (invitation_id, workspace_id, email, role, invited_by, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, to_timestamp($7)) ON CONFLICT DO NOTHING",
            )
            .bind(invitation_id)
            .bind(ws)
            .bind(email)
            .bind(role.as_str())
            .bind(invited_by.0)
            .bind(e.recorded_at)
            .bind(expires_at as f64)
            .execute(&mut *tx)
            .await?;
        }
        WorkspaceEvent::InvitationAccepted { invitation_id, .. } => {
            sqlx::query("UPDATE rm_invitations SET status = 'accepted' WHERE invitation_id = $1")
                .bind(invitation_id)
                .execute(&mut *tx)
                .await?;
        }
        WorkspaceEvent::InvitationRevoked { invitation_id, .. } => {
            sqlx::query("UPDATE rm_invitations SET status = 'revoked' WHERE invitation_id = $1")
                .bind(invitation_id)
                .execute(&mut *tx)
                .await?;
        }
        WorkspaceEvent::InvitationExpired { invitation_id } => {
            sqlx::query("UPDATE rm_invitations SET status = 'expired' WHERE invitation_id = $1")
                .bind(invitation_id)
                .execute(&mut *tx)
                .await?;
        }
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
        // Webhook endpoints are the delivery worker's (`crate::webhooks`).
        WorkspaceEvent::JoinCodeRotated { .. }
        | WorkspaceEvent::WebhookCreated { .. }
        | WorkspaceEvent::WebhookUpdated { .. }
        | WorkspaceEvent::WebhookSecretRotated { .. }
        | WorkspaceEvent::WebhookDeleted { .. }
        | WorkspaceEvent::WebhookDisabled { .. }
        | WorkspaceEvent::WebhookReplayRequested { .. } => {}
        WorkspaceEvent::ApiKeyCreated {
            key_id,
            name,
            scopes,
            expires_at,
            created_by,
            ..
        } => super::api_keys::created(tx, e, key_id, &name, &scopes, expires_at, created_by.0).await?,
        WorkspaceEvent::ApiKeyRevoked { key_id, reason, .. } => {
            super::api_keys::revoked(tx, e, key_id, reason.as_deref()).await?
        }
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

/// Whether `workspace` exists and is not deleted.
pub async fn live(pool: &PgPool, workspace: WorkspaceId) -> Result<bool, ProjectionError> {
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM rm_workspaces WHERE workspace_id = $1 AND NOT deleted")
        .bind(workspace.0)
        .fetch_optional(pool)
        .await?;
    Ok(found.is_some())
}
