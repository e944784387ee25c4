//! A registered person. Credentials are not events: the password hash lives in the write
//! side's `credentials` table so that an exported log never carries it.
//!
//! A user has a plan (`entitlement.changed`, which sets the reflection allowances) and may be
//! erased (`user.erased`): after that the aggregate refuses every command, and the application
//! layer has destroyed the user's data key.

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::values::Plan;
use crate::{DomainError, UserId};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct User {
    pub id: Option<UserId>,
    pub email: String,
    pub name: String,
    #[serde(default)]
    pub plan: Plan,
    #[serde(default)]
    pub erased: bool,
    /// Mirror sessions left out of the spectrum.
    #[serde(default)]
    pub excluded: Vec<Uuid>,
}

impl User {
    fn live(&self) -> Result<UserId, DomainError> {
        match self.id {
            Some(id) if !self.erased => Ok(id),
            _ => Err(DomainError::NotFound("user")),
        }
    }
}

#[derive(Debug, Clone)]
pub enum UserCommand {
    /// `email` and `name` were validated (`Email`, `DisplayName`) and sealed with the user's
    /// key by the application layer: personal data enters the log unreadable without that key.
    Register { id: UserId, email: String, name: String },
    /// An operator changes the user's plan (`prism plans set`).
    ChangePlan { plan: Plan },
    /// The user asked to be forgotten.
    Erase,
    /// The user's new display name (validated as a `DisplayName` and sealed, as at registration).
    Rename { name: String },
    /// Leave one of the user's mirror sessions out of their spectrum (the caller checked the
    /// session is theirs).
    ExcludeSession { session_id: Uuid },
    /// Start the user's spectrum over from now.
    ResetSpectrum,
    /// A weekly insight for the user's spectrum, written from the week's counts (`counts`, as
    /// JSON) and sealed with the user's key by the application layer.
    WriteInsight {
        week: chrono::NaiveDate,
        text: String,
        counts: String,
        /// `model` or `builtin`.
        source: String,
    },
    /// The user was invited to a workspace (their verified address was; the workspace's own
    /// event does not say whose account that is).
    NoteInvitation {
        workspace_id: crate::WorkspaceId,
        invitation_id: Uuid,
        invited_by: UserId,
    },
    /// The user has read these notifications (ids from the notifications read model), or all
    /// of them so far.
    ReadNotifications { ids: Vec<Uuid>, all: bool },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum UserEvent {
    #[serde(rename = "user.registered")]
    Registered {
        user_id: UserId,
        email: String,
        name: String,
    },
    #[serde(rename = "entitlement.changed")]
    EntitlementChanged { user_id: UserId, plan: Plan },
    #[serde(rename = "user.erased")]
    Erased { user_id: UserId },
    /// `name` sealed with the user's key.
    #[serde(rename = "user.renamed")]
    Renamed { user_id: UserId, name: String },
    #[serde(rename = "spectrum.session_excluded")]
    SpectrumSessionExcluded { user_id: UserId, session_id: Uuid },
    #[serde(rename = "spectrum.reset")]
    SpectrumReset { user_id: UserId },
    #[serde(rename = "spectrum.insight_written")]
    InsightWritten {
        user_id: UserId,
        week: chrono::NaiveDate,
        text: String,
        counts: String,
        source: String,
    },
    /// Notifications the user has read: `ids`, or with `all` every notification from an
    /// event before this one. The read model is the only thing that changes: read state is in
    /// the log so that a rebuild keeps it.
    /// An invitation to the user's address, told on their own stream: it notifies them, and no
    /// workspace event reveals whether an address has an account.
    #[serde(rename = "invitation.received")]
    InvitationReceived {
        user_id: UserId,
        workspace_id: crate::WorkspaceId,
        invitation_id: Uuid,
        invited_by: UserId,
    },
    #[serde(rename = "notification.read")]
    NotificationsRead {
        user_id: UserId,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ids: Vec<Uuid>,
        #[serde(default)]
        all: bool,
    },
}
crate::kernel_event!(UserEvent);

/// How many notifications one `notification.read` may name.
pub const MAX_READ_IDS: usize = 100;

impl Aggregate for User {
    const TYPE: &'static str = "user";
    type Command = UserCommand;
    type Event = UserEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: UserCommand, _: &(), sink: &EventSink<Self>) -> Result<(), DomainError> {
        match command {
            UserCommand::Register { id, email, name } => {
                if self.id.is_some() {
                    return Err(DomainError::conflict("user_exists", "this user is already registered"));
                }
                let event = UserEvent::Registered {
                    user_id: id,
                    email,
                    name,
                };
                sink.write(event, self).await;
            }
            UserCommand::ChangePlan { plan } => {
                let user_id = self.live()?;
                if self.plan != plan {
                    sink.write(UserEvent::EntitlementChanged { user_id, plan }, self).await;
                }
            }
            UserCommand::Rename { name } => {
                let user_id = self.live()?;
                sink.write(UserEvent::Renamed { user_id, name }, self).await;
            }
            UserCommand::Erase => {
                let user_id = self.live()?;
                sink.write(UserEvent::Erased { user_id }, self).await;
            }
            UserCommand::ExcludeSession { session_id } => {
                let user_id = self.live()?;
                if !self.excluded.contains(&session_id) {
                    sink.write(UserEvent::SpectrumSessionExcluded { user_id, session_id }, self)
                        .await;
                }
            }
            UserCommand::ResetSpectrum => {
                let user_id = self.live()?;
                sink.write(UserEvent::SpectrumReset { user_id }, self).await;
            }
            UserCommand::WriteInsight {
                week,
                text,
                counts,
                source,
            } => {
                let user_id = self.live()?;
                let event = UserEvent::InsightWritten {
                    user_id,
                    week,
                    text,
                    counts,
                    source,
                };
                sink.write(event, self).await;
            }
            UserCommand::NoteInvitation {
                workspace_id,
                invitation_id,
                invited_by,
            } => {
                let user_id = self.live()?;
                let e = UserEvent::InvitationReceived {
                    user_id,
                    workspace_id,
                    invitation_id,
                    invited_by,
                };
                sink.write(e, self).await;
            }
            UserCommand::ReadNotifications { ids, all } => {
                let user_id = self.live()?;
                if ids.len() > MAX_READ_IDS {
                    return Err(DomainError::invalid("ids", format!("at most {MAX_READ_IDS} at a time")));
                }
                if ids.is_empty() && !all {
                    return Err(DomainError::invalid("ids", "give ids, or all: true"));
                }
                let ids = if all { Vec::new() } else { ids };
                sink.write(UserEvent::NotificationsRead { user_id, ids, all }, self)
                    .await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: UserEvent) {
        match event {
            UserEvent::Registered { user_id, email, name } => {
                self.id = Some(user_id);
                self.email = email;
                self.name = name;
            }
            UserEvent::EntitlementChanged { plan, .. } => self.plan = plan,
            UserEvent::Renamed { name, .. } => self.name = name,
            UserEvent::SpectrumSessionExcluded { session_id, .. } => self.excluded.push(session_id),
            UserEvent::SpectrumReset { .. }
            | UserEvent::InsightWritten { .. }
            | UserEvent::NotificationsRead { .. }
            | UserEvent::InvitationReceived { .. } => {}
            UserEvent::Erased { .. } => {
                self.erased = true;
                self.email.clear();
                self.name.clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    fn register(id: UserId) -> UserCommand {
        UserCommand::Register {
            id,
            email: "ann@example.com".into(),
            name: "Ann".into(),
        }
    }

    #[test]
    fn reading_notifications_names_at_most_a_page_of_them_or_all() {
        let id = UserId::new();
        let registered = || UserEvent::Registered {
            user_id: id,
            email: "e".into(),
            name: "n".into(),
        };
        let n = Uuid::now_v7();
        TestFramework::<User>::with(())
            .given(vec![registered()])
            .when(UserCommand::ReadNotifications {
                ids: vec![n],
                all: false,
            })
            .then_expect_events(vec![UserEvent::NotificationsRead {
                user_id: id,
                ids: vec![n],
                all: false,
            }]);
        TestFramework::<User>::with(())
            .given(vec![registered()])
            .when(UserCommand::ReadNotifications {
                ids: vec![n],
                all: true,
            })
            .then_expect_events(vec![UserEvent::NotificationsRead {
                user_id: id,
                ids: vec![],
                all: true,
            }]);
        TestFramework::<User>::with(())
            .given(vec![registered()])
            .when(UserCommand::ReadNotifications {
                ids: vec![n; MAX_READ_IDS + 1],
                all: false,
            })
            .then_expect_error(DomainError::invalid("ids", format!("at most {MAX_READ_IDS} at a time")));
        TestFramework::<User>::with(())
            .given(vec![registered(), UserEvent::Erased { user_id: id }])
            .when(UserCommand::ReadNotifications {
                ids: vec![n],
                all: false,
            })
            .then_expect_error(DomainError::NotFound("user"));
    }

    #[test]
    fn given_nothing_when_registering_then_registered() {
        let id = UserId::new();
        TestFramework::<User>::with(())
            .given_no_previous_events()
            .when(register(id))
            .then_expect_events(vec![UserEvent::Registered {
                user_id: id,
                email: "ann@example.com".into(),
                name: "Ann".into(),
            }]);
    }

    #[test]
    fn given_registered_when_registering_again_then_conflict() {
        let id = UserId::new();
        TestFramework::<User>::with(())
            .given(vec![UserEvent::Registered {
                user_id: id,
                email: "a@b.io".into(),
                name: "A".into(),
            }])
            .when(register(id))
            .then_expect_error_message("this user is already registered");
    }

    fn registered(id: UserId) -> UserEvent {
        UserEvent::Registered {
            user_id: id,
            email: "a@b.io".into(),
            name: "A".into(),
        }
    }

    #[test]
    fn given_registered_when_changing_plan_then_entitlement_changed_once() {
        let id = UserId::new();
        TestFramework::<User>::with(())
            .given(vec![registered(id)])
            .when(UserCommand::ChangePlan { plan: Plan::PrismPlus })
            .then_expect_events(vec![UserEvent::EntitlementChanged {
                user_id: id,
                plan: Plan::PrismPlus,
            }]);
        TestFramework::<User>::with(())
            .given(vec![
                registered(id),
                UserEvent::EntitlementChanged {
                    user_id: id,
                    plan: Plan::Prism,
                },
            ])
            .when(UserCommand::ChangePlan { plan: Plan::Prism })
            .then_expect_events(vec![]);
    }

    #[test]
    fn given_registered_when_excluding_a_session_twice_then_one_event() {
        let id = UserId::new();
        let session_id = Uuid::now_v7();
        let excluded = UserEvent::SpectrumSessionExcluded {
            user_id: id,
            session_id,
        };
        TestFramework::<User>::with(())
            .given(vec![registered(id)])
            .when(UserCommand::ExcludeSession { session_id })
            .then_expect_events(vec![excluded.clone()]);
        TestFramework::<User>::with(())
            .given(vec![registered(id), excluded])
            .when(UserCommand::ExcludeSession { session_id })
            .then_expect_events(vec![]);
        TestFramework::<User>::with(())
            .given(vec![registered(id)])
            .when(UserCommand::ResetSpectrum)
            .then_expect_events(vec![UserEvent::SpectrumReset { user_id: id }]);
    }

    #[test]
    fn given_erased_when_anything_then_not_found() {
        let id = UserId::new();
        TestFramework::<User>::with(())
            .given(vec![registered(id)])
            .when(UserCommand::Erase)
            .then_expect_events(vec![UserEvent::Erased { user_id: id }]);
        let erased = vec![registered(id), UserEvent::Erased { user_id: id }];
        TestFramework::<User>::with(())
            .given(erased.clone())
            .when(UserCommand::Erase)
            .then_expect_error_message("user not found");
        TestFramework::<User>::with(())
            .given(erased)
            .when(UserCommand::ChangePlan { plan: Plan::Prism })
            .then_expect_error_message("user not found");
        TestFramework::<User>::with(())
            .given_no_previous_events()
            .when(UserCommand::Erase)
            .then_expect_error_message("user not found");
    }
}
