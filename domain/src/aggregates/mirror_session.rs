//! A mirror session: a private conversation with oneself. Each message passes the safety gate;
//! the distorted fragments found in it (by the AI gateway, outside the domain) are recorded,
//! and each may be reframed once. A session closes, with an optional reflection, or is deleted.
//! Its owner's alone: anyone else, whatever their role, is told it does not exist.

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::safety;
use crate::values::JournalText;
use crate::{DomainError, MirrorSessionId, UserId};

/// Messages per session, at most.
pub const MAX_MESSAGES: usize = 200;

/// A fragment as the gateway found it: `start..end` in characters of its message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectedFragment {
    pub fragment_id: Uuid,
    pub message_id: Uuid,
    pub category: String,
    pub start: usize,
    pub end: usize,
    pub confidence: f32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MirrorSession {
    pub id: Option<MirrorSessionId>,
    pub owner: UserId,
    /// (message id, its text as the event keeps it)
    pub messages: Vec<(Uuid, String)>,
    pub fragments: Vec<DetectedFragment>,
    pub reframed: Vec<Uuid>,
    pub closed: bool,
    pub deleted: bool,
}

#[derive(Debug, Clone)]
pub enum MirrorSessionCommand {
    Start {
        id: MirrorSessionId,
        owner: UserId,
    },
    /// A message and what the gateway found in it (nothing, if the gate fires).
    Submit {
        actor: UserId,
        message_id: Uuid,
        text: JournalText,
        /// The text as the event keeps it (sealed by the application layer).
        stored: String,
        fragments: Vec<DetectedFragment>,
        /// A model's reading of the text: it may raise the gate, never lower it.
        second: Option<crate::safety::Verdict>,
    },
    Reframe {
        actor: UserId,
        fragment_id: Uuid,
        reframe: String,
    },
    Close {
        actor: UserId,
        /// In the form the event keeps it (validated and sealed by the application layer).
        reflection: Option<String>,
    },
    Delete {
        actor: UserId,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum MirrorSessionEvent {
    #[serde(rename = "mirror_session.started")]
    Started { session_id: MirrorSessionId, owner: UserId },
    #[serde(rename = "mirror_session.message_submitted")]
    MessageSubmitted { message_id: Uuid, text: String },
    #[serde(rename = "mirror_session.fragments_detected")]
    FragmentsDetected { fragments: Vec<DetectedFragment> },
    #[serde(rename = "mirror_session.fragment_reframed")]
    FragmentReframed { fragment_id: Uuid, reframe: String },
    #[serde(rename = "safety.crisis_detected")]
    /// How many crisis signals the gate found, never which (see `TurnEvent::CrisisDetected`).
    CrisisDetected {
        message_id: Uuid,
        #[serde(default)]
        signals: u32,
        /// The categories of risk, never the words.
        #[serde(default)]
        categories: Vec<crate::safety::Category>,
        /// Whether a model's reading raised it to a crisis.
        #[serde(default)]
        by_model: bool,
    },
    #[serde(rename = "mirror_session.closed")]
    Closed { reflection: Option<String> },
    #[serde(rename = "mirror_session.deleted")]
    Deleted { by: UserId },
}
crate::kernel_event!(MirrorSessionEvent);

impl MirrorSession {
    /// The stored text of one of its messages.
    pub fn message(&self, id: Uuid) -> Option<&str> {
        self.messages.iter().find(|(m, _)| *m == id).map(|(_, t)| t.as_str())
    }

    /// A fragment found in it.
    pub fn fragment(&self, id: Uuid) -> Option<&DetectedFragment> {
        self.fragments.iter().find(|f| f.fragment_id == id)
    }

    /// Whether `actor` may see it (its owner, while it is not deleted).
    pub fn visible_to(&self, actor: UserId) -> bool {
        self.owned_by(actor).is_ok()
    }

    fn owned_by(&self, actor: UserId) -> Result<(), DomainError> {
        match self.id {
            Some(_) if self.owner == actor && !self.deleted => Ok(()),
            _ => Err(DomainError::NotFound("session")),
        }
    }

    fn open(&self, actor: UserId) -> Result<(), DomainError> {
        self.owned_by(actor)?;
        if self.closed {
            return Err(DomainError::rule("session_closed", "this session is closed"));
        }
        Ok(())
    }
}

impl Aggregate for MirrorSession {
    const TYPE: &'static str = "mirror_session";
    type Command = MirrorSessionCommand;
    type Event = MirrorSessionEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(
        &mut self,
        command: MirrorSessionCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), DomainError> {
        use MirrorSessionCommand as C;
        use MirrorSessionEvent as E;
        match command {
            C::Start { id, owner } => {
                if self.id.is_some() {
                    return Err(DomainError::conflict("session_exists", "this session already exists"));
                }
                sink.write(E::Started { session_id: id, owner }, self).await;
            }
            C::Submit {
                actor,
                message_id,
                text,
                stored,
                fragments,
                second,
            } => {
                self.open(actor)?;
                if self.messages.len() >= MAX_MESSAGES {
                    return Err(DomainError::rule(
                        "session_full",
                        format!("a session holds at most {MAX_MESSAGES} messages"),
                    ));
                }
                let (gate, by_model) = safety::assess_with(text.as_str(), second.as_ref());
                if gate.is_crisis() {
                    // Nothing of the text is kept, and nothing is reframed.
                    let event = E::CrisisDetected {
                        message_id,
                        signals: gate.signals,
                        categories: gate.categories,
                        by_model,
                    };
                    sink.write(event, self).await;
                    return Ok(());
                }
                let len = text.as_str().chars().count();
                if let Some(f) = fragments
                    .iter()
                    .find(|f| f.message_id != message_id || f.start >= f.end || f.end > len)
                {
                    return Err(DomainError::invalid(
                        "fragments",
                        format!("fragment {}..{} does not fit the message", f.start, f.end),
                    ));
                }
                sink.write(
                    E::MessageSubmitted {
                        message_id,
                        text: stored,
                    },
                    self,
                )
                .await;
                if !fragments.is_empty() {
                    sink.write(E::FragmentsDetected { fragments }, self).await;
                }
            }
            C::Reframe {
                actor,
                fragment_id,
                reframe,
            } => {
                self.open(actor)?;
                if !self.fragments.iter().any(|f| f.fragment_id == fragment_id) {
                    return Err(DomainError::NotFound("fragment"));
                }
                if self.reframed.contains(&fragment_id) {
                    return Err(DomainError::conflict(
                        "already_reframed",
                        "this fragment has its reframe",
                    ));
                }
                sink.write(E::FragmentReframed { fragment_id, reframe }, self).await;
            }
            C::Close { actor, reflection } => {
                self.open(actor)?;
                sink.write(E::Closed { reflection }, self).await;
            }
            C::Delete { actor } => {
                self.owned_by(actor)?;
                sink.write(E::Deleted { by: actor }, self).await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: MirrorSessionEvent) {
        use MirrorSessionEvent as E;
        match event {
            E::Started { session_id, owner } => {
                self.id = Some(session_id);
                self.owner = owner;
            }
            E::MessageSubmitted { message_id, text } => self.messages.push((message_id, text)),
            E::FragmentsDetected { fragments } => self.fragments.extend(fragments),
            E::FragmentReframed { fragment_id, .. } => self.reframed.push(fragment_id),
            E::CrisisDetected { .. } => {}
            E::Closed { .. } => self.closed = true,
            E::Deleted { .. } => self.deleted = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;
    use MirrorSessionCommand as C;
    use MirrorSessionEvent as E;

    type Given = TestFramework<MirrorSession>;

    fn started(id: MirrorSessionId, owner: UserId) -> E {
        E::Started { session_id: id, owner }
    }

    fn fragment(message_id: Uuid, end: usize) -> DetectedFragment {
        DetectedFragment {
            fragment_id: Uuid::now_v7(),
            message_id,
            category: "all_or_nothing".into(),
            start: 0,
            end,
            confidence: 0.7,
        }
    }

    #[test]
    fn a_message_and_its_fragments_then_a_reframe() {
        let (id, me, m) = (MirrorSessionId::new(), UserId::new(), Uuid::now_v7());
        let f = fragment(m, 16);
        Given::with(())
            .given(vec![started(id, me)])
            .when(C::Submit {
                actor: me,
                message_id: m,
                text: JournalText::parse("I always mess up").expect("text"),
                stored: "I always mess up".into(),
                fragments: vec![f.clone()],
                second: None,
            })
            .then_expect_events(vec![
                E::MessageSubmitted {
                    message_id: m,
                    text: "I always mess up".into(),
                },
                E::FragmentsDetected {
                    fragments: vec![f.clone()],
                },
            ]);
        let history = vec![
            started(id, me),
            E::MessageSubmitted {
                message_id: m,
                text: "I always mess up".into(),
            },
            E::FragmentsDetected {
                fragments: vec![f.clone()],
            },
        ];
        Given::with(())
            .given(history.clone())
            .when(C::Reframe {
                actor: me,
                fragment_id: f.fragment_id,
                reframe: "Sometimes it goes well".into(),
            })
            .then_expect_events(vec![E::FragmentReframed {
                fragment_id: f.fragment_id,
                reframe: "Sometimes it goes well".into(),
            }]);
        let mut closed = history;
        closed.push(E::Closed { reflection: None });
        Given::with(())
            .given(closed)
            .when(C::Reframe {
                actor: me,
                fragment_id: f.fragment_id,
                reframe: "x".into(),
            })
            .then_expect_error(DomainError::rule("session_closed", "this session is closed"));
    }

    #[test]
    fn crisis_messages_are_not_kept_nor_reframed() {
        let (id, me, m) = (MirrorSessionId::new(), UserId::new(), Uuid::now_v7());
        Given::with(())
            .given(vec![started(id, me)])
            .when(C::Submit {
                actor: me,
                message_id: m,
                text: JournalText::parse("There is no reason to live").expect("text"),
                stored: "There is no reason to live".into(),
                fragments: vec![fragment(m, 5)],
                second: None,
            })
            .then_expect_events(vec![E::CrisisDetected {
                message_id: m,
                signals: safety::assess("There is no reason to live").signals,
                categories: safety::assess("There is no reason to live").categories,
                by_model: false,
            }]);
    }

    #[test]
    fn fragments_must_fit_and_others_see_nothing() {
        let (id, me, other, m) = (MirrorSessionId::new(), UserId::new(), UserId::new(), Uuid::now_v7());
        Given::with(())
            .given(vec![started(id, me)])
            .when(C::Submit {
                actor: me,
                message_id: m,
                text: JournalText::parse("short").expect("text"),
                stored: "short".into(),
                fragments: vec![fragment(m, 99)],
                second: None,
            })
            .then_expect_error(DomainError::invalid(
                "fragments",
                "fragment 0..99 does not fit the message",
            ));
        Given::with(())
            .given(vec![started(id, me)])
            .when(C::Close {
                actor: other,
                reflection: None,
            })
            .then_expect_error(DomainError::NotFound("session"));
        Given::with(())
            .given(vec![started(id, me), E::Deleted { by: me }])
            .when(C::Close {
                actor: me,
                reflection: None,
            })
            .then_expect_error(DomainError::NotFound("session"));
    }
}
