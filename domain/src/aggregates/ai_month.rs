//! A month of the AI gateway's spend, for the platform: the thresholds of the monthly token cap
//! it crossed (each once a month) and the Lens affirmations it wrote for each day. One stream a
//! month, with an id derived from the month, so every node appends to the same one and the
//! expected version settles races.

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::DomainError;

/// The thresholds of the monthly cap that are announced, in percent.
pub const THRESHOLDS: [u8; 3] = [50, 80, 95];

/// Affirmations a day holds, at most, and their length.
pub const MAX_AFFIRMATIONS: usize = 12;
pub const MAX_AFFIRMATION_CHARS: usize = 280;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AiMonth {
    pub month: Option<String>,
    pub crossed: Vec<u8>,
    /// Days (YYYY-MM-DD) whose affirmations are written.
    pub days: Vec<String>,
}

/// The stream id of a month (`YYYY-MM`): the same on every node.
pub fn month_id(month: &str) -> Uuid {
    let digits: u128 = month
        .chars()
        .filter(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or(0);
    // A fixed prefix ("ai month") and the month's digits: never a v7 id of another stream.
    Uuid::from_u128((0xa1_u128 << 120) | (0x4d_u128 << 112) | digits)
}

#[derive(Debug, Clone)]
pub enum AiMonthCommand {
    /// The month's spend reached `percent` of the cap (no event when already announced).
    CrossThreshold {
        month: String,
        percent: u8,
        tokens_used: u64,
        cap: u64,
    },
    /// The affirmations Lens shows on `day` (no event when the day has them already).
    WriteAffirmations {
        month: String,
        day: String,
        affirmations: Vec<String>,
        /// `model` or `templates`.
        source: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum AiMonthEvent {
    #[serde(rename = "ai.budget_threshold_crossed")]
    ThresholdCrossed {
        month: String,
        percent: u8,
        tokens_used: u64,
        cap: u64,
    },
    #[serde(rename = "lens.affirmations_written")]
    AffirmationsWritten {
        day: String,
        affirmations: Vec<String>,
        source: String,
    },
}
crate::kernel_event!(AiMonthEvent);

impl Aggregate for AiMonth {
    const TYPE: &'static str = "ai_month";
    type Command = AiMonthCommand;
    type Event = AiMonthEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: AiMonthCommand, _: &(), sink: &EventSink<Self>) -> Result<(), DomainError> {
        match command {
            AiMonthCommand::CrossThreshold {
                month,
                percent,
                tokens_used,
                cap,
            } => {
                if !THRESHOLDS.contains(&percent) {
                    return Err(DomainError::invalid("percent", "thresholds are 50, 80 and 95"));
                }
                if self.month.as_ref().is_some_and(|m| *m != month) {
                    return Err(DomainError::invalid("month", "another month's stream"));
                }
                if !self.crossed.contains(&percent) {
                    let event = AiMonthEvent::ThresholdCrossed {
                        month,
                        percent,
                        tokens_used,
                        cap,
                    };
                    sink.write(event, self).await;
                }
            }
            AiMonthCommand::WriteAffirmations {
                month,
                day,
                affirmations,
                source,
            } => {
                if !day.starts_with(&month) {
                    return Err(DomainError::invalid("day", "a day of another month"));
                }
                let ok = !affirmations.is_empty()
                    && affirmations.len() <= MAX_AFFIRMATIONS
                    && affirmations
                        .iter()
                        .all(|a| !a.trim().is_empty() && a.chars().count() <= MAX_AFFIRMATION_CHARS);
                if !ok {
                    return Err(DomainError::invalid(
                        "affirmations",
                        format!("1 to {MAX_AFFIRMATIONS} affirmations of at most {MAX_AFFIRMATION_CHARS} characters"),
                    ));
                }
                if !self.days.contains(&day) {
                    let event = AiMonthEvent::AffirmationsWritten {
                        day,
                        affirmations,
                        source,
                    };
                    sink.write(event, self).await;
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: AiMonthEvent) {
        match event {
            AiMonthEvent::ThresholdCrossed { month, percent, .. } => {
                self.month = Some(month);
                self.crossed.push(percent);
            }
            AiMonthEvent::AffirmationsWritten { day, .. } => {
                self.month.get_or_insert_with(|| day.chars().take(7).collect());
                self.days.push(day);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;

    type Given = TestFramework<AiMonth>;

    fn crossed(percent: u8) -> AiMonthEvent {
        AiMonthEvent::ThresholdCrossed {
            month: "2026-11".into(),
            percent,
            tokens_used: 600,
            cap: 1000,
        }
    }

    fn cross(percent: u8) -> AiMonthCommand {
        AiMonthCommand::CrossThreshold {
            month: "2026-11".into(),
            percent,
            tokens_used: 600,
            cap: 1000,
        }
    }

    #[test]
    fn each_threshold_is_announced_once_a_month() {
        Given::with(())
            .given_no_previous_events()
            .when(cross(50))
            .then_expect_events(vec![crossed(50)]);
        Given::with(())
            .given(vec![crossed(50)])
            .when(cross(50))
            .then_expect_events(vec![]);
        Given::with(())
            .given(vec![crossed(50)])
            .when(cross(80))
            .then_expect_events(vec![crossed(80)]);
        Given::with(())
            .given_no_previous_events()
            .when(cross(60))
            .then_expect_error(DomainError::invalid("percent", "thresholds are 50, 80 and 95"));
    }

    #[test]
    fn a_day_gets_its_affirmations_once() {
        let write = |day: &str, a: Vec<String>| AiMonthCommand::WriteAffirmations {
            month: "2026-11".into(),
            day: day.into(),
            affirmations: a,
            source: "model".into(),
        };
        let written = AiMonthEvent::AffirmationsWritten {
            day: "2026-11-30".into(),
            affirmations: vec!["You are doing enough.".into()],
            source: "model".into(),
        };
        Given::with(())
            .given_no_previous_events()
            .when(write("2026-11-30", vec!["You are doing enough.".into()]))
            .then_expect_events(vec![written.clone()]);
        Given::with(())
            .given(vec![written])
            .when(write("2026-11-30", vec!["Again.".into()]))
            .then_expect_events(vec![]);
        Given::with(())
            .given_no_previous_events()
            .when(write("2026-12-01", vec!["x".into()]))
            .then_expect_error(DomainError::invalid("day", "a day of another month"));
    }

    #[test]
    fn month_ids_are_stable_and_distinct() {
        assert_eq!(month_id("2026-11"), month_id("2026-11"));
        assert_ne!(month_id("2026-11"), month_id("2026-12"));
    }
}
