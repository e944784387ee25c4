use prism_domain::auth_events::AuthEvent;
use prism_domain::values::Email;
use prism_domain::UserId;
use uuid::Uuid;

use super::Tokens;
use crate::{CommandError, Commands};

const WRONG: &str = "the email or password is not correct";

impl Commands {
    /// `POST /v1/auth/login`: the same answer, in about the same time, for an unknown email
    /// and for a wrong password.
    pub async fn login(&self, email: &str, password: &str, request_id: Option<String>) -> Result<Tokens, CommandError> {
        let email = Email::parse(email).map(Email::into_inner).unwrap_or_default();
        let row: Option<(Uuid, String)> =
            sqlx::query_as("SELECT user_id, password_hash FROM credentials WHERE email = $1")
                .bind(&email)
                .fetch_optional(self.store.pool())
                .await?;
        let hasher = self.hasher.clone();
        let password = password.to_owned();
        let stored = row.as_ref().map(|(_, h)| h.clone());
        let ok = Self::blocking(move || hasher.verify(&password, stored.as_deref())).await?;
        match row {
            Some((user, _)) if ok => {
                let tokens = self.issue_tokens(self.store.pool(), UserId(user), None).await?;
                self.record_auth(AuthEvent::LoginSucceeded { user_id: UserId(user) }, request_id)
                    .await;
                Ok(tokens)
            }
            _ => {
                tracing::info!("login refused");
                let failed = AuthEvent::LoginFailed {
                    user_id: row.map(|(u, _)| UserId(u)),
                    email_digest: prism_auth::token_digest(&email),
                };
                self.record_auth(failed, request_id).await;
                Err(CommandError::Unauthorized(WRONG))
            }
        }
    }
}
