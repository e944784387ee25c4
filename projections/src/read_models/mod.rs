//! The relational read models (`rm_*` tables): users, workspaces and members, channels,
//! conversations, messages with reactions, docs with every version, notifications. One projection, one file
//! per aggregate's events.

pub mod api_keys;
pub mod channels;
pub mod conversations;
pub mod docs;
pub mod files;
pub mod hot;
pub mod messages;
pub mod notifications;
pub mod reflection;
pub mod sessions;
pub use reflection::affirmations;
pub mod users;
pub mod workspaces;

use futures::future::BoxFuture;
use prism_domain::event::from_parts_ref;
use prism_domain::UserId;
use prism_event_store::StoredEvent;
use serde::de::DeserializeOwned;
use sqlx::PgConnection;

use crate::{Projection, ProjectionError};

pub struct ReadModels;

pub const NAME: &str = "read_models";

/// The tables this projection owns (a rebuild replaces exactly these).
pub const TABLES: &[&str] = &[
    "rm_users",
    "rm_workspaces",
    "rm_members",
    "rm_channels",
    "rm_conversations",
    "rm_messages",
    "rm_reactions",
    "rm_docs",
    "rm_doc_versions",
    "rm_mirror_sessions",
    "rm_mirror_messages",
    "rm_mirror_fragments",
    "rm_turns",
    "rm_lens_goals",
    "lens_affirmations",
    "rm_lens_actions",
    "rm_sessions",
    "rm_invitations",
    "rm_api_keys",
    "rm_impersonations",
    "rm_notifications",
    "rm_files",
    "rm_attachments",
];

/// What of a person's own data the personal-data export reads from these tables.
#[derive(Debug, Clone, Copy)]
pub enum Personal {
    /// The workspaces they are a member of (deleted ones too), with their role.
    Memberships,
    /// Every message they wrote, deleted ones included.
    Messages,
    /// Every doc they wrote.
    Docs,
    /// Every file they uploaded (metadata: the bytes are at `GET /v1/files/{id}`).
    Files,
    /// Their notifications.
    Notifications,
}

/// `user`'s rows of `what`, one JSON object per row, streamed from a database cursor (so an
/// export's memory stays flat however much a person wrote).
pub fn personal(
    pool: &sqlx::PgPool,
    user: UserId,
    what: Personal,
) -> futures::stream::BoxStream<'_, Result<serde_json::Value, ProjectionError>> {
    use futures::StreamExt;
    let sql = match what {
        Personal::Memberships => {
            "SELECT to_jsonb(t) FROM (SELECT m.workspace_id, w.name AS workspace, m.role, m.joined_at FROM rm_members m \
             JOIN rm_workspaces w USING (workspace_id) WHERE m.user_id = $1 ORDER BY m.workspace_id) t"
        }
        Personal::Messages => {
            "SELECT to_jsonb(t) FROM (SELECT message_id, workspace_id, channel_id, body, attachments, created_at, edited_at, deleted \
             FROM rm_messages WHERE author_id = $1 ORDER BY message_id) t"
        }
        Personal::Docs => {
            "SELECT to_jsonb(t) FROM (SELECT doc_id, workspace_id, title, body, attachments, created_at, updated_at, deleted \
             FROM rm_docs WHERE author_id = $1 ORDER BY doc_id) t"
        }
        Personal::Files => {
            "SELECT to_jsonb(t) FROM (SELECT file_id, workspace_id, name, size, media_type, sha256, created_at \
             FROM rm_files WHERE uploaded_by = $1 AND NOT deleted ORDER BY file_id) t"
        }
        Personal::Notifications => {
            "SELECT to_jsonb(t) FROM (SELECT notification_id, kind, workspace_id, subject_id, channel_id, actor_id, read, created_at \
             FROM rm_notifications WHERE user_id = $1 ORDER BY notification_id) t"
        }
    };
    sqlx::query_scalar::<_, serde_json::Value>(sql)
        .bind(user.0)
        .fetch(pool)
        .map(|r| r.map_err(ProjectionError::from))
        .boxed()
}

/// The typed event of a stored envelope, or a halt if it cannot be read.
pub(crate) fn typed<E: DeserializeOwned>(e: &StoredEvent) -> Result<E, ProjectionError> {
    from_parts_ref(&e.event_type, &e.payload).map_err(|err| ProjectionError::Unreadable {
        position: e.global_position,
        event_type: e.event_type.clone(),
        reason: err.to_string(),
    })
}

impl Projection for ReadModels {
    fn name(&self) -> &'static str {
        NAME
    }

    fn apply<'a>(&'a self, tx: &'a mut PgConnection, e: &'a StoredEvent) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move {
            match e.aggregate_type.as_str() {
                "user" => users::apply(tx, e).await,
                "workspace" => workspaces::apply(tx, e).await,
                "channel" => channels::apply(tx, e).await,
                "conversation" => conversations::apply(tx, e).await,
                "message" => messages::apply(tx, e).await,
                "doc" => docs::apply(tx, e).await,
                "file" => files::apply(tx, e).await,
                "mirror_session" | "turn" | "lens_goal" | "ai_month" => reflection::apply(tx, e).await,
                prism_domain::auth_events::AUTH_STREAM => sessions::apply(tx, e).await,
                // Aggregates these read models do not show.
                _ => Ok(()),
            }
        })
    }

    /// Runs of message creations, edits and reactions (most of any chat log) go in as a few
    /// set-based statements (`messages::apply_run`); everything else one by one, in order.
    fn apply_many<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        events: &'a [StoredEvent],
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move {
            let mut i = 0;
            while i < events.len() {
                let run = events[i..]
                    .iter()
                    .take_while(|e| messages::RUN_TYPES.contains(&e.event_type.as_str()))
                    .count();
                if run > 1 {
                    messages::apply_run(tx, &events[i..i + run]).await?;
                    i += run;
                } else {
                    self.apply(tx, &events[i]).await?;
                    i += 1;
                }
            }
            // Attachments shown on the batch's messages and docs, once their rows are in.
            files::attach(tx, events).await?;
            // Who needs to know, once the batch's rows are in.
            notifications::apply(tx, events).await?;
            // What API keys wrote says when each was last used.
            api_keys::wrote(tx, events).await
        })
    }
}
