//! A channel of a workspace. The caller's role comes with each command, read by the
//! application layer from the `Workspace` aggregate; name uniqueness within a workspace is a
//! set rule, kept by the event store's uniqueness table in the same transaction.

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use crate::policy::{authorize, Action, Role};
use crate::values::ChannelName;
use crate::{ChannelId, DomainError, UserId, WorkspaceId};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Channel {
    pub id: Option<ChannelId>,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub deleted: bool,
}

impl Channel {
    /// Exists and is not deleted.
    pub fn is_open(&self) -> bool {
        self.id.is_some() && !self.deleted
    }
    fn open(&self) -> Result<(), DomainError> {
        if self.is_open() {
            Ok(())
        } else {
            Err(DomainError::NotFound("channel"))
        }
    }
}

#[derive(Debug, Clone)]
pub enum ChannelCommand {
    Create {
        id: ChannelId,
        workspace_id: WorkspaceId,
        name: ChannelName,
        actor: UserId,
        role: Option<Role>,
    },
    Rename {
        actor: UserId,
        role: Option<Role>,
        name: ChannelName,
    },
    Delete {
        actor: UserId,
        role: Option<Role>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum ChannelEvent {
    #[serde(rename = "channel.created")]
    Created {
        channel_id: ChannelId,
        workspace_id: WorkspaceId,
        name: String,
        created_by: UserId,
    },
    #[serde(rename = "channel.updated")]
    Updated { name: String, previous_name: String },
    #[serde(rename = "channel.deleted")]
    Deleted { deleted_by: UserId },
}
crate::kernel_event!(ChannelEvent);

impl Aggregate for Channel {
    const TYPE: &'static str = "channel";
    type Command = ChannelCommand;
    type Event = ChannelEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: ChannelCommand, _: &(), sink: &EventSink<Self>) -> Result<(), DomainError> {
        match command {
            ChannelCommand::Create {
                id,
                workspace_id,
                name,
                actor,
                role,
            } => {
                authorize(role, Action::ManageChannels)?;
                if self.id.is_some() {
                    return Err(DomainError::conflict("channel_exists", "this channel already exists"));
                }
                let e = ChannelEvent::Created {
                    channel_id: id,
                    workspace_id,
                    name: name.into_inner(),
                    created_by: actor,
                };
                sink.write(e, self).await;
            }
            ChannelCommand::Rename { role, name, .. } => {
                self.open()?;
                authorize(role, Action::ManageChannels)?;
                if self.name != name.as_str() {
                    let previous_name = self.name.clone();
                    sink.write(
                        ChannelEvent::Updated {
                            name: name.into_inner(),
                            previous_name,
                        },
                        self,
                    )
                    .await;
                }
            }
            ChannelCommand::Delete { actor, role } => {
                self.open()?;
                authorize(role, Action::ManageChannels)?;
                sink.write(ChannelEvent::Deleted { deleted_by: actor }, self).await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: ChannelEvent) {
        match event {
            ChannelEvent::Created {
                channel_id,
                workspace_id,
                name,
                ..
            } => {
                self.id = Some(channel_id);
                self.workspace_id = workspace_id;
                self.name = name;
            }
            ChannelEvent::Updated { name, .. } => self.name = name,
            ChannelEvent::Deleted { .. } => self.deleted = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    fn created(id: ChannelId, ws: WorkspaceId, by: UserId) -> ChannelEvent {
        ChannelEvent::Created {
            channel_id: id,
            workspace_id: ws,
            name: "general".into(),
            created_by: by,
        }
    }
    fn name(s: &str) -> ChannelName {
        ChannelName::parse(s).expect("valid")
    }

    #[test]
    fn an_admin_creates_a_channel_a_member_cannot() {
        let (id, ws, u) = (ChannelId::new(), WorkspaceId::new(), UserId::new());
        TestFramework::<Channel>::with(())
            .given_no_previous_events()
            .when(ChannelCommand::Create {
                id,
                workspace_id: ws,
                name: name("general"),
                actor: u,
                role: Some(Role::Admin),
            })
            .then_expect_events(vec![created(id, ws, u)]);
        TestFramework::<Channel>::with(())
            .given_no_previous_events()
            .when(ChannelCommand::Create {
                id,
                workspace_id: ws,
                name: name("general"),
                actor: u,
                role: Some(Role::Member),
            })
            .then_expect_error(DomainError::Forbidden("only an admin or owner may do this"));
        TestFramework::<Channel>::with(())
            .given_no_previous_events()
            .when(ChannelCommand::Create {
                id,
                workspace_id: ws,
                name: name("general"),
                actor: u,
                role: None,
            })
            .then_expect_error(DomainError::NotFound("workspace"));
    }

    #[test]
    fn renaming_records_the_previous_name() {
        let (id, ws, u) = (ChannelId::new(), WorkspaceId::new(), UserId::new());
        TestFramework::<Channel>::with(())
            .given(vec![created(id, ws, u)])
            .when(ChannelCommand::Rename {
                actor: u,
                role: Some(Role::Owner),
                name: name("random"),
            })
            .then_expect_events(vec![ChannelEvent::Updated {
                name: "random".into(),
                previous_name: "general".into(),
            }]);
    }

    #[test]
    fn a_deleted_channel_cannot_be_renamed_or_deleted_again() {
        let (id, ws, u) = (ChannelId::new(), WorkspaceId::new(), UserId::new());
        let h = vec![created(id, ws, u), ChannelEvent::Deleted { deleted_by: u }];
        TestFramework::<Channel>::with(())
            .given(h.clone())
            .when(ChannelCommand::Rename {
                actor: u,
                role: Some(Role::Owner),
                name: name("x"),
            })
            .then_expect_error(DomainError::NotFound("channel"));
        TestFramework::<Channel>::with(())
            .given(h)
            .when(ChannelCommand::Delete {
                actor: u,
                role: Some(Role::Owner),
            })
            .then_expect_error(DomainError::NotFound("channel"));
    }
}
