//! Messages (`rm_messages`, reactions counted on the row): written from message events, read by
//! the channel pages and `/v1/messages/{id}`.

use prism_domain::{MessageId, UserId};
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use prism_domain::aggregates::MessageEvent;
use prism_event_store::StoredEvent;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::ProjectionError;

/// A message as readers see it.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Message {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub channel_id: Uuid,
    pub author_id: Uuid,
    /// The author's display name as stored (sealed: readers open it with the author's key;
    /// "erased user" once they erased their account).
    pub author_name: Option<String>,
    pub body: String,
    pub parent_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub edited: bool,
    pub deleted: bool,
    pub reply_count: i32,
    pub version: i64,
    /// emoji → how many reacted with it.
    #[sqlx(json)]
    pub reactions: BTreeMap<String, i64>,
    /// `{id, name, size, media_type}` of each file attached.
    #[sqlx(json)]
    pub attachments: Vec<super::files::Attachment>,
}

/// A message with its reaction counts (kept on the row by the projection).
const MESSAGE: &str = "SELECT message_id AS id, workspace_id, channel_id, author_id,
        (SELECT u.name FROM rm_users u WHERE u.user_id = rm_messages.author_id) AS author_name,
        body, parent_id, created_at, edited_at,
        edited_at IS NOT NULL AS edited, deleted, reply_count, version, reactions, attachments FROM rm_messages";

/// May `user` read `target` (a channel or a conversation)? One query: the channel (or the
/// conversation the caller is part of) in a live workspace the caller is a member of.
pub async fn can_read(pool: &PgPool, target: Uuid, user: UserId) -> Result<bool, ProjectionError> {
    let ok: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM rm_members m JOIN rm_workspaces w ON w.workspace_id = m.workspace_id AND NOT w.deleted
          WHERE m.user_id = $2 AND m.workspace_id = coalesce(
                (SELECT c.workspace_id FROM rm_channels c WHERE c.channel_id = $1 AND NOT c.deleted),
                (SELECT v.workspace_id FROM rm_conversations v WHERE v.conversation_id = $1 AND (v.member_a = $2 OR v.member_b = $2)))",
    )
    .bind(target)
    .bind(user.0)
    .fetch_optional(pool)
    .await?;
    Ok(ok.is_some())
}

