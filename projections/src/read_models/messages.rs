use prism_domain::aggregates::MessageEvent;
use prism_event_store::StoredEvent;
use sqlx::PgConnection;

use crate::ProjectionError;

pub(super) async fn apply(tx: &mut PgConnection, e: &StoredEvent) -> Result<(), ProjectionError> {
    let id = e.aggregate_id;
    match super::typed::<MessageEvent>(e)? {
        MessageEvent::Created {
            workspace_id,
            channel_id,
            author_id,
            body,
            parent_id,
            ..
        } => {
            sqlx::query(
                "INSERT INTO rm_messages (message_id, workspace_id, channel_id, author_id, body, parent_id, created_at, version)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(workspace_id.0)
            .bind(channel_id)
            .bind(author_id.0)
            .bind(body)
            .bind(parent_id.map(|p| p.0))
            .bind(e.recorded_at)
            .bind(e.sequence)
            .execute(&mut *tx)
            .await?;
            if let Some(parent) = parent_id {
                sqlx::query("UPDATE rm_messages SET reply_count = reply_count + 1 WHERE message_id = $1")
                    .bind(parent.0)
                    .execute(&mut *tx)
                    .await?;
            }
            return Ok(());
        }
        MessageEvent::Updated { body, .. } => {
            sqlx::query("UPDATE rm_messages SET body = $2, edited_at = $3 WHERE message_id = $1")
                .bind(id)
                .bind(body)
                .bind(e.recorded_at)
                .execute(&mut *tx)
                .await?;
        }
        MessageEvent::Deleted { .. } => {
            // The text goes; the row stays so that threads and positions still make sense.
            sqlx::query("UPDATE rm_messages SET deleted = true, body = '', reactions = '{}' WHERE message_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM rm_reactions WHERE message_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        MessageEvent::ReactionToggled { user_id, emoji, added } => {
            let sql = if added {
                "INSERT INTO rm_reactions (message_id, emoji, user_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
            } else {
                "DELETE FROM rm_reactions WHERE message_id = $1 AND emoji = $2 AND user_id = $3"
            };
            sqlx::query(sql)
                .bind(id)
                .bind(emoji)
                .bind(user_id.0)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE rm_messages SET reactions = coalesce((SELECT jsonb_object_agg(emoji, n) FROM
                    (SELECT emoji, count(*) AS n FROM rm_reactions WHERE message_id = $1 GROUP BY emoji) x), '{}')
                  WHERE message_id = $1",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
    }
    sqlx::query("UPDATE rm_messages SET version = $2 WHERE message_id = $1")
        .bind(id)
        .bind(e.sequence)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Many `message.created` events at once: the same rows as applying them one by one.
pub(super) async fn insert_many(tx: &mut PgConnection, events: &[StoredEvent]) -> Result<(), ProjectionError> {
    let n = events.len();
    let (mut ids, mut wss, mut chs, mut authors, mut bodies, mut parents, mut ats, mut versions) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for e in events {
        let MessageEvent::Created {
            workspace_id,
            channel_id,
            author_id,
            body,
            parent_id,
            ..
        } = super::typed::<MessageEvent>(e)?
        else {
            return Err(ProjectionError::Unreadable {
                position: e.global_position,
                event_type: e.event_type.clone(),
                reason: "expected message.created".into(),
            });
        };
        ids.push(e.aggregate_id);
        wss.push(workspace_id.0);
        chs.push(channel_id);
        authors.push(author_id.0);
        bodies.push(body);
        parents.push(parent_id.map(|p| p.0));
        ats.push(e.recorded_at);
        versions.push(e.sequence);
    }
    sqlx::query(
        "INSERT INTO rm_messages (message_id, workspace_id, channel_id, author_id, body, parent_id, created_at, version)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::uuid[], $7::timestamptz[], $8::bigint[])
         ON CONFLICT DO NOTHING",
    )
    .bind(&ids)
    .bind(&wss)
    .bind(&chs)
    .bind(&authors)
    .bind(&bodies)
    .bind(&parents)
    .bind(&ats)
    .bind(&versions)
    .execute(&mut *tx)
    .await?;
    // Replies: each parent counts its new replies (a parent may be in this same run).
    let replies: Vec<uuid::Uuid> = parents.into_iter().flatten().collect();
    if !replies.is_empty() {
        sqlx::query(
            "UPDATE rm_messages m SET reply_count = m.reply_count + r.n
               FROM (SELECT p, count(*) AS n FROM unnest($1::uuid[]) AS p GROUP BY p) r WHERE m.message_id = r.p",
        )
        .bind(&replies)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}
