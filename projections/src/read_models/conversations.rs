//! Direct conversations (`rm_conversations`), and the inbox that lists a person's.

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

/// One conversation in a person's inbox.
#[derive(Debug, sqlx::FromRow)]
pub struct Row {
    pub id: uuid::Uuid,
    pub workspace_id: uuid::Uuid,
    pub other_id: uuid::Uuid,
    /// Sealed as stored; readers open it.
    pub other_name: Option<String>,
    pub last_id: Option<uuid::Uuid>,
    pub last_author: Option<uuid::Uuid>,
    pub last_body: Option<String>,
    pub last_at: Option<chrono::DateTime<chrono::Utc>>,
    pub activity: chrono::DateTime<chrono::Utc>,
    pub unread: i64,
}

/// `user`'s conversations in the live workspaces they are still a member of, newest activity
/// (last live message, else the start) first, after the conversation `after` in that order.
pub async fn inbox(
    pool: &sqlx::PgPool,
    user: prism_domain::UserId,
    after: Option<uuid::Uuid>,
    limit: i64,
) -> Result<Vec<Row>, ProjectionError> {
    Ok(sqlx::query_as(
        "WITH mine AS (
           SELECT v.conversation_id AS id, v.workspace_id,
                  CASE WHEN v.member_a = $1 THEN v.member_b ELSE v.member_a END AS other_id,
                  lm.message_id AS last_id, lm.author_id AS last_author, lm.body AS last_body, lm.created_at AS last_at,
                  coalesce(lm.created_at, v.created_at) AS activity
             FROM rm_conversations v
             JOIN rm_members m ON m.workspace_id = v.workspace_id AND m.user_id = $1
             JOIN rm_workspaces w ON w.workspace_id = v.workspace_id AND NOT w.deleted
             LEFT JOIN LATERAL (SELECT message_id, author_id, body, created_at FROM rm_messages
                                 WHERE channel_id = v.conversation_id AND NOT deleted
                                 ORDER BY message_id DESC LIMIT 1) lm ON true
            WHERE v.member_a = $1 OR v.member_b = $1)
         SELECT c.id, c.workspace_id, c.other_id, u.name AS other_name, c.last_id, c.last_author, c.last_body, c.last_at, c.activity,
                (SELECT count(*) FROM rm_notifications n WHERE n.user_id = $1 AND n.channel_id = c.id AND NOT n.read) AS unread
           FROM mine c LEFT JOIN rm_users u ON u.user_id = c.other_id
          WHERE $2::uuid IS NULL OR (c.activity, c.id) < (SELECT activity, id FROM mine WHERE id = $2)
          ORDER BY c.activity DESC, c.id DESC LIMIT $3",
    )
    .bind(user.0)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}
