use hmac::{Hmac, Mac};
use prism_domain::auth_events::AuthEvent;
use prism_domain::values::Email;
use prism_domain::UserId;
use sha2::Sha256;
use uuid::Uuid;

use super::{Client, Tokens};
use crate::{CommandError, Commands};

const WRONG: &str = "the email or password is not correct";

/// Failed sign-ins an account may have in [`WINDOW_SECS`] before it is locked.
const LOCK_AFTER: i32 = 10;
const WINDOW_SECS: i32 = 15 * 60;
const LOCK_SECS: i32 = 15 * 60;

impl Commands {
    /// `POST /v1/auth/login`: the same answer, in about the same time, for an unknown email
    /// and for a wrong password. After [`LOCK_AFTER`] failures in a quarter of an hour an
    /// address (known or not: the answer must not tell) is locked for a quarter of an hour:
    /// 429 `too_many_attempts`, before any password is checked. Failures are counted in
    /// `login_failures` under a keyed hash of the address, on every node alike; the log gets
    /// one `auth.login_locked` per lockout, not an event per guess.
    pub async fn login(&self, email: &str, password: &str, client: impl Into<Client>) -> Result<Tokens, CommandError> {
        let client = client.into();
        let request_id = client.request_id.clone();
        let email = Email::parse(email).map(Email::into_inner).unwrap_or_default();
        let account = self.account_key(&email);
        self.refuse_if_locked(&account).await?;
        let row: Option<(Uuid, String)> =
            sqlx::query_as("SELECT user_id, password_hash FROM credentials WHERE email = $1")
                .bind(&email)
                .fetch_optional(self.store.pool())
                .await?;
        let hasher = self.hasher.clone();
        let password = password.to_owned();
        let stored = row.as_ref().map(|(_, h)| h.clone());
        let ok = self
            .hashing(move || hasher.verify(&password, stored.as_deref()))
            .await?;
        match row {
            Some((user, verified)) if ok => {
                sqlx::query("DELETE FROM login_failures WHERE account = $1")
                    .bind(&account)
                    .execute(self.store.pool())
                    .await?;
                // A reset or change may have set a new password while this one was being checked:
                // the session is made only if the password is still the one verified, under a
                // share lock that makes a change wait for it (and then end it with the others).
                let mut tx = self.store.pool().begin().await?;
                let current: Option<String> =
                    sqlx::query_scalar("SELECT password_hash FROM credentials WHERE user_id = $1 FOR SHARE")
                        .bind(user)
                        .fetch_optional(&mut *tx)
                        .await?;
                if current.as_deref() != Some(verified.as_str()) {
                    return Err(CommandError::Unauthorized(WRONG));
                }
                let tokens = self.issue_tokens(&mut *tx, UserId(user), None).await?;
                tx.commit().await?;
                self.record_auth(AuthEvent::LoginSucceeded { user_id: UserId(user) }, request_id)
                    .await;
                self.started_session(&tokens, &client).await;
                Ok(tokens)
            }
            _ => {
                tracing::info!("login refused");
                self.count_failure(&account, row.map(|(u, _)| UserId(u)), request_id)
                    .await?;
                Err(CommandError::Unauthorized(WRONG))
            }
        }
    }

    /// One more failure for `account`; at the limit the account is locked and that is logged.
    /// 429 `too_many_attempts` while the address is locked.
    pub(crate) async fn refuse_if_locked(&self, account: &[u8]) -> Result<(), CommandError> {
        let locked: Option<i64> = sqlx::query_scalar(
            "SELECT ceil(extract(epoch FROM locked_until - now()))::bigint FROM login_failures
              WHERE account = $1 AND locked_until > now()",
        )
        .bind(account)
        .fetch_optional(self.store.pool())
        .await?;
        match locked {
            Some(retry_after) => Err(CommandError::TooManyAttempts { retry_after }),
            None => Ok(()),
        }
    }

    pub(crate) async fn count_failure(
        &self,
        account: &[u8],
        user: Option<UserId>,
        request_id: Option<String>,
    ) -> Result<(), CommandError> {
        let failures: i32 = sqlx::query_scalar(
            "INSERT INTO login_failures AS f (account, failures) VALUES ($1, 1)
             ON CONFLICT (account) DO UPDATE SET
                 failures = CASE WHEN f.window_start < now() - make_interval(secs => $2) THEN 1 ELSE f.failures + 1 END,
                 window_start = CASE WHEN f.window_start < now() - make_interval(secs => $2) THEN now() ELSE f.window_start END
             RETURNING failures",
        )
        .bind(account)
        .bind(WINDOW_SECS as f64)
        .fetch_one(self.store.pool())
        .await?;
        if failures < LOCK_AFTER {
            return Ok(());
        }
        sqlx::query(
            "UPDATE login_failures SET locked_until = now() + make_interval(secs => $2), failures = 0, window_start = now()
              WHERE account = $1",
        )
        .bind(account)
        .bind(LOCK_SECS as f64)
        .execute(self.store.pool())
        .await?;
        tracing::warn!(security = true, "sign-ins locked after repeated failures");
        let event = AuthEvent::LoginLocked {
            user_id: user,
            failures: failures as u32,
            locked_seconds: LOCK_SECS as u32,
        };
        self.record_auth(event, request_id).await;
        Ok(())
    }

    /// The keyed hash under which an address's failures are counted.
    pub(crate) fn account_key(&self, email: &str) -> Vec<u8> {
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.login_key) {
            Ok(m) => m,
            // HMAC takes keys of any length.
            Err(_) => return <Sha256 as sha2::Digest>::digest(email.as_bytes()).to_vec(),
        };
        mac.update(email.to_lowercase().as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}
