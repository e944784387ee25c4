//! Notifications: what needs a person's attention — a mention (`@name` in a message or doc), a
//! reply in a thread they wrote or replied in, a direct message to them, an invitation to a
//! workspace. Kept in `rm_notifications` by the read models, in the same transaction as the
//! rest, so a page of notifications never points at a message the read models lack.
//!
//! Who is notified follows from the log alone: mentions were resolved against the members when
//! the text was written (`mentions` on the event); thread participants are the parent's author
//! and those who replied before; a conversation's other member; an invitation to a confirmed
//! address with an account is told on that user's own stream (`invitation.received`). Nobody who is not a member of
//! the workspace now (removed, left) or who erased their account gets one, and leaving a
//! workspace, erasing an account or deleting the subject takes its notifications away. Read
//! state is in the log too (`notification.read`), so a rebuild keeps it.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use prism_domain::aggregates::{DocEvent, MessageEvent, UserEvent};
use prism_event_store::StoredEvent;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::ProjectionError;

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Mention,
    Reply,
    DirectMessage,
    Invitation,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Mention => "mention",
            Kind::Reply => "reply",
            Kind::DirectMessage => "direct_message",
            Kind::Invitation => "invitation",
        }
    }
}

/// One notification as its recipient sees it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Notification {
    pub id: Uuid,
    /// `mention`, `reply`, `direct_message` or `invitation`.
    pub kind: String,
    pub workspace_id: Uuid,
    /// The message, doc or invitation it is about.
    pub subject_id: Uuid,
    /// The channel or conversation of a message.
    pub channel_id: Option<Uuid>,
    /// Who caused it.
    pub actor_id: Option<Uuid>,
    pub read: bool,
    pub created_at: DateTime<Utc>,
    /// The position of the event it came from.
    pub position: i64,
    #[serde(skip)]
    #[schema(ignore)]
    pub user_id: Uuid,
}

/// A notification's id: the event's time-ordered prefix and a digest of the event and the
/// recipient — the same on every rebuild, and ordered by time like a UUIDv7.
fn id_of(event: Uuid, user: Uuid) -> Uuid {
    let digest = Sha256::new()
        .chain_update(event.as_bytes())
        .chain_update(user.as_bytes())
        .finalize();
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(&event.as_bytes()[..6]);
    b[6..].copy_from_slice(&digest[..10]);
    b[6] = (b[6] & 0x0f) | 0x80; // version 8: custom
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    Uuid::from_bytes(b)
}

#[derive(Default)]
struct New {
    ids: Vec<Uuid>,
    users: Vec<Uuid>,
    wss: Vec<Uuid>,
    kinds: Vec<&'static str>,
    subjects: Vec<Uuid>,
    channels: Vec<Option<Uuid>>,
    actors: Vec<Option<Uuid>>,
    positions: Vec<i64>,
    ats: Vec<DateTime<Utc>>,
    /// (event, recipient) already given one: a person is notified once per event, by the first
    /// reason found (direct message, then mention, then reply).
    seen: HashSet<(Uuid, Uuid)>,
}

impl New {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        e: &StoredEvent,
        user: Uuid,
        ws: Uuid,
        kind: Kind,
        subject: Uuid,
        channel: Option<Uuid>,
        actor: Uuid,
    ) {
        if user == actor || !self.seen.insert((e.event_id, user)) {
            return;
        }
        self.ids.push(id_of(e.event_id, user));
        self.users.push(user);
        self.wss.push(ws);
        self.kinds.push(kind.as_str());
        self.subjects.push(subject);
        self.channels.push(channel);
        self.actors.push(Some(actor));
        self.positions.push(e.global_position);
        self.ats.push(e.recorded_at);
    }
}

