//! A lens goal: something a person wants to work towards, with small actions they tick off.
//! Its owner's alone, like every reflection aggregate.

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{DomainError, LensGoalId, UserId};

/// Actions per goal, at most: a goal is a focus, not a backlog.
pub const MAX_ACTIONS: usize = 50;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LensGoal {
    pub id: Option<LensGoalId>,
    pub owner: UserId,
    pub title: String,
    /// (action id, text, completed)
    pub actions: Vec<(Uuid, String, bool)>,
}

#[derive(Debug, Clone)]
pub enum LensGoalCommand {
    Create {
        id: LensGoalId,
        owner: UserId,
        /// Validated and sealed by the application layer.
        title: String,
    },
    AddAction {
        actor: UserId,
        action_id: Uuid,
        /// Validated and sealed by the application layer.
        text: String,
    },
    CompleteAction {
        actor: UserId,
        action_id: Uuid,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum LensGoalEvent {
    #[serde(rename = "lens_goal.created")]
    Created {
        goal_id: LensGoalId,
        owner: UserId,
        title: String,
    },
    #[serde(rename = "lens_goal.action_added")]
    ActionAdded { action_id: Uuid, text: String },
    #[serde(rename = "lens_goal.action_completed")]
    ActionCompleted { action_id: Uuid },
}
crate::kernel_event!(LensGoalEvent);

impl LensGoal {
    fn owned_by(&self, actor: UserId) -> Result<(), DomainError> {
        match self.id {
            Some(_) if self.owner == actor => Ok(()),
            _ => Err(DomainError::NotFound("goal")),
        }
    }
}

impl Aggregate for LensGoal {
    const TYPE: &'static str = "lens_goal";
    type Command = LensGoalCommand;
    type Event = LensGoalEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: LensGoalCommand, _: &(), sink: &EventSink<Self>) -> Result<(), DomainError> {
        match command {
            LensGoalCommand::Create { id, owner, title } => {
                if self.id.is_some() {
                    return Err(DomainError::conflict("goal_exists", "this goal already exists"));
                }
                let event = LensGoalEvent::Created {
                    goal_id: id,
                    owner,
                    title,
                };
                sink.write(event, self).await;
            }
            LensGoalCommand::AddAction { actor, action_id, text } => {
                self.owned_by(actor)?;
                if self.actions.len() >= MAX_ACTIONS {
                    return Err(DomainError::rule(
                        "too_many_actions",
                        format!("a goal has at most {MAX_ACTIONS} actions"),
                    ));
                }
                if self.actions.iter().any(|a| a.0 == action_id) {
                    return Err(DomainError::conflict("action_exists", "this action already exists"));
                }
                let event = LensGoalEvent::ActionAdded { action_id, text };
                sink.write(event, self).await;
            }
            LensGoalCommand::CompleteAction { actor, action_id } => {
                self.owned_by(actor)?;
                match self.actions.iter().find(|a| a.0 == action_id) {
                    None => return Err(DomainError::NotFound("action")),
                    // Completing twice is the same as once.
                    Some((_, _, true)) => {}
                    Some(_) => sink.write(LensGoalEvent::ActionCompleted { action_id }, self).await,
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: LensGoalEvent) {
        match event {
            LensGoalEvent::Created { goal_id, owner, title } => {
                self.id = Some(goal_id);
                self.owner = owner;
                self.title = title;
            }
            LensGoalEvent::ActionAdded { action_id, text } => self.actions.push((action_id, text, false)),
            LensGoalEvent::ActionCompleted { action_id } => {
                if let Some(a) = self.actions.iter_mut().find(|a| a.0 == action_id) {
                    a.2 = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    type Given = TestFramework<LensGoal>;

    fn created(id: LensGoalId, owner: UserId) -> LensGoalEvent {
        LensGoalEvent::Created {
            goal_id: id,
            owner,
            title: "Sleep better".into(),
        }
    }

    #[test]
    fn actions_are_added_and_completed_once() {
        let (id, me, a) = (LensGoalId::new(), UserId::new(), Uuid::now_v7());
        let added = LensGoalEvent::ActionAdded {
            action_id: a,
            text: "No screens after ten".into(),
        };
        Given::with(())
            .given(vec![created(id, me)])
            .when(LensGoalCommand::AddAction {
                actor: me,
                action_id: a,
                text: "No screens after ten".into(),
            })
            .then_expect_events(vec![added.clone()]);
        Given::with(())
            .given(vec![created(id, me), added.clone()])
            .when(LensGoalCommand::CompleteAction {
                actor: me,
                action_id: a,
            })
            .then_expect_events(vec![LensGoalEvent::ActionCompleted { action_id: a }]);
        Given::with(())
            .given(vec![
                created(id, me),
                added,
                LensGoalEvent::ActionCompleted { action_id: a },
            ])
            .when(LensGoalCommand::CompleteAction {
                actor: me,
                action_id: a,
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn another_user_and_unknown_actions_are_not_found() {
        let (id, me, other) = (LensGoalId::new(), UserId::new(), UserId::new());
        Given::with(())
            .given(vec![created(id, me)])
            .when(LensGoalCommand::CompleteAction {
                actor: other,
                action_id: Uuid::now_v7(),
            })
            .then_expect_error(DomainError::NotFound("goal"));
        Given::with(())
            .given(vec![created(id, me)])
            .when(LensGoalCommand::CompleteAction {
                actor: me,
                action_id: Uuid::now_v7(),
            })
            .then_expect_error(DomainError::NotFound("action"));
    }
}
