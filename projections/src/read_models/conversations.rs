use prism_domain::aggregates::ConversationEvent;
use prism_event_store::StoredEvent;
use sqlx::PgConnection;

use crate::ProjectionError;

pub(super) async fn apply(tx: &mut PgConnection, e: &StoredEvent) -> Result<(), ProjectionError> {
    let ConversationEvent::Created {
        workspace_id, members, ..
    } = super::typed::<ConversationEvent>(e)?;
    let (a, b) = match members.as_slice() {
        [a, b] => (a.0, b.0),
        _ => {
            return Err(ProjectionError::Unreadable {
                position: e.global_position,
                event_type: e.event_type.clone(),
                reason: "a conversation has exactly two members".into(),
            })
        }
    };
    sqlx::query(
        "INSERT INTO rm_conversations (conversation_id, workspace_id, member_a, member_b, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT DO NOTHING",
    )
    .bind(e.aggregate_id)
    .bind(workspace_id.0)
    .bind(a)
    .bind(b)
    .bind(e.recorded_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
