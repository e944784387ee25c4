//! A turn: one thought written down, three reframes and a micro-action back, optionally saved.
//! It belongs to one user: anyone else, whatever their role, is told it does not exist.
//!
//! The safety gate runs inside `Request`: crisis text is never stored for reframing; the turn
//! records only that the gate fired (and which phrases), and the answer carries resources.

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use crate::safety;
use crate::values::JournalText;
use crate::{DomainError, TurnId, UserId};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Turn {
    pub id: Option<TurnId>,
    pub owner: UserId,
    pub text: String,
    pub crisis: bool,
    pub reframes: Vec<String>,
    pub micro_action: Option<String>,
    pub saved: bool,
}

#[derive(Debug, Clone)]
pub enum TurnCommand {
    /// A thought, with the gateway's answer when the caller already has it (one append for
    /// both; ignored if the gate fires).
    Request {
        id: TurnId,
        owner: UserId,
        text: JournalText,
        /// The text as the event keeps it (sealed with the owner's key by the application
        /// layer; the domain only ever reads `text`, for the gate).
        stored: String,
        /// Reframes and micro-action, in the form the event keeps them.
        reframe: Option<([String; 3], String)>,
        /// A model's reading of the text, when one was asked: it may raise the gate, never
        /// lower it.
        second: Option<safety::Verdict>,
    },
    /// The gateway's answer, recorded.
    Reframe {
        actor: UserId,
        reframes: [String; 3],
        micro_action: String,
    },
    Save {
        actor: UserId,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum TurnEvent {
    #[serde(rename = "turn.requested")]
    Requested {
        turn_id: TurnId,
        owner: UserId,
        text: String,
    },
    #[serde(rename = "safety.crisis_detected")]
    CrisisDetected {
        turn_id: TurnId,
        owner: UserId,
        /// How many risk signals the gate read. Never which words: an erased user's log must
        /// not say what they wrote (events written before kept `matched`; it is ignored).
        #[serde(default)]
        signals: u32,
        /// The categories of risk (not phrases), for review and `prism safety stats`.
        #[serde(default)]
        categories: Vec<safety::Category>,
        /// Whether a model's reading raised it to a crisis (the rules alone did not).
        #[serde(default)]
        by_model: bool,
    },
    #[serde(rename = "turn.reframed")]
    Reframed {
        reframes: Vec<String>,
        micro_action: String,
    },
    #[serde(rename = "turn.saved")]
    Saved { by: UserId },
}
crate::kernel_event!(TurnEvent);

impl Turn {
    fn owned_by(&self, actor: UserId) -> Result<(), DomainError> {
        match self.id {
            Some(_) if self.owner == actor => Ok(()),
            _ => Err(DomainError::NotFound("turn")),
        }
    }
}

impl Aggregate for Turn {
    const TYPE: &'static str = "turn";
    type Command = TurnCommand;
    type Event = TurnEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: TurnCommand, _: &(), sink: &EventSink<Self>) -> Result<(), DomainError> {
        match command {
            TurnCommand::Request {
                id,
                owner,
                text,
                stored,
                reframe,
                second,
            } => {
                if self.id.is_some() {
                    return Err(DomainError::conflict("turn_exists", "this turn already exists"));
                }
                let (gate, by_model) = safety::assess_with(text.as_str(), second.as_ref());
                if gate.is_crisis() {
                    let event = TurnEvent::CrisisDetected {
                        turn_id: id,
                        owner,
                        signals: gate.signals,
                        categories: gate.categories,
                        by_model,
                    };
                    sink.write(event, self).await;
                    return Ok(());
                }
                let event = TurnEvent::Requested {
                    turn_id: id,
                    owner,
                    text: stored,
                };
                sink.write(event, self).await;
                if let Some((reframes, micro_action)) = reframe {
                    let event = TurnEvent::Reframed {
                        reframes: reframes.to_vec(),
                        micro_action,
                    };
                    sink.write(event, self).await;
                }
            }
            TurnCommand::Reframe {
                actor,
                reframes,
                micro_action,
            } => {
                self.owned_by(actor)?;
                if self.crisis {
                    return Err(DomainError::rule("crisis", "a turn in crisis is never reframed"));
                }
                if !self.reframes.is_empty() {
                    return Err(DomainError::conflict("already_reframed", "this turn has its reframes"));
                }
                let event = TurnEvent::Reframed {
                    reframes: reframes.to_vec(),
                    micro_action,
                };
                sink.write(event, self).await;
            }
            TurnCommand::Save { actor } => {
                self.owned_by(actor)?;
                if self.reframes.is_empty() {
                    return Err(DomainError::rule("not_reframed", "only a reframed turn can be saved"));
                }
                if !self.saved {
                    sink.write(TurnEvent::Saved { by: actor }, self).await;
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: TurnEvent) {
        match event {
            TurnEvent::Requested { turn_id, owner, text } => {
                self.id = Some(turn_id);
                self.owner = owner;
                self.text = text;
            }
            TurnEvent::CrisisDetected { turn_id, owner, .. } => {
                self.id = Some(turn_id);
                self.owner = owner;
                self.crisis = true;
            }
            TurnEvent::Reframed { reframes, micro_action } => {
                self.reframes = reframes;
                self.micro_action = Some(micro_action);
            }
            TurnEvent::Saved { .. } => self.saved = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    type Given = TestFramework<Turn>;

    fn text(s: &str) -> JournalText {
        JournalText::parse(s).expect("text")
    }

    fn requested(id: TurnId, owner: UserId) -> TurnEvent {
        TurnEvent::Requested {
            turn_id: id,
            owner,
            text: "I always mess up".into(),
        }
    }

    fn reframed() -> TurnEvent {
        TurnEvent::Reframed {
            reframes: vec!["a".into(), "b".into(), "c".into()],
            micro_action: "walk".into(),
        }
    }

    #[test]
    fn a_thought_is_requested_then_reframed_then_saved() {
        let (id, me) = (TurnId::new(), UserId::new());
        Given::with(())
            .given_no_previous_events()
            .when(TurnCommand::Request {
                id,
                owner: me,
                text: text("I always mess up"),
                stored: "I always mess up".into(),
                reframe: None,
                second: None,
            })
            .then_expect_events(vec![requested(id, me)]);
        Given::with(())
            .given_no_previous_events()
            .when(TurnCommand::Request {
                id,
                owner: me,
                text: text("I always mess up"),
                stored: "I always mess up".into(),
                reframe: Some((["a".into(), "b".into(), "c".into()], "walk".into())),
                second: None,
            })
            .then_expect_events(vec![requested(id, me), reframed()]);
        Given::with(())
            .given(vec![requested(id, me)])
            .when(TurnCommand::Reframe {
                actor: me,
                reframes: ["a".into(), "b".into(), "c".into()],
                micro_action: "walk".into(),
            })
            .then_expect_events(vec![reframed()]);
        Given::with(())
            .given(vec![requested(id, me), reframed()])
            .when(TurnCommand::Save { actor: me })
            .then_expect_events(vec![TurnEvent::Saved { by: me }]);
    }

    fn crisis(id: TurnId, me: UserId, text: &str) -> TurnEvent {
        let gate = safety::assess(text);
        assert!(gate.is_crisis());
        TurnEvent::CrisisDetected {
            turn_id: id,
            owner: me,
            signals: gate.signals,
            categories: gate.categories,
            by_model: false,
        }
    }

    #[test]
    fn a_models_reading_raises_the_gate_and_says_so() {
        let (id, me) = (TurnId::new(), UserId::new());
        let second = safety::Verdict {
            level: safety::Level::Crisis,
            categories: vec![safety::Category::Indirect],
        };
        let gate = safety::assess("the dishes can wait, nothing matters now");
        assert!(!gate.is_crisis());
        Given::with(())
            .given_no_previous_events()
            .when(TurnCommand::Request {
                id,
                owner: me,
                text: text("the dishes can wait, nothing matters now"),
                stored: "sealed".into(),
                reframe: None,
                second: Some(second),
            })
            .then_expect_events(vec![TurnEvent::CrisisDetected {
                turn_id: id,
                owner: me,
                signals: gate.signals,
                categories: vec![safety::Category::Indirect],
                by_model: true,
            }]);
        // A model saying "none" of a crisis changes nothing.
        Given::with(())
            .given_no_previous_events()
            .when(TurnCommand::Request {
                id,
                owner: me,
                text: text("I want to kill myself"),
                stored: "sealed".into(),
                reframe: None,
                second: Some(safety::Verdict {
                    level: safety::Level::None,
                    categories: vec![],
                }),
            })
            .then_expect_events(vec![crisis(id, me, "I want to kill myself")]);
    }

    #[test]
    fn crisis_text_is_not_kept_and_never_reframed() {
        let (id, me) = (TurnId::new(), UserId::new());
        Given::with(())
            .given_no_previous_events()
            .when(TurnCommand::Request {
                id,
                owner: me,
                text: text("I want to kill myself"),
                stored: "I want to kill myself".into(),
                reframe: Some((["a".into(), "b".into(), "c".into()], "walk".into())),
                second: None,
            })
            .then_expect_events(vec![crisis(id, me, "I want to kill myself")]);
        Given::with(())
            .given(vec![crisis(id, me, "I want to kill myself")])
            .when(TurnCommand::Reframe {
                actor: me,
                reframes: ["a".into(), "b".into(), "c".into()],
                micro_action: "walk".into(),
            })
            .then_expect_error(DomainError::rule("crisis", "a turn in crisis is never reframed"));
    }

    #[test]
    fn no_one_else_sees_or_touches_it() {
        let (id, me, admin) = (TurnId::new(), UserId::new(), UserId::new());
        Given::with(())
            .given(vec![requested(id, me), reframed()])
            .when(TurnCommand::Save { actor: admin })
            .then_expect_error(DomainError::NotFound("turn"));
    }
}
