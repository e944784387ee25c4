//! A direct conversation between two members of a workspace. "One conversation per pair" is a
//! set rule kept by the uniqueness table; this aggregate checks who may start one and who is in
//! it. Messages are posted to a conversation as to a channel, by its members only.

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use crate::policy::{authorize, Action, Role};
use crate::{ConversationId, DomainError, UserId, WorkspaceId};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Conversation {
    pub id: Option<ConversationId>,
    pub workspace_id: WorkspaceId,
    pub members: Vec<UserId>,
}

impl Conversation {
    pub fn includes(&self, user: UserId) -> bool {
        self.id.is_some() && self.members.contains(&user)
    }
}

#[derive(Debug, Clone)]
pub enum ConversationCommand {
    Start {
        id: ConversationId,
        workspace_id: WorkspaceId,
        actor: UserId,
        actor_role: Option<Role>,
        other: UserId,
        other_role: Option<Role>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum ConversationEvent {
    #[serde(rename = "conversation.created")]
    Created {
        conversation_id: ConversationId,
        workspace_id: WorkspaceId,
        members: Vec<UserId>,
        started_by: UserId,
    },
}
crate::kernel_event!(ConversationEvent);

/// The pair's members in a canonical order, so (a, b) and (b, a) are one conversation.
pub fn pair(a: UserId, b: UserId) -> [UserId; 2] {
    if a <= b {
        [a, b]
    } else {
        [b, a]
    }
}

impl Aggregate for Conversation {
    const TYPE: &'static str = "conversation";
    type Command = ConversationCommand;
    type Event = ConversationEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(
        &mut self,
        command: ConversationCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), DomainError> {
        let ConversationCommand::Start {
            id,
            workspace_id,
            actor,
            actor_role,
            other,
            other_role,
        } = command;
        authorize(actor_role, Action::StartConversation)?;
        if other_role.is_none() {
            return Err(DomainError::NotFound("member"));
        }
        if other == actor {
            return Err(DomainError::rule(
                "self_conversation",
                "a conversation needs another member",
            ));
        }
        if self.id.is_some() {
            return Err(DomainError::conflict(
                "conversation_exists",
                "this conversation already exists",
            ));
        }
        let e = ConversationEvent::Created {
            conversation_id: id,
            workspace_id,
            members: pair(actor, other).to_vec(),
            started_by: actor,
        };
        sink.write(e, self).await;
        Ok(())
    }

    fn apply(&mut self, event: ConversationEvent) {
        let ConversationEvent::Created {
            conversation_id,
            workspace_id,
            members,
            ..
        } = event;
        self.id = Some(conversation_id);
        self.workspace_id = workspace_id;
        self.members = members;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    #[test]
    fn two_members_start_a_conversation() {
        let (id, ws, a, b) = (ConversationId::new(), WorkspaceId::new(), UserId::new(), UserId::new());
        TestFramework::<Conversation>::with(())
            .given_no_previous_events()
            .when(ConversationCommand::Start {
                id,
                workspace_id: ws,
                actor: b,
                actor_role: Some(Role::Member),
                other: a,
                other_role: Some(Role::Admin),
            })
            .then_expect_events(vec![ConversationEvent::Created {
                conversation_id: id,
                workspace_id: ws,
                members: pair(a, b).to_vec(),
                started_by: b,
            }]);
    }

    #[test]
    fn not_with_a_non_member_nor_with_oneself() {
        let (id, ws, a, b) = (ConversationId::new(), WorkspaceId::new(), UserId::new(), UserId::new());
        TestFramework::<Conversation>::with(())
            .given_no_previous_events()
            .when(ConversationCommand::Start {
                id,
                workspace_id: ws,
                actor: a,
                actor_role: Some(Role::Member),
                other: b,
                other_role: None,
            })
            .then_expect_error(DomainError::NotFound("member"));
        TestFramework::<Conversation>::with(())
            .given_no_previous_events()
            .when(ConversationCommand::Start {
                id,
                workspace_id: ws,
                actor: a,
                actor_role: Some(Role::Member),
                other: a,
                other_role: Some(Role::Member),
            })
            .then_expect_error(DomainError::rule(
                "self_conversation",
                "a conversation needs another member",
            ));
    }
}
