//! A registered person. Credentials are not events: the password hash lives in the write
//! side's `credentials` table so that an exported log never carries it.

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use crate::values::{DisplayName, Email};
use crate::{DomainError, UserId};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct User {
    pub id: Option<UserId>,
    pub email: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub enum UserCommand {
    Register {
        id: UserId,
        email: Email,
        name: DisplayName,
    },
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
}
crate::kernel_event!(UserEvent);

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
                    email: email.into_inner(),
                    name: name.into_inner(),
                };
                sink.write(event, self).await;
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
            email: Email::parse("ann@example.com").expect("valid"),
            name: DisplayName::parse("Ann").expect("valid"),
        }
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
}
