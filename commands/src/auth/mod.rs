//! Account commands: register, log in, refresh, log out, reset a password.
//!
//! Password hashes and refresh tokens are write-side tables, not events; `user.registered` is
//! an event, appended in the same transaction as the credentials.

mod impersonation;
pub use impersonation::{Impersonation, IMPERSONATION_TTL};
mod login;
mod profile;
mod refresh;
mod register;
mod reset;
mod roles;
mod sessions;
mod verify;
pub use verify::VERIFY_TTL;

use prism_domain::auth_events::{AuthEvent, AUTH_STREAM};
use prism_domain::event::{to_parts, KernelEvent};
use prism_domain::UserId;
use prism_event_store::{hash, AppendBatch, Metadata, NewEvent};
use serde::Serialize;
use uuid::Uuid;

use crate::{CommandError, Commands};

/// Who is signing in, as far as the edge can tell: kept with the session (the owner sees it
/// in their session list), never trusted for anything.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub request_id: Option<String>,
    /// `User-Agent`, cut to 200 characters.
    pub user_agent: Option<String>,
}

impl From<Option<String>> for Client {
    fn from(request_id: Option<String>) -> Self {
        Self {
            request_id,
            user_agent: None,
        }
    }
}

/// What a successful register, login or refresh answers.
#[derive(Debug, Clone, Serialize)]
pub struct Tokens {
    /// The session these tokens belong to (not part of the answer).
    #[serde(skip)]
    pub session_id: Uuid,
    pub user_id: UserId,
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

impl Commands {
    /// A new access token, and a refresh token in `family` (a new family at login).
    pub(crate) async fn issue_tokens<'c, E>(
        &self,
        exec: E,
        user: UserId,
        family: Option<Uuid>,
    ) -> Result<Tokens, CommandError>
    where
        E: sqlx::PgExecutor<'c>,
    {
        let roles: Vec<String> = sqlx::query_scalar("SELECT role FROM platform_roles WHERE user_id = $1 ORDER BY role")
            .bind(user.0)
            .fetch_all(self.store.pool())
            .await?;
        // The refresh-token family is the session: access tokens carry it, so revoking the
        // family (logout, reuse) revokes them too.
        let family = family.unwrap_or_else(Uuid::now_v7);
        let access_token = self
            .jwt
            .issue_for(user, roles, family)
            .map_err(|e| CommandError::Internal(e.to_string()))?;
        let refresh_token = prism_auth::random_token(32);
        // Only while the account exists: the share lock on its credentials makes an erasure
        // (which deletes them first, then every refresh token) wait for this insert and see it.
        let inserted = sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family_id, user_id, expires_at)
             SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM credentials WHERE user_id = $3 FOR SHARE)",
        )
        .bind(prism_auth::token_digest(&refresh_token))
        .bind(family)
        .bind(user.0)
        .bind(chrono::Utc::now() + self.refresh_ttl)
        .execute(exec)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(CommandError::Erased);
        }
        Ok(Tokens {
            session_id: family,
            user_id: user,
            access_token,
            refresh_token,
            token_type: "Bearer",
            expires_in: self.jwt.ttl().as_secs(),
        })
    }

    /// Revocations recorded after log position `after` (from 0: those of the last `recent`),
    /// and the position read up to: what every node's [`prism_auth::Revocations`] follows.
    pub async fn revocations(
        &self,
        after: i64,
        recent: std::time::Duration,
    ) -> Result<(Vec<prism_auth::Revocation>, i64), CommandError> {
        let (events, upto) = self.store.revoking_events(after, recent).await?;
        let found = events
            .iter()
            .filter_map(|e| {
                prism_auth::Revocation::from_event(&e.event_type, e.aggregate_id, &e.payload, e.recorded_at.timestamp())
            })
            .collect();
        Ok((found, upto))
    }

    /// API-key events after log position `after`, and the position read up to: what every
    /// node's [`prism_auth::ApiKeys`] follows.
    pub async fn api_key_changes(&self, after: i64) -> Result<(Vec<prism_auth::KeyChange>, i64), CommandError> {
        let (events, upto) = self.store.api_key_events(after).await?;
        let found = events
            .iter()
            .filter_map(|e| prism_auth::KeyChange::from_event(&e.event_type, e.tenant_id, &e.payload))
            .collect();
        Ok((found, upto))
    }

    /// Records a fact that revokes a session (logout, refresh reuse): every node refuses the
    /// session's access tokens once it reads it from the log, so it must be recorded — a
    /// failure is answered (503), never swallowed.
    pub(crate) async fn record_revocation(
        &self,
        event: AuthEvent,
        request_id: Option<String>,
    ) -> Result<(), CommandError> {
        let batch = auth_batch(&event, request_id).map_err(|e| CommandError::Internal(e.to_string()))?;
        self.store.append(batch).await?;
        Ok(())
    }

    /// Records that a session began (with the client's user agent, sealed with the user's key).
    pub(crate) async fn started_session(&self, tokens: &Tokens, client: &Client) {
        let user_agent = match &client.user_agent {
            Some(ua) => {
                let ua: String = ua.chars().filter(|c| !c.is_control()).take(200).collect();
                self.vault
                    .seal(prism_vault::Scope::user(tokens.user_id), &ua)
                    .await
                    .ok()
            }
            None => None,
        };
        let event = AuthEvent::SessionStarted {
            user_id: tokens.user_id,
            session_id: tokens.session_id,
            user_agent,
        };
        self.record_auth(event, client.request_id.clone()).await;
    }

    /// Records a sign-in fact for the audit trail, as a one-event stream of its own. A failure
    /// to record is logged, not answered: the sign-in itself has already been decided.
    pub(crate) async fn record_auth(&self, event: AuthEvent, request_id: Option<String>) {
        let batch = match auth_batch(&event, request_id) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "auth event not serialisable");
                return;
            }
        };
        if let Err(e) = self.store.append(batch).await {
            tracing::error!(error = %e, "auth event not recorded");
        }
    }

    /// A valid new password, hashed (422 for one the rules refuse).
    pub(crate) async fn hash_password(&self, password: &str) -> Result<String, CommandError> {
        let password = crate::valid(prism_domain::values::Password::parse(password))?;
        let hasher = self.hasher.clone();
        self.hashing(move || hasher.hash(password.expose()))
            .await?
            .map_err(|e| CommandError::Internal(e.to_string()))
    }

    /// Runs argon2 off the async runtime, in one of the bounded hashing slots: it is
    /// deliberately CPU- and memory-heavy, so a flood of sign-ins waits (at most a second)
    /// for a slot, then gets 503 `busy`, instead of taking the node's memory.
    pub(crate) async fn hashing<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, CommandError> {
        let permit = tokio::time::timeout(std::time::Duration::from_secs(1), self.hashing.clone().acquire_owned())
            .await
            .map_err(|_| {
                metrics::counter!("prism_hashing_busy_total").increment(1);
                CommandError::Busy
            })?
            .map_err(|_| CommandError::Busy)?;
        tokio::task::spawn_blocking(move || {
            let out = f();
            drop(permit);
            out
        })
        .await
        .map_err(|e| CommandError::Internal(e.to_string()))
    }
}

/// A sign-in fact as a one-event stream of its own.
pub(crate) fn auth_batch(event: &AuthEvent, request_id: Option<String>) -> Result<AppendBatch, serde_json::Error> {
    let user = event.actor();
    let (event_type, payload) = to_parts(event)?;
    Ok(AppendBatch {
        tenant_id: None,
        aggregate_type: AUTH_STREAM.to_owned(),
        aggregate_id: Uuid::now_v7(),
        expected_version: 0,
        prev_hash: hash::GENESIS,
        events: vec![NewEvent {
            event_type,
            event_version: event.schema_version(),
            payload,
        }],
        metadata: Metadata {
            actor_id: user.map(|u| u.0),
            actor_kind: if user.is_some() { "user" } else { "anonymous" }.into(),
            correlation_id: Uuid::now_v7(),
            causation_id: None,
            request_id,
            impersonator: None,
        },
        claims: vec![],
        releases: vec![],
        guards: vec![],
        idempotency: None,
    })
}
