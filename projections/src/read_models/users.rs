//! Users (`rm_users`): written from user events, read by `/v1/me`, the member lists (names)
//! and the personal-data export. Email and name are stored sealed with the user's key.

use chrono::{DateTime, Utc};
use prism_domain::aggregates::UserEvent;
use prism_domain::UserId;
use prism_event_store::StoredEvent;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::ProjectionError;

/// A user's profile as stored (email and name sealed: readers open them with the user's key).
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Profile {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub registered_at: DateTime<Utc>,
    /// When the owner confirmed the address (`auth.email_verified`).
    pub email_verified_at: Option<DateTime<Utc>>,
}

/// The profile of `user`, if registered.
pub async fn profile(pool: &PgPool, user: UserId) -> Result<Option<Profile>, ProjectionError> {
    Ok(
        sqlx::query_as(
            "SELECT user_id, email, name, registered_at, email_verified_at FROM rm_users WHERE user_id = $1",
        )
        .bind(user.0)
        .fetch_optional(pool)
        .await?,
    )
}

/// The owner confirmed their address at `at`.
pub(super) async fn email_verified(
    tx: &mut PgConnection,
    user: Uuid,
    at: DateTime<Utc>,
) -> Result<(), ProjectionError> {
    sqlx::query("UPDATE rm_users SET email_verified_at = coalesce(email_verified_at, $2) WHERE user_id = $1")
        .bind(user)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// How an erased user is shown.
pub const ERASED_NAME: &str = "erased user";

pub(super) async fn apply(tx: &mut PgConnection, e: &StoredEvent) -> Result<(), ProjectionError> {
    match super::typed::<UserEvent>(e)? {
        UserEvent::Registered { user_id, email, name } => {
            sqlx::query("INSERT INTO rm_users (user_id, email, name, registered_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
                .bind(user_id.0)
                .bind(email)
                .bind(name)
                .bind(e.recorded_at)
                .execute(&mut *tx)
                .await?;
        }
        UserEvent::Renamed { user_id, name } => {
            sqlx::query("UPDATE rm_users SET name = $2 WHERE user_id = $1 AND erased_at IS NULL")
                .bind(user_id.0)
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        UserEvent::Erased { user_id } => {
            // Their workspace messages stay (they belong to the conversation) but show who
            // wrote them as "erased user"; their reflections go.
            sqlx::query("UPDATE rm_users SET email = '', name = $2, erased_at = $3 WHERE user_id = $1")
                .bind(user_id.0)
                .bind(ERASED_NAME)
                .bind(e.recorded_at)
                .execute(&mut *tx)
                .await?;
            super::reflection::erase(tx, user_id.0).await?;
            super::sessions::erase(tx, user_id.0).await?;
        }
        UserEvent::EntitlementChanged { .. }
        | UserEvent::SpectrumSessionExcluded { .. }
        | UserEvent::SpectrumReset { .. }
        | UserEvent::InsightWritten { .. }
        // Notifications keep their own read state (`notifications::apply`).
        | UserEvent::NotificationsRead { .. }
        | UserEvent::InvitationReceived { .. } => {}
    }
    Ok(())
}