/// Up to `limit` messages of `target`, newest first, older than `before` if given.
pub async fn page(
    pool: &PgPool,
    target: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Message>, ProjectionError> {
    Ok(sqlx::query_as(&format!(
        "{MESSAGE} WHERE channel_id = $1 AND ($2::uuid IS NULL OR message_id < $2) ORDER BY message_id DESC LIMIT $3"
    ))
    .bind(target)
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// One message.
pub async fn get(pool: &PgPool, id: MessageId) -> Result<Option<Message>, ProjectionError> {
    Ok(sqlx::query_as(&format!("{MESSAGE} WHERE message_id = $1"))
        .bind(id.0)
        .fetch_optional(pool)
        .await?)
}

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

/// The event types [`apply_run`] takes.
pub(super) const RUN_TYPES: &[&str] = &["message.created", "message.updated", "reaction.toggled"];

/// A run of `message.created`, `message.updated` and `reaction.toggled` events (most of any chat
/// log), as a handful of set-based statements with the same result as one by one:
/// - new messages first (an edit or a reaction always comes after its message's creation);
/// - then, per message, its last edit (an edit replaces the body; the last one wins);
/// - then, per (message, emoji, user), its last toggle (the final presence is the last
///   toggle's, whatever came before), and each touched message's counts recomputed;
/// - and each touched message's version is its last event's sequence.
///
/// Deletions are not in runs: they clear what edits and reactions set, so they keep their
/// place in the order.
pub(super) async fn apply_run(tx: &mut PgConnection, events: &[StoredEvent]) -> Result<(), ProjectionError> {
    use std::collections::HashMap;
    let mut creates = Vec::new();
    let mut edits: HashMap<uuid::Uuid, (String, chrono::DateTime<chrono::Utc>)> = HashMap::new();
    let mut toggles: HashMap<(uuid::Uuid, String, uuid::Uuid), bool> = HashMap::new();
    let mut versions: HashMap<uuid::Uuid, i64> = HashMap::new();
    for e in events {
        match super::typed::<MessageEvent>(e)? {
            // Decoded once: the insert takes the event as read here.
            created @ MessageEvent::Created { .. } => {
                creates.push((e, created));
                continue;
            }
            MessageEvent::Updated { body, .. } => {
                edits.insert(e.aggregate_id, (body, e.recorded_at));
            }
            MessageEvent::ReactionToggled { user_id, emoji, added } => {
                toggles.insert((e.aggregate_id, emoji, user_id.0), added);
            }
            MessageEvent::Deleted { .. } => {
                return Err(ProjectionError::Unreadable {
                    position: e.global_position,
                    event_type: e.event_type.clone(),
                    reason: "a deletion cannot be part of a set-based run".into(),
                })
            }
        }
        let v = versions.entry(e.aggregate_id).or_insert(e.sequence);
        *v = (*v).max(e.sequence);
    }
    if !creates.is_empty() {
        insert_many(tx, creates).await?;
    }
    if !edits.is_empty() {
        let (mut ids, mut bodies, mut ats) = (vec![], vec![], vec![]);
        for (id, (body, at)) in edits {
            ids.push(id);
            bodies.push(body);
            ats.push(at);
        }
        sqlx::query(
            "UPDATE rm_messages m SET body = u.body, edited_at = u.at
               FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS u(id, body, at) WHERE m.message_id = u.id",
        )
        .bind(&ids)
        .bind(&bodies)
        .bind(&ats)
        .execute(&mut *tx)
        .await?;
    }
    if !toggles.is_empty() {
        let (mut add, mut remove): (Vec<_>, Vec<_>) = (vec![], vec![]);
        let mut touched: Vec<uuid::Uuid> = Vec::new();
        for ((m, emoji, user), added) in toggles {
            touched.push(m);
            if added {
                add.push((m, emoji, user));
            } else {
                remove.push((m, emoji, user));
            }
        }
        for (rows, sql) in [
            (
                add,
                "INSERT INTO rm_reactions (message_id, emoji, user_id)
                 SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[]) ON CONFLICT DO NOTHING",
            ),
            (
                remove,
                "DELETE FROM rm_reactions r USING unnest($1::uuid[], $2::text[], $3::uuid[]) AS d(m, e, u)
                  WHERE r.message_id = d.m AND r.emoji = d.e AND r.user_id = d.u",
            ),
        ] {
            if rows.is_empty() {
                continue;
            }
            let (mut ms, mut es, mut us) = (vec![], vec![], vec![]);
            for (m, e, u) in rows {
                ms.push(m);
                es.push(e);
                us.push(u);
            }
            sqlx::query(sql).bind(&ms).bind(&es).bind(&us).execute(&mut *tx).await?;
        }
        touched.sort();
        touched.dedup();
        sqlx::query(
            "UPDATE rm_messages m SET reactions = coalesce((SELECT jsonb_object_agg(emoji, n) FROM
                (SELECT emoji, count(*) AS n FROM rm_reactions r WHERE r.message_id = m.message_id GROUP BY emoji) x), '{}')
              WHERE m.message_id = ANY($1)",
        )
        .bind(&touched)
        .execute(&mut *tx)
        .await?;
    }
    if !versions.is_empty() {
        let (ids, seqs): (Vec<uuid::Uuid>, Vec<i64>) = versions.into_iter().unzip();
        sqlx::query(
            "UPDATE rm_messages m SET version = v.seq FROM unnest($1::uuid[], $2::bigint[]) AS v(id, seq)
              WHERE m.message_id = v.id",
        )
        .bind(&ids)
        .bind(&seqs)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Many `message.created` events at once: the same rows as applying them one by one.
pub(super) async fn insert_many(
    tx: &mut PgConnection,
    events: Vec<(&StoredEvent, MessageEvent)>,
) -> Result<(), ProjectionError> {
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
    for (e, event) in events {
        let MessageEvent::Created {
            workspace_id,
            channel_id,
            author_id,
            body,
            parent_id,
            ..
        } = event
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
