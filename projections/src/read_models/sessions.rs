//! Sessions (`rm_sessions`): written from the `auth.*` facts, read by `GET /v1/me/sessions`.
//! A session is a refresh-token family: it starts at a sign-in, is used at each refresh, and
//! ends at a logout, a reuse, its owner's revocation, a password reset or an erasure.

use chrono::{DateTime, Utc};
use prism_domain::auth_events::AuthEvent;
use prism_domain::UserId;
use prism_event_store::StoredEvent;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::ProjectionError;

/// A live session, `user_agent` sealed.
#[derive(Debug, sqlx::FromRow)]
pub struct SessionRow {
    pub id: Uuid,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
}

/// `user`'s sessions that have not ended, newest first.
pub async fn live(pool: &PgPool, user: UserId) -> Result<Vec<SessionRow>, ProjectionError> {
    Ok(sqlx::query_as(
        "SELECT session_id AS id, user_agent, created_at, last_used_at FROM rm_sessions
          WHERE user_id = $1 AND ended_at IS NULL ORDER BY session_id DESC LIMIT 200",
    )
    .bind(user.0)
    .fetch_all(pool)
    .await?)
}

pub(super) async fn apply(tx: &mut PgConnection, e: &StoredEvent) -> Result<(), ProjectionError> {
    let at = e.recorded_at;
    let end = |id: Uuid| {
        sqlx::query("UPDATE rm_sessions SET ended_at = coalesce(ended_at, $2) WHERE session_id = $1")
            .bind(id)
            .bind(at)
    };
    match super::typed::<AuthEvent>(e)? {
        AuthEvent::SessionStarted {
            user_id,
            session_id,
            user_agent,
        } => {
            sqlx::query(
                "INSERT INTO rm_sessions (session_id, user_id, user_agent, created_at, last_used_at)
                 VALUES ($1, $2, $3, $4, $4) ON CONFLICT DO NOTHING",
            )
            .bind(session_id)
            .bind(user_id.0)
            .bind(user_agent)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        AuthEvent::SessionRefreshed { session_id, .. } => {
            sqlx::query("UPDATE rm_sessions SET last_used_at = greatest(last_used_at, $2) WHERE session_id = $1")
                .bind(session_id)
                .bind(at)
                .execute(&mut *tx)
                .await?;
        }
        AuthEvent::SessionRevoked { session_id, .. } => {
            end(session_id).execute(&mut *tx).await?;
        }
        AuthEvent::LoggedOut { family_id, .. } | AuthEvent::RefreshReuseDetected { family_id, .. } => {
            end(family_id).execute(&mut *tx).await?;
        }
        AuthEvent::PasswordChanged {
            user_id,
            kept_session: None,
        } => {
            sqlx::query("UPDATE rm_sessions SET ended_at = coalesce(ended_at, $2) WHERE user_id = $1")
                .bind(user_id.0)
                .bind(at)
                .execute(&mut *tx)
                .await?;
        }
        AuthEvent::EmailVerified { user_id } => super::users::email_verified(tx, user_id.0, at).await?,
        AuthEvent::ImpersonationStarted {
            impersonation_id,
            admin_id,
            user_id,
            reason,
            expires_at,
        } => {
            sqlx::query(
                "INSERT INTO rm_impersonations (impersonation_id, user_id, admin_id, reason, started_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, to_timestamp($6)) ON CONFLICT DO NOTHING",
            )
            .bind(impersonation_id)
            .bind(user_id.0)
            .bind(admin_id.0)
            .bind(reason)
            .bind(at)
            .bind(expires_at as f64)
            .execute(&mut *tx)
            .await?;
        }
        AuthEvent::ImpersonationEnded {
            impersonation_id,
            ended_by,
            ..
        } => {
            sqlx::query(
                "UPDATE rm_impersonations SET ended_at = coalesce(ended_at, $2), ended_by = coalesce(ended_by, $3)
                  WHERE impersonation_id = $1",
            )
            .bind(impersonation_id)
            .bind(at)
            .bind(ended_by.0)
            .execute(&mut *tx)
            .await?;
        }
        _ => {}
    }
    Ok(())
}

/// An impersonation of the user's account, `reason` sealed with their key.
#[derive(Debug, sqlx::FromRow)]
pub struct ImpersonationRow {
    pub id: Uuid,
    pub admin_id: Uuid,
    pub reason: String,
    pub started_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub ended_by: Option<Uuid>,
}

/// The impersonations of `user`'s account, newest first, before `before` (an id).
pub async fn impersonations(
    pool: &PgPool,
    user: UserId,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ImpersonationRow>, ProjectionError> {
    Ok(sqlx::query_as(
        "SELECT impersonation_id AS id, admin_id, reason, started_at, expires_at, ended_at, ended_by
           FROM rm_impersonations WHERE user_id = $1 AND ($2::uuid IS NULL OR impersonation_id < $2)
          ORDER BY impersonation_id DESC LIMIT $3",
    )
    .bind(user.0)
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// An erased user's sessions go, and the record of their impersonations with them.
pub(super) async fn erase(tx: &mut PgConnection, user: Uuid) -> Result<(), ProjectionError> {
    sqlx::query("DELETE FROM rm_sessions WHERE user_id = $1")
        .bind(user)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM rm_impersonations WHERE user_id = $1")
        .bind(user)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