/// The notifications `events` (a batch the read models just applied) make, and what they
/// change of existing ones.
pub(super) async fn apply(tx: &mut PgConnection, events: &[StoredEvent]) -> Result<(), ProjectionError> {
    // Which of the batch's message targets are conversations (one query, and none at all for a
    // batch without messages).
    let targets: Vec<Uuid> = events
        .iter()
        .filter(|e| e.event_type == "message.created")
        .filter_map(|e| crate::visibility::uuid_field(&e.payload, "channel_id"))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let conversations: HashMap<Uuid, (Uuid, Uuid)> = if targets.is_empty() {
        HashMap::new()
    } else {
        sqlx::query_as::<_, (Uuid, Uuid, Uuid)>(
            "SELECT conversation_id, member_a, member_b FROM rm_conversations WHERE conversation_id = ANY($1)",
        )
        .bind(&targets)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|(c, a, b)| (c, (a, b)))
        .collect()
    };
    let mut new = New::default();
    for e in events {
        match e.aggregate_type.as_str() {
            "message" if e.event_type == "message.created" => {
                let MessageEvent::Created {
                    workspace_id,
                    channel_id,
                    author_id,
                    parent_id,
                    mentions,
                    ..
                } = super::typed::<MessageEvent>(e)?
                else {
                    continue;
                };
                let (ws, author, subject) = (workspace_id.0, author_id.0, e.aggregate_id);
                if let Some((a, b)) = conversations.get(&channel_id) {
                    // In a conversation only its other member can be told anything.
                    let other = if *a == author { *b } else { *a };
                    new.push(e, other, ws, Kind::DirectMessage, subject, Some(channel_id), author);
                    continue;
                }
                for m in mentions {
                    new.push(e, m.0, ws, Kind::Mention, subject, Some(channel_id), author);
                }
                if let Some(parent) = parent_id {
                    // The thread's people before this reply: its starter and earlier repliers.
                    let people: Vec<Uuid> = sqlx::query_scalar(
                        "SELECT author_id FROM rm_messages WHERE message_id = $1
                         UNION SELECT author_id FROM rm_messages WHERE parent_id = $1 AND message_id < $2",
                    )
                    .bind(parent.0)
                    .bind(subject)
                    .fetch_all(&mut *tx)
                    .await?;
                    for p in people {
                        new.push(e, p, ws, Kind::Reply, subject, Some(channel_id), author);
                    }
                }
            }
            "message" if e.event_type == "message.deleted" => {
                new.flush(tx).await?;
                gone(tx, e.aggregate_id).await?
            }
            "doc" => match super::typed::<DocEvent>(e)? {
                DocEvent::Created {
                    workspace_id,
                    author_id,
                    mentions,
                    ..
                } => {
                    for m in mentions {
                        new.push(e, m.0, workspace_id.0, Kind::Mention, e.aggregate_id, None, author_id.0);
                    }
                }
                DocEvent::Updated {
                    edited_by, mentions, ..
                } if !mentions.is_empty() => {
                    let ws = e.tenant_id.unwrap_or_default();
                    for m in mentions {
                        new.push(e, m.0, ws, Kind::Mention, e.aggregate_id, None, edited_by.0);
                    }
                }
                DocEvent::Deleted { .. } => {
                    new.flush(tx).await?;
                    gone(tx, e.aggregate_id).await?
                }
                _ => {}
            },
            "workspace" => match e.event_type.as_str() {
                "member.left" => {
                    new.flush(tx).await?;
                    if let Some(user) = crate::visibility::uuid_field(&e.payload, "user_id") {
                        sqlx::query("DELETE FROM rm_notifications WHERE user_id = $1 AND workspace_id = $2 AND kind <> 'invitation'")
                            .bind(user)
                            .bind(e.aggregate_id)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                "workspace.deleted" => {
                    new.flush(tx).await?;
                    sqlx::query("DELETE FROM rm_notifications WHERE workspace_id = $1")
                        .bind(e.aggregate_id)
                        .execute(&mut *tx)
                        .await?;
                }
                _ => {}
            },
            "user" => match e.event_type.as_str() {
                "invitation.received" => {
                    if let UserEvent::InvitationReceived {
                        user_id,
                        workspace_id,
                        invitation_id,
                        invited_by,
                    } = super::typed::<UserEvent>(e)?
                    {
                        let (ws, by) = (workspace_id.0, invited_by.0);
                        new.push(e, user_id.0, ws, Kind::Invitation, invitation_id, None, by);
                    }
                }
                "notification.read" => {
                    new.flush(tx).await?;
                    if let UserEvent::NotificationsRead { user_id, ids, all } = super::typed::<UserEvent>(e)? {
                        // "All" is everything that existed when it was asked: the events before.
                        sqlx::query(
                            "UPDATE rm_notifications SET read = true
                              WHERE user_id = $1 AND NOT read AND (notification_id = ANY($2) OR ($3 AND position < $4))",
                        )
                        .bind(user_id.0)
                        .bind(&ids)
                        .bind(all)
                        .bind(e.global_position)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
                "user.erased" => {
                    new.flush(tx).await?;
                    sqlx::query("DELETE FROM rm_notifications WHERE user_id = $1")
                        .bind(e.aggregate_id)
                        .execute(&mut *tx)
                        .await?;
                }
                _ => {}
            },
            _ => {}
        }
    }
    new.flush(tx).await
}

impl New {
    /// Writes what was gathered so far (before anything that changes existing notifications,
    /// so a batch applies exactly as its events would one by one).
    async fn flush(&mut self, tx: &mut PgConnection) -> Result<(), ProjectionError> {
        if self.ids.is_empty() {
            return Ok(());
        }
        // Only members of the workspace now (an invitation excepted) who have not erased their account.
        sqlx::query(
            "INSERT INTO rm_notifications (notification_id, user_id, workspace_id, kind, subject_id, channel_id, actor_id, position, created_at)
             SELECT n.* FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::uuid[], $6::uuid[], $7::uuid[], $8::bigint[], $9::timestamptz[])
                    AS n(id, user_id, workspace_id, kind, subject_id, channel_id, actor_id, position, created_at)
              WHERE NOT EXISTS (SELECT 1 FROM rm_users u WHERE u.user_id = n.user_id AND u.erased_at IS NOT NULL)
                AND (n.kind = 'invitation' OR EXISTS (SELECT 1 FROM rm_members m WHERE m.workspace_id = n.workspace_id AND m.user_id = n.user_id))
             ON CONFLICT DO NOTHING",
        )
        .bind(&self.ids)
        .bind(&self.users)
        .bind(&self.wss)
        .bind(&self.kinds)
        .bind(&self.subjects)
        .bind(&self.channels)
        .bind(&self.actors)
        .bind(&self.positions)
        .bind(&self.ats)
        .execute(&mut *tx)
        .await?;

        self.ids.clear();
        self.users.clear();
        self.wss.clear();
        self.kinds.clear();
        self.subjects.clear();
        self.channels.clear();
        self.actors.clear();
        self.positions.clear();
        self.ats.clear();
        Ok(())
    }
}

/// The subject was deleted: nothing is left to look at.
async fn gone(tx: &mut PgConnection, subject: Uuid) -> Result<(), ProjectionError> {
    sqlx::query("DELETE FROM rm_notifications WHERE subject_id = $1")
        .bind(subject)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

const NOTE: &str = "SELECT notification_id AS id, kind, workspace_id, subject_id, channel_id, actor_id, read, created_at, position, user_id
                      FROM rm_notifications";

/// `user`'s notifications, newest first, before `before`; only unread ones if asked.
pub async fn list(
    pool: &PgPool,
    user: Uuid,
    unread: bool,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Notification>, ProjectionError> {
    Ok(sqlx::query_as(&format!(
        "{NOTE} WHERE user_id = $1 AND (NOT $2 OR NOT read) AND ($3::uuid IS NULL OR notification_id < $3)
          ORDER BY notification_id DESC LIMIT $4"
    ))
    .bind(user)
    .bind(unread)
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// How many unread notifications `user` has, per workspace.
pub async fn unread_counts(pool: &PgPool, user: Uuid) -> Result<Vec<(Uuid, i64)>, ProjectionError> {
    Ok(sqlx::query_as(
        "SELECT workspace_id, count(*) FROM rm_notifications WHERE user_id = $1 AND NOT read GROUP BY workspace_id ORDER BY workspace_id",
    )
    .bind(user)
    .fetch_all(pool)
    .await?)
}

/// Every notification made from events in `(after, upto]`, for the live feed (a handful per
/// batch; the position index makes it one range scan).
pub async fn made_between(pool: &PgPool, after: i64, upto: i64) -> Result<Vec<Notification>, ProjectionError> {
    Ok(sqlx::query_as(&format!(
        "{NOTE} WHERE position > $1 AND position <= $2 ORDER BY position, notification_id LIMIT 10000"
    ))
    .bind(after)
    .bind(upto)
    .fetch_all(pool)
    .await?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_stable_per_event_and_recipient_and_ordered_by_the_event() {
        let (e1, u, v) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        std::thread::sleep(std::time::Duration::from_millis(2));
        let e2 = uuid::Uuid::now_v7();
        assert_eq!(super::id_of(e1, u), super::id_of(e1, u));
        assert_ne!(super::id_of(e1, u), super::id_of(e1, v));
        assert!(super::id_of(e1, u) < super::id_of(e2, u) && super::id_of(e1, v) < super::id_of(e2, u));
    }
}
