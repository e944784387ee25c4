//! The safety gate, both stages. The domain's rules read the text first; when they find risk
//! signals but say less than crisis and a model is configured, the model reads it too (a strict
//! `{level, categories}` answer, a short timeout, the circuit breaker) and the higher of the two
//! stands. A model that fails, refuses, is slow or answers nonsense changes nothing: the rules'
//! answer stands and the person is never kept waiting on it.
//!
//! Every assessment is counted in `/metrics` by level and the stage that decided it, and every
//! crisis by category (`prism_safety_assessments_total`, `prism_safety_crisis_categories_total`):
//! counts only, never words.

use prism_ai_gateway::http::{Answered, Deadline, Fallback, Lane};
use prism_ai_gateway::{RiskLevel, RiskReading, Usage};
use prism_domain::safety::{self, Assessment, Category, Level, Verdict};

use prism_domain::UserId;

use super::AiFeature;
use crate::Commands;

/// The model's reading as the domain's verdict (unknown categories were refused by the gateway).
pub fn verdict(reading: &RiskReading) -> Verdict {
    Verdict {
        level: match reading.level {
            RiskLevel::None => Level::None,
            RiskLevel::Concern => Level::Concern,
            RiskLevel::Crisis => Level::Crisis,
        },
        categories: reading.categories.iter().filter_map(|c| Category::parse(c)).collect(),
    }
}

/// Whether the model was asked for a second reading, and what it cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// No model, or nothing the rules found worth a second look.
    No,
    /// Asked, and it failed (timeout, refusal, garbage, breaker open).
    Failed,
    Answered(Usage),
}

/// What the gate says of `text`: the final assessment, the model's verdict when one was asked
/// and answered (to be recorded with the command), and whether and at what cost it was asked.
/// The rules read the text once; the model, if asked, within the request's `deadline`.
pub async fn two_stages(gateway: &Fallback, text: &str, deadline: Deadline) -> (Assessment, Option<Verdict>, Asked) {
    let first = safety::assess(text);
    let (second, asked) = match (first.worth_a_second_look(), gateway.primary.is_some()) {
        (true, true) => match gateway.assess_risk(text, deadline).await {
            Some((reading, usage)) => (Some(verdict(&reading)), Asked::Answered(usage)),
            None => (None, Asked::Failed),
        },
        _ => (None, Asked::No),
    };
    let (assessment, by_model) = first.with_second(second.as_ref());
    let stage = if by_model { "model" } else { "rules" };
    metrics::counter!("prism_safety_assessments_total", "level" => assessment.level.as_str(), "stage" => stage)
        .increment(1);
    for c in &assessment.categories {
        metrics::counter!("prism_safety_crisis_categories_total", "category" => c.as_str()).increment(1);
    }
    (assessment, second, asked)
}

impl Commands {
    /// The gate before any reflection text goes further (see the module's docs). The model's
    /// tokens count against `user`'s budget, but a budget never keeps the reading from running.
    pub async fn safety_gate(&self, user: UserId, text: &str, deadline: Deadline) -> (Assessment, Option<Verdict>) {
        let (assessment, second, asked) = two_stages(&self.gateway, text, deadline).await;
        let (usage, answered) = match asked {
            Asked::No => return (assessment, second),
            Asked::Failed => (Usage::default(), Answered::Builtin),
            Asked::Answered(usage) => (usage, Answered::Model),
        };
        self.ai_spent(AiFeature::Safety, Some(user), Lane::Standard, usage, answered)
            .await;
        (assessment, second)
    }
}
