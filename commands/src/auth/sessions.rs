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
        let live: Option<i64> = sqlx::query_scalar(
            "SELECT count(*) FILTER (WHERE revoked_at IS NULL) FROM refresh_tokens
              WHERE family_id = $1 AND user_id = $2 HAVING count(*) > 0",
        )
        .bind(session)
        .bind(me.0)
        .fetch_optional(self.store.pool())
        .await?;
        match live {
            None => Err(DomainError::NotFound("session").into()),
            // Ended already: nothing more to record.
            Some(0) => Ok(()),
            Some(_) => self.end_sessions(me, &[session], ctx.request_id.clone()).await,
        }
    }

    /// `POST /v1/auth/password`: the current password is required; the caller's other sessions end.
    pub async fn change_password(
        &self,
        ctx: &CommandContext,
        current: &str,
        new_password: &str,
    ) -> Result<(), CommandError> {
        let me = ctx.actor.user_id;
        let stored: Option<(String, String)> =
            sqlx::query_as("SELECT email, password_hash FROM credentials WHERE user_id = $1")
                .bind(me.0)
                .fetch_optional(self.store.pool())
                .await?;
        let Some((email, stored)) = stored else {
            return Err(CommandError::Erased);
        };
        // Guesses at the current password count like failed sign-ins of the address: a stolen
        // access token is no way around the lockout.
        let account = self.account_key(&email);
        self.refuse_if_locked(&account).await?;
        let hasher = self.hasher.clone();
        let current = current.to_owned();
        let ok = self.hashing(move || hasher.verify(&current, Some(&stored))).await?;
        if !ok {
            self.count_failure(&account, Some(me), ctx.request_id.clone()).await?;
            return Err(CommandError::Unauthorized("the current password is not correct"));
        }
        let hash = self.hash_password(new_password).await?;
        sqlx::query("UPDATE credentials SET password_hash = $2 WHERE user_id = $1")
            .bind(me.0)
            .bind(&hash)
            .execute(self.store.pool())
            .await?;
        // Reset links asked for before the change are spent too.
        sqlx::query("UPDATE password_resets SET used_at = now() WHERE user_id = $1 AND used_at IS NULL")
            .bind(me.0)
            .execute(self.store.pool())
            .await?;
        let others = self.live_sessions(me, ctx.actor.session).await?;
        let changed = AuthEvent::PasswordChanged {
            user_id: me,
            kept_session: ctx.actor.session,
        };
        // Without a session to keep (a token from before sessions), every session ends.
        self.record_revocation(changed, ctx.request_id.clone()).await?;
        self.end_sessions(me, &others, ctx.request_id.clone()).await?;
        self.end_impersonations_of(me, ctx.request_id.clone()).await?;
        tracing::info!(user_id = %me, ended = others.len(), "password changed");
        Ok(())
    }

    /// The user's sessions whose tokens may still work (but `except`).
    pub(crate) async fn live_sessions(&self, user: UserId, except: Option<Uuid>) -> Result<Vec<Uuid>, CommandError> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT family_id FROM refresh_tokens
              WHERE user_id = $1 AND revoked_at IS NULL AND family_id IS DISTINCT FROM $2",
        )
        .bind(user.0)
        .bind(except)
        .fetch_all(self.store.pool())
        .await?)
    }

    pub(crate) async fn end_sessions(
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
