//! The owner's say over their sessions: end one (`DELETE /v1/me/sessions/{id}`), or change the
//! password, which ends every session but the one it was changed from.

use prism_domain::auth_events::AuthEvent;
use prism_domain::{DomainError, UserId};
use uuid::Uuid;

use crate::{CommandContext, CommandError, Commands};

impl Commands {
    /// Ends one of the caller's sessions: its refresh tokens now, its access tokens on every node
    /// as soon as it reads `auth.session_revoked`. Another user's session, or an unknown one, is 404.
    pub async fn revoke_session(&self, ctx: &CommandContext, session: Uuid) -> Result<(), CommandError> {
        let me = ctx.actor.user_id;
        let owned: Option<i64> = sqlx::query_scalar(
            "SELECT count(*) FILTER (WHERE revoked_at IS NULL) FROM refresh_tokens
              WHERE family_id = $1 AND user_id = $2 HAVING count(*) > 0",
        )
        .bind(session)
        .bind(me.0)
        .fetch_optional(self.store.pool())
        .await?;
        if owned.is_none() {
            return Err(DomainError::NotFound("session").into());
        }
        self.end_sessions(me, &[session], ctx.request_id.clone()).await
    }

    /// `POST /v1/auth/password`: the current password is required; the caller's other sessions end.
    pub async fn change_password(
        &self,
        ctx: &CommandContext,
        current: &str,
        new_password: &str,
    ) -> Result<(), CommandError> {
        let me = ctx.actor.user_id;
        let stored: Option<String> = sqlx::query_scalar("SELECT password_hash FROM credentials WHERE user_id = $1")
            .bind(me.0)
            .fetch_optional(self.store.pool())
            .await?;
        let Some(stored) = stored else {
            return Err(CommandError::Erased);
        };
        let hasher = self.hasher.clone();
        let current = current.to_owned();
        let ok = self.hashing(move || hasher.verify(&current, Some(&stored))).await?;
        if !ok {
            return Err(CommandError::Unauthorized("the current password is not correct"));
        }
        let hash = self.hash_password(new_password).await?;
        sqlx::query("UPDATE credentials SET password_hash = $2 WHERE user_id = $1")
            .bind(me.0)
            .bind(&hash)
            .execute(self.store.pool())
            .await?;
        let others: Vec<Uuid> = sqlx::query_scalar(
            "SELECT DISTINCT family_id FROM refresh_tokens
              WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now() AND family_id IS DISTINCT FROM $2",
        )
        .bind(me.0)
        .bind(ctx.actor.session)
        .fetch_all(self.store.pool())
        .await?;
        let changed = AuthEvent::PasswordChanged {
            user_id: me,
            kept_session: ctx.actor.session,
        };
        // Without a session to keep (a token from before sessions), every session ends.
        self.record_revocation(changed, ctx.request_id.clone()).await?;
        self.end_sessions(me, &others, ctx.request_id.clone()).await?;
        tracing::info!(user_id = %me, ended = others.len(), "password changed");
        Ok(())
    }

    async fn end_sessions(
        &self,
        user: UserId,
        sessions: &[Uuid],
        request_id: Option<String>,
    ) -> Result<(), CommandError> {
        sqlx::query("UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = ANY($1) AND revoked_at IS NULL")
            .bind(sessions)
            .execute(self.store.pool())
            .await?;
        for &session_id in sessions {
            let event = AuthEvent::SessionRevoked {
                user_id: user,
                session_id,
            };
            self.record_revocation(event, request_id.clone()).await?;
        }
        Ok(())
    }
}
