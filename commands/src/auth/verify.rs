//! Email verification: registering sends a single-use link (48 hours; the token is stored only
//! as its digest, and sealed in the log for the mail worker); following it
//! (`POST /v1/auth/verify-email`) records `auth.email_verified`, and `/v1/me` says so.

use prism_domain::auth_events::AuthEvent;
use prism_domain::UserId;
use sqlx::PgConnection;
use uuid::Uuid;

use super::auth_batch;
use crate::{CommandError, Commands};

/// How long a verification link works (the mail worker sends none older).
pub const VERIFY_TTL: chrono::Duration = chrono::Duration::hours(48);

const INVALID: &str = "this verification link is not valid: it expired, was used already or was never issued";

impl Commands {
    /// Stores the token's digest and appends the request the mail worker sends, in `tx`.
    pub(crate) async fn request_verification(
        &self,
        tx: &mut PgConnection,
        user: UserId,
        to: String,
        token_sealed: String,
        token: &str,
        request_id: Option<String>,
    ) -> Result<(), CommandError> {
        sqlx::query("INSERT INTO email_verifications (token_hash, user_id, expires_at) VALUES ($1, $2, $3)")
            .bind(prism_auth::token_digest(token))
            .bind(user.0)
            .bind(chrono::Utc::now() + VERIFY_TTL)
            .execute(&mut *tx)
            .await?;
        let event = AuthEvent::EmailVerificationRequested {
            user_id: user,
            to,
            token: token_sealed,
        };
        let batch = auth_batch(&event, request_id).map_err(|e| CommandError::Internal(e.to_string()))?;
        self.store.append_on(tx, batch).await?;
        Ok(())
    }

    /// `POST /v1/auth/verify-email`: spends the token and records that the address is confirmed.
    pub async fn verify_email(&self, token: &str, request_id: Option<String>) -> Result<UserId, CommandError> {
        let mut tx = self.store.pool().begin().await?;
        let user: Option<Uuid> = sqlx::query_scalar(
            "UPDATE email_verifications SET used_at = now()
              WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
                AND EXISTS (SELECT 1 FROM credentials c WHERE c.user_id = email_verifications.user_id)
              RETURNING user_id",
        )
        .bind(prism_auth::token_digest(token))
        .fetch_optional(&mut *tx)
        .await?;
        let user = UserId(user.ok_or(CommandError::InvalidToken(INVALID))?);
        sqlx::query("UPDATE credentials SET email_verified_at = coalesce(email_verified_at, now()) WHERE user_id = $1")
            .bind(user.0)
            .execute(&mut *tx)
            .await?;
        let batch = auth_batch(&AuthEvent::EmailVerified { user_id: user }, request_id)
            .map_err(|e| CommandError::Internal(e.to_string()))?;
        self.store.append_on(&mut tx, batch).await?;
        tx.commit().await?;
        tracing::info!(user_id = %user, "email verified");
        Ok(user)
    }
}
