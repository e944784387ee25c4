//! Impersonation with audit: a platform admin acts as a user to see what they see, with a
//! reason, for a short while, in the open. `impersonation.started` and `.ended` are in the log;
//! the token names the admin in its `act` claim and every event written with it names them as
//! `impersonator`; ending it revokes the token on every node. What is the user's alone — their
//! journals and everything of reflection, their password, sessions, export and erasure, making
//! keys — refuses an impersonation at the edge (`Myself`), and an impersonation cannot start
//! another.

use std::time::Duration;

use prism_domain::auth_events::AuthEvent;
use prism_domain::{DomainError, UserId};
use prism_vault::Scope;
use uuid::Uuid;

use super::auth_batch;
use crate::{CommandContext, CommandError, Commands};

/// The longest an impersonation token lives (shorter if access tokens are).
pub const IMPERSONATION_TTL: Duration = Duration::from_secs(15 * 60);
const REASON_MAX: usize = 500;

/// A started impersonation: its id, and the token to act with (shown once).
#[derive(Debug, serde::Serialize)]
pub struct Impersonation {
    pub id: Uuid,
    pub access_token: String,
    /// Seconds the token lives.
    pub expires_in: u64,
    pub position: i64,
}

impl Commands {
    async fn is_platform_admin(&self, user: UserId) -> Result<bool, CommandError> {
        let found: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM platform_roles WHERE user_id = $1 AND role = 'admin'")
                .bind(user.0)
                .fetch_optional(self.store.pool())
                .await?;
        Ok(found.is_some())
    }

    /// `POST /v1/admin/impersonations`: platform admins (the role as it is now, not as the
    /// token was issued), acting for themselves.
    pub async fn start_impersonation(
        &self,
        ctx: &CommandContext,
        user: UserId,
        reason: &str,
    ) -> Result<Impersonation, CommandError> {
        let admin = ctx.actor.user_id;
        if ctx.actor.impersonator.is_some() {
            return Err(DomainError::Forbidden("an impersonation cannot start another").into());
        }
        if !self.is_platform_admin(admin).await? {
            return Err(DomainError::Forbidden("only a platform admin may impersonate").into());
        }
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > REASON_MAX {
            return Err(DomainError::invalid("reason", "say why, in 1–500 characters").into());
        }
        if user == admin {
            return Err(DomainError::invalid("user_id", "you cannot impersonate yourself").into());
        }
        self.existing_user(user).await?;
        let id = Uuid::now_v7();
        let ttl = IMPERSONATION_TTL.min(self.jwt().ttl());
        let expires_at = chrono::Utc::now() + chrono::Duration::seconds(ttl.as_secs() as i64);
        let sealed = self.vault.seal(Scope::user(user), reason).await?;
        let started = AuthEvent::ImpersonationStarted {
            impersonation_id: id,
            admin_id: admin,
            user_id: user,
            reason: sealed,
            expires_at: expires_at.timestamp(),
        };
        let mut batch =
            auth_batch(&started, ctx.request_id.clone()).map_err(|e| CommandError::Internal(e.to_string()))?;
        batch.metadata.correlation_id = ctx.correlation_id;
        let mut tx = self.store.pool().begin().await?;
        sqlx::query(
            "INSERT INTO impersonations (impersonation_id, admin_id, user_id, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(admin.0)
        .bind(user.0)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        let appended = self.store.append_on(&mut tx, batch).await?;
        tx.commit().await?;
        let access_token = self
            .jwt()
            .issue_impersonation(user, admin, id, ttl)
            .map_err(|e| CommandError::Internal(e.to_string()))?;
        tracing::info!(impersonation_id = %id, admin_id = %admin, user_id = %user, "impersonation started");
        Ok(Impersonation {
            id,
            access_token,
            expires_in: ttl.as_secs(),
            position: appended.last_position,
        })
    }

    /// `DELETE /v1/admin/impersonations/{id}`: by the admin who started it, by its own token,
    /// by another platform admin, or by the user it is of. Ending an ended one again is a no-op.
    pub async fn end_impersonation(&self, ctx: &CommandContext, id: Uuid) -> Result<(), CommandError> {
        let row: Option<(Uuid, Uuid, Option<chrono::DateTime<chrono::Utc>>)> =
            sqlx::query_as("SELECT admin_id, user_id, ended_at FROM impersonations WHERE impersonation_id = $1")
                .bind(id)
                .fetch_optional(self.store.pool())
                .await?;
        let Some((admin, user, ended)) = row else {
            return Err(DomainError::NotFound("impersonation").into());
        };
        let me = ctx.actor;
        // Under the impersonation itself, the one acting is the admin.
        let by = me.impersonator.unwrap_or(me.user_id);
        let its_own_token = me.session == Some(id) && me.impersonator == Some(UserId(admin));
        let allowed = its_own_token
            || (me.impersonator.is_none() && (by.0 == admin || by.0 == user || self.is_platform_admin(by).await?));
        if !allowed {
            return Err(DomainError::NotFound("impersonation").into());
        }
        if ended.is_some() {
            return Ok(());
        }
        self.record_end(id, UserId(admin), UserId(user), by, ctx.request_id.clone())
            .await
    }

    /// Ends every open impersonation of `user` (a new password: whoever holds a token of theirs
    /// loses it), recorded as ended by `user`.
    pub(crate) async fn end_impersonations_of(
        &self,
        user: UserId,
        request_id: Option<String>,
    ) -> Result<(), CommandError> {
        let open: Vec<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT impersonation_id, admin_id FROM impersonations
              WHERE user_id = $1 AND ended_at IS NULL AND expires_at > now()",
        )
        .bind(user.0)
        .fetch_all(self.store.pool())
        .await?;
        for (id, admin) in open {
            self.record_end(id, UserId(admin), user, user, request_id.clone())
                .await?;
        }
        Ok(())
    }

    /// Marks the impersonation ended and logs `impersonation.ended` (once).
    async fn record_end(
        &self,
        id: Uuid,
        admin: UserId,
        user: UserId,
        by: UserId,
        request_id: Option<String>,
    ) -> Result<(), CommandError> {
        let event = AuthEvent::ImpersonationEnded {
            impersonation_id: id,
            admin_id: admin,
            user_id: user,
            ended_by: by,
        };
        let batch = auth_batch(&event, request_id).map_err(|e| CommandError::Internal(e.to_string()))?;
        let mut tx = self.store.pool().begin().await?;
        let first =
            sqlx::query("UPDATE impersonations SET ended_at = now() WHERE impersonation_id = $1 AND ended_at IS NULL")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0;
        if first {
            self.store.append_on(&mut tx, batch).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
