use prism_domain::aggregates::UserEvent;
use prism_event_store::StoredEvent;
use sqlx::PgConnection;

use crate::ProjectionError;

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
        }
        UserEvent::EntitlementChanged { .. }
        | UserEvent::SpectrumSessionExcluded { .. }
        | UserEvent::SpectrumReset { .. }
        | UserEvent::InsightWritten { .. } => {}
    }
    Ok(())
}
