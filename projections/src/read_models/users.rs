use prism_domain::aggregates::UserEvent;
use prism_event_store::StoredEvent;
use sqlx::PgConnection;

use crate::ProjectionError;

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
    }
    Ok(())
}
