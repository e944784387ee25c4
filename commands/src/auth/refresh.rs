use prism_domain::auth_events::AuthEvent;
use prism_domain::UserId;
use uuid::Uuid;

use super::Tokens;
use crate::{CommandError, Commands};

impl Commands {
    /// `POST /v1/auth/refresh`: a refresh token is good once. Using it again means it leaked:
    /// its whole family is revoked, and the thief and the owner both sign in again.
    pub async fn refresh(&self, token: &str, request_id: Option<String>) -> Result<Tokens, CommandError> {
        let digest = prism_auth::token_digest(token);
        let mut tx = self.store.pool().begin().await?;
        let used: Option<(Uuid, Uuid)> = sqlx::query_as(
            "UPDATE refresh_tokens t SET used_at = now()
              WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()
                -- A family (a session) revoked while this token was being minted stays revoked.
                AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family_id = t.family_id AND r.revoked_at IS NOT NULL)
          RETURNING family_id, user_id",
        )
        .bind(&digest)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((family, user)) = used {
            let tokens = self.issue_tokens(&mut *tx, UserId(user), Some(family)).await?;
            tx.commit().await?;
            let event = AuthEvent::SessionRefreshed {
                user_id: UserId(user),
                session_id: family,
            };
            self.record_auth(event, request_id).await;
            return Ok(tokens);
        }
        tx.rollback().await?;
        let reused: Option<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT family_id, user_id FROM refresh_tokens WHERE token_hash = $1 AND used_at IS NOT NULL",
        )
        .bind(&digest)
        .fetch_optional(self.store.pool())
        .await?;
        if let Some((family, user)) = reused {
            sqlx::query("UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL")
                .bind(family)
                .execute(self.store.pool())
                .await?;
            tracing::warn!(%family, "refresh token reused; family revoked");
            let event = AuthEvent::RefreshReuseDetected {
                user_id: UserId(user),
                family_id: family,
            };
            self.record_revocation(event, request_id).await?;
            return Err(CommandError::Unauthorized(
                "this refresh token was already used; sign in again",
            ));
        }
        Err(CommandError::Unauthorized(
            "the refresh token is not valid or has expired",
        ))
    }

    /// `POST /v1/auth/logout`: revokes the token's family. Unknown tokens are not an error.
    pub async fn logout(&self, token: &str, request_id: Option<String>) -> Result<(), CommandError> {
        let digest = prism_auth::token_digest(token);
        let known: Option<(Uuid, Uuid)> =
            sqlx::query_as("SELECT family_id, user_id FROM refresh_tokens WHERE token_hash = $1")
                .bind(&digest)
                .fetch_optional(self.store.pool())
                .await?;
        if let Some((family, _)) = known {
            sqlx::query("UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL")
                .bind(family)
                .execute(self.store.pool())
                .await?;
        }
        if let Some((family, user)) = known {
            let event = AuthEvent::LoggedOut {
                user_id: UserId(user),
                family_id: family,
            };
            self.record_revocation(event, request_id).await?;
        }
        Ok(())
    }
}
