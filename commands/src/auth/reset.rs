//! Password reset by mail: a single-use token, good for an hour, stored only as its digest.
//!
//! Asking always answers the same (202), whether or not the address has an account, so the
//! route tells no one who is registered. For an account, the token and the address are sealed
//! with the user's key into `auth.password_reset_requested`; the mail worker opens them to send
//! the link. Confirming sets the new password and appends `auth.password_changed`, which ends
//! every session of the account on every node.

use prism_domain::auth_events::AuthEvent;
use prism_domain::values::Email;
use prism_domain::UserId;
use uuid::Uuid;

use crate::{CommandError, Commands};

const INVALID: &str = "this reset link is not valid: it expired, was used already or was never issued";

/// The least time a reset request takes to answer, whatever the address: well above what the
/// work for a real account takes, so the answer's timing says nothing.
const ANSWER_FLOOR: std::time::Duration = std::time::Duration::from_millis(300);

/// How long a reset link works.
const RESET_TTL: chrono::Duration = chrono::Duration::hours(1);

impl Commands {
    /// `POST /v1/auth/password-reset`: a link by mail if the address has an account; nothing
    /// otherwise. The answer does not say which.
    pub async fn request_password_reset(&self, email: &str, request_id: Option<String>) -> Result<(), CommandError> {
        // Nor does its timing: an address with an account (a token stored, sealed and logged)
        // and one without answer after the same floor.
        let floor = tokio::time::Instant::now() + ANSWER_FLOOR;
        let out = self.reset_request(email, request_id).await;
        tokio::time::sleep_until(floor).await;
        out
    }

    async fn reset_request(&self, email: &str, request_id: Option<String>) -> Result<(), CommandError> {
        let Ok(email) = Email::parse(email) else {
            return Ok(());
        };
        let user: Option<Uuid> = sqlx::query_scalar("SELECT user_id FROM credentials WHERE email = $1")
            .bind(email.as_str())
            .fetch_optional(self.store.pool())
            .await?;
        let Some(user) = user.map(UserId) else {
            tracing::info!("password reset for an unknown address");
            return Ok(());
        };
        let token = prism_auth::random_token(32);
        sqlx::query("INSERT INTO password_resets (token_hash, user_id, expires_at) VALUES ($1, $2, $3)")
            .bind(prism_auth::token_digest(&token))
            .bind(user.0)
            .bind(chrono::Utc::now() + RESET_TTL)
            .execute(self.store.pool())
            .await?;
        let [to, token] = self
            .vault
            .seal_all(prism_vault::Scope::user(user), [email.as_str(), token.as_str()])
            .await?;
        // The mail goes out from the log: recording the request must not fail silently.
        self.record_revocation(
            AuthEvent::PasswordResetRequested {
                user_id: user,
                to,
                token,
            },
            request_id,
        )
        .await?;
        tracing::info!(user_id = %user, "password reset requested");
        Ok(())
    }

    /// `POST /v1/auth/password-reset/confirm`: the token's account gets `new_password`; the token
    /// is spent and every session of the account ends.
    pub async fn confirm_password_reset(
        &self,
        token: &str,
        new_password: &str,
        request_id: Option<String>,
    ) -> Result<(), CommandError> {
        // Cheap refusals first: a made-up token costs no password hashing.
        crate::valid(prism_domain::values::Password::parse(new_password))?;
        let live: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM password_resets WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()",
        )
        .bind(prism_auth::token_digest(token))
        .fetch_optional(self.store.pool())
        .await?;
        if live.is_none() {
            return Err(CommandError::InvalidToken(INVALID));
        }
        let hash = self.hash_password(new_password).await?;
        let mut tx = self.store.pool().begin().await?;
        // Spent in the same transaction as the new password: a token works once, and a failure
        // leaves it unspent.
        let user: Option<Uuid> = sqlx::query_scalar(
            "UPDATE password_resets SET used_at = now()
              WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING user_id",
        )
        .bind(prism_auth::token_digest(token))
        .fetch_optional(&mut *tx)
        .await?;
        let user = user.map(UserId).ok_or(CommandError::InvalidToken(INVALID))?;
        let changed = sqlx::query("UPDATE credentials SET password_hash = $2 WHERE user_id = $1")
            .bind(user.0)
            .bind(&hash)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Err(CommandError::Erased);
        }
        // Other links of the same account die with this one.
        sqlx::query("UPDATE password_resets SET used_at = now() WHERE user_id = $1 AND used_at IS NULL")
            .bind(user.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.record_revocation(
            AuthEvent::PasswordChanged {
                user_id: user,
                kept_session: None,
            },
            request_id.clone(),
        )
        .await?;
        // Every session there was ends, one by one: a sign-in with the new password is a new
        // session and works at once (a user-wide revocation would refuse it too, for as long
        // as an access token lives).
        let sessions = self.live_sessions(user, None).await?;
        self.end_sessions(user, &sessions, request_id.clone()).await?;
        self.end_impersonations_of(user, request_id).await?;
        tracing::info!(user_id = %user, "password reset");
        Ok(())
    }
}
