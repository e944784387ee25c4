//! The safety gate, both stages. The domain's rules read the text first; when they find risk
//! signals but say less than crisis and a model is configured, the model reads it too (a strict
//! `{level, categories}` answer, a short timeout, the circuit breaker) and the higher of the two
//! stands. A model that fails, refuses, is slow or answers nonsense changes nothing: the rules'
//! answer stands and the person is never kept waiting on it.
//!
//! Every assessment is counted in `/metrics` by level and the stage that decided it, and every
//! crisis by category (`prism_safety_assessments_total`, `prism_safety_crisis_categories_total`):
//! counts only, never words.

use prism_ai_gateway::http::{Answered, Fallback, Lane};
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

/// What the gate says of `text`: the final assessment, the model's verdict when one was asked
/// and answered (to be recorded with the command), and the tokens the model spent.
pub async fn two_stages(gateway: &Fallback, text: &str) -> (Assessment, Option<Verdict>, Option<Usage>) {
    let first = safety::assess(text);
    let (second, usage) = if first.worth_a_second_look() {
        match gateway.assess_risk(text).await {
            Some((reading, usage)) => (Some(verdict(&reading)), Some(usage)),
            None => (None, None),
        }
    } else {
        (None, None)
    };
    let (assessment, by_model) = safety::assess_with(text, second.as_ref());
    let stage = if by_model { "model" } else { "rules" };
    metrics::counter!("prism_safety_assessments_total", "level" => assessment.level.as_str(), "stage" => stage)
        .increment(1);
    for c in &assessment.categories {
        metrics::counter!("prism_safety_crisis_categories_total", "category" => c.as_str()).increment(1);
    }
    (assessment, second, usage)
}

impl Commands {
    /// The gate before any reflection text goes further (see the module's docs). The model's
    /// tokens count against `user`'s budget, but a budget never keeps the reading from running.
    pub async fn safety_gate(&self, user: UserId, text: &str) -> (Assessment, Option<Verdict>) {
        let (assessment, second, usage) = two_stages(&self.gateway, text).await;
        match usage {
            Some(usage) => {
                self.ai_spent(AiFeature::Safety, Some(user), Lane::Standard, usage, Answered::Model)
                    .await
            }
            None if self.gateway.primary.is_some() && safety::assess(text).worth_a_second_look() => {
                self.ai_spent(
                    AiFeature::Safety,
                    Some(user),
                    Lane::Standard,
                    Usage::default(),
                    Answered::Builtin,
                )
                .await
            }
            None => {}
        }
        (assessment, second)
    }
}
