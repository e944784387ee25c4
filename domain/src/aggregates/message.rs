//! A message in a channel or a conversation, with per-user reaction toggles and an optional
//! thread parent. Whether the target is open and the caller may post there is decided by the
//! application layer from the channel/conversation and workspace aggregates, and passed in.

use std::collections::{BTreeMap, BTreeSet};

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use crate::policy::{authorize, Action, Role};
use crate::values::{Emoji, MessageBody};
use crate::{DomainError, FileId, MessageId, UserId, WorkspaceId};
use uuid::Uuid;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Message {
    pub id: Option<MessageId>,
    pub workspace_id: WorkspaceId,
    /// A channel id or a conversation id.
    pub channel_id: Uuid,
    pub author_id: UserId,
    pub body: String,
    pub parent_id: Option<MessageId>,
    pub deleted: bool,
    /// emoji → who reacted with it.
    pub reactions: BTreeMap<String, BTreeSet<UserId>>,
}

impl Message {
    pub fn is_live(&self) -> bool {
        self.id.is_some() && !self.deleted
    }
    fn live(&self) -> Result<(), DomainError> {
        if self.is_live() {
            Ok(())
        } else {
            Err(DomainError::NotFound("message"))
        }
    }
}

#[derive(Debug, Clone)]
pub enum MessageCommand {
    Post {
        id: MessageId,
        workspace_id: WorkspaceId,
        channel_id: Uuid,
        author: UserId,
        /// The author's role in the workspace; for a conversation, `None` unless a participant.
        role: Option<Role>,
        body: MessageBody,
        parent_id: Option<MessageId>,
        /// Who the body mentions, among the workspace's members now (resolved by the caller,
        /// which knows the handles).
        mentions: Vec<UserId>,
        /// Files the author uploaded to this workspace (checked by the caller).
        attachments: Vec<FileId>,
    },
    Edit {
        actor: UserId,
        role: Option<Role>,
        body: MessageBody,
    },
    Delete {
        actor: UserId,
        role: Option<Role>,
    },
    ToggleReaction {
        actor: UserId,
        role: Option<Role>,
        emoji: Emoji,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum MessageEvent {
    /// Version 2: `body` (v1 called it `text`) and `parent_id`.
    #[serde(rename = "message.created")]
    Created {
        message_id: MessageId,
        workspace_id: WorkspaceId,
        channel_id: Uuid,
        author_id: UserId,
        body: String,
        parent_id: Option<MessageId>,
        /// The members the body mentions, resolved against the workspace's members when it
        /// was posted (so a replay notifies the same people, whoever joins or is renamed later).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        mentions: Vec<UserId>,
        /// Files attached (`file.uploaded` says what each is).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<FileId>,
    },
    #[serde(rename = "message.updated")]
    Updated { body: String, edited_by: UserId },
    #[serde(rename = "message.deleted")]
    Deleted { deleted_by: UserId },
    #[serde(rename = "reaction.toggled")]
    ReactionToggled {
        user_id: UserId,
        emoji: String,
        added: bool,
    },
}
crate::kernel_event!(MessageEvent, Created => 2);

impl Aggregate for Message {
    const TYPE: &'static str = "message";
    type Command = MessageCommand;
    type Event = MessageEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: MessageCommand, _: &(), sink: &EventSink<Self>) -> Result<(), DomainError> {
        match command {
            MessageCommand::Post {
                id,
                workspace_id,
                channel_id,
                author,
                role,
                body,
                parent_id,
                mentions,
                attachments,
            } => {
                authorize(role, Action::PostMessage)?;
                if self.id.is_some() {
                    return Err(DomainError::conflict("message_exists", "this message already exists"));
                }
                let e = MessageEvent::Created {
                    message_id: id,
                    workspace_id,
                    channel_id,
                    author_id: author,
                    body: body.into_inner(),
                    parent_id,
                    mentions,
                    attachments,
                };
                sink.write(e, self).await;
            }
            MessageCommand::Edit { actor, role, body } => {
                self.live()?;
                authorize(role, Action::PostMessage)?;
                if actor != self.author_id {
                    return Err(DomainError::Forbidden("only its author may edit a message"));
                }
                if self.body != body.as_str() {
                    sink.write(
                        MessageEvent::Updated {
                            body: body.into_inner(),
                            edited_by: actor,
                        },
                        self,
                    )
                    .await;
                }
            }
            MessageCommand::Delete { actor, role } => {
                self.live()?;
                if actor == self.author_id {
                    authorize(role, Action::PostMessage)?;
                } else {
                    authorize(role, Action::DeleteAnyMessage)?;
                }
                sink.write(MessageEvent::Deleted { deleted_by: actor }, self).await;
            }
            MessageCommand::ToggleReaction { actor, role, emoji } => {
                self.live()?;
                authorize(role, Action::React)?;
                let added = !self
                    .reactions
                    .get(emoji.as_str())
                    .is_some_and(|who| who.contains(&actor));
                sink.write(
                    MessageEvent::ReactionToggled {
                        user_id: actor,
                        emoji: emoji.into_inner(),
                        added,
                    },
                    self,
                )
                .await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: MessageEvent) {
        match event {
            MessageEvent::Created {
                message_id,
                workspace_id,
                channel_id,
                author_id,
                body,
                parent_id,
                ..
            } => {
                self.id = Some(message_id);
                self.workspace_id = workspace_id;
                self.channel_id = channel_id;
                self.author_id = author_id;
                self.body = body;
                self.parent_id = parent_id;
            }
            MessageEvent::Updated { body, .. } => self.body = body,
            MessageEvent::Deleted { .. } => {
                self.deleted = true;
                self.body.clear();
            }
            MessageEvent::ReactionToggled { user_id, emoji, added } => {
                let who = self.reactions.entry(emoji.clone()).or_default();
                if added {
                    who.insert(user_id);
                } else {
                    who.remove(&user_id);
                    if who.is_empty() {
                        self.reactions.remove(&emoji);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    struct W {
        id: MessageId,
        ws: WorkspaceId,
        ch: Uuid,
        author: UserId,
        other: UserId,
    }
    fn w() -> W {
        W {
            id: MessageId::new(),
            ws: WorkspaceId::new(),
            ch: Uuid::now_v7(),
            author: UserId::new(),
            other: UserId::new(),
        }
    }
    fn created(w: &W) -> MessageEvent {
        MessageEvent::Created {
            message_id: w.id,
            workspace_id: w.ws,
            channel_id: w.ch,
            author_id: w.author,
            body: "hi".into(),
            parent_id: None,
            mentions: vec![],
            attachments: vec![],
        }
    }
    fn body(s: &str) -> MessageBody {
        MessageBody::parse(s).expect("valid")
    }
    fn emoji(s: &str) -> Emoji {
        Emoji::parse(s).expect("valid")
    }

    #[test]
    fn a_member_posts() {
        let w = w();
        TestFramework::<Message>::with(())
            .given_no_previous_events()
            .when(MessageCommand::Post {
                id: w.id,
                workspace_id: w.ws,
                channel_id: w.ch,
                author: w.author,
                role: Some(Role::Member),
                body: body("hi"),
                parent_id: None,
                mentions: vec![],
                attachments: vec![],
            })
            .then_expect_events(vec![created(&w)]);
    }

    #[test]
    fn a_removed_member_cannot_post() {
        let w = w();
        TestFramework::<Message>::with(())
            .given_no_previous_events()
            .when(MessageCommand::Post {
                id: w.id,
                workspace_id: w.ws,
                channel_id: w.ch,
                author: w.author,
                role: None,
                body: body("hi"),
                parent_id: None,
                mentions: vec![],
                attachments: vec![],
            })
            .then_expect_error(DomainError::NotFound("workspace"));
    }

    #[test]
    fn only_the_author_edits() {
        let w = w();
        TestFramework::<Message>::with(())
            .given(vec![created(&w)])
            .when(MessageCommand::Edit {
                actor: w.other,
                role: Some(Role::Owner),
                body: body("x"),
            })
            .then_expect_error(DomainError::Forbidden("only its author may edit a message"));
        TestFramework::<Message>::with(())
            .given(vec![created(&w)])
            .when(MessageCommand::Edit {
                actor: w.author,
                role: Some(Role::Member),
                body: body("x"),
            })
            .then_expect_events(vec![MessageEvent::Updated {
                body: "x".into(),
                edited_by: w.author,
            }]);
    }

    #[test]
    fn a_deleted_message_cannot_be_edited() {
        let w = w();
        TestFramework::<Message>::with(())
            .given(vec![created(&w), MessageEvent::Deleted { deleted_by: w.author }])
            .when(MessageCommand::Edit {
                actor: w.author,
                role: Some(Role::Member),
                body: body("x"),
            })
            .then_expect_error(DomainError::NotFound("message"));
    }

    #[test]
    fn an_admin_deletes_any_message_a_member_only_their_own() {
        let w = w();
        TestFramework::<Message>::with(())
            .given(vec![created(&w)])
            .when(MessageCommand::Delete {
                actor: w.other,
                role: Some(Role::Member),
            })
            .then_expect_error(DomainError::Forbidden("only an admin or owner may do this"));
        TestFramework::<Message>::with(())
            .given(vec![created(&w)])
            .when(MessageCommand::Delete {
                actor: w.other,
                role: Some(Role::Admin),
            })
            .then_expect_events(vec![MessageEvent::Deleted { deleted_by: w.other }]);
        TestFramework::<Message>::with(())
            .given(vec![created(&w)])
            .when(MessageCommand::Delete {
                actor: w.author,
                role: Some(Role::Member),
            })
            .then_expect_events(vec![MessageEvent::Deleted { deleted_by: w.author }]);
    }

    #[test]
    fn reactions_toggle_per_user() {
        let w = w();
        let given = vec![
            created(&w),
            MessageEvent::ReactionToggled {
                user_id: w.other,
                emoji: "👍".into(),
                added: true,
            },
        ];
        TestFramework::<Message>::with(())
            .given(given.clone())
            .when(MessageCommand::ToggleReaction {
                actor: w.other,
                role: Some(Role::Member),
                emoji: emoji("👍"),
            })
            .then_expect_events(vec![MessageEvent::ReactionToggled {
                user_id: w.other,
                emoji: "👍".into(),
                added: false,
            }]);
        TestFramework::<Message>::with(())
            .given(given)
            .when(MessageCommand::ToggleReaction {
                actor: w.author,
                role: Some(Role::Member),
                emoji: emoji("👍"),
            })
            .then_expect_events(vec![MessageEvent::ReactionToggled {
                user_id: w.author,
                emoji: "👍".into(),
                added: true,
            }]);
    }
}
