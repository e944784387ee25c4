//! The safety gate, all its stages. The domain's rules read the text first. Below crisis, the
//! embedded semantic stage (`prism-safety-model`: a sentence-embedding model and a classifier,
//! in process, on a blocking thread) reads it too; then, when the rules found risk signals but
//! said less than crisis and a model is configured, the model reads it (a strict `{level,
//! categories}` answer within the request's deadline, the circuit breaker). Each later stage can
//! only raise the level. A stage that fails, refuses, is slow or answers nonsense changes
//! nothing: the earlier answer stands and the person is never kept waiting on it.
//!
//! Every assessment is counted in `/metrics` by level and the stage that decided it (`rules`,
//! `semantic`, `model`), and every crisis by category (`prism_safety_assessments_total`,
//! `prism_safety_crisis_categories_total`): counts only, never words.

use std::sync::Arc;

use prism_ai_gateway::http::{Answered, Deadline, Fallback, Lane};
use prism_ai_gateway::{RiskLevel, RiskReading, Usage};
use prism_domain::safety::{self, Assessment, Category, Level, Verdict};
use prism_safety_model::Semantic;

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

/// Readings the semantic stage runs at once on this node: one per core (it is CPU work).
static SEMANTIC_SLOTS: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
});

/// The semantic stage's reading of `text` on a blocking thread (it is CPU work): a crisis
/// verdict (no categories: it reads meaning, not the clinicians' structure) or nothing. It waits
/// for a core at most until the request's deadline; past it the rules' answer stands, counted
/// in `prism_safety_semantic_skipped_total`.
pub async fn semantic_verdict(semantic: &Arc<Semantic>, text: &str, deadline: Deadline) -> Option<Verdict> {
    let Ok(Ok(slot)) = tokio::time::timeout(deadline.remaining(), SEMANTIC_SLOTS.acquire()).await else {
        metrics::counter!("prism_safety_semantic_skipped_total").increment(1);
        tracing::warn!("no core free for the semantic stage before the deadline; the rules' answer stands");
        return None;
    };
    let (semantic, owned) = (semantic.clone(), text.to_owned());
    let read = tokio::task::spawn_blocking(move || semantic.read(&owned)).await;
    drop(slot);
    match read {
        Ok(Ok(reading)) if reading.crisis => Some(Verdict {
            level: Level::Crisis,
            categories: Vec::new(),
        }),
        Ok(Ok(_)) => None,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "the semantic stage failed; the rules' answer stands");
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "the semantic stage did not finish; the rules' answer stands");
            None
        }
    }
}

/// What the gate says of `text`: the final assessment, the later stages' verdict when one
/// raised or answered (to be recorded with the command), and whether and at what cost the
/// model was asked. The rules read the text once; the model, if asked, within `deadline`.
pub async fn stages(
    gateway: &Fallback,
    semantic: Option<&Arc<Semantic>>,
    text: &str,
    deadline: Deadline,
) -> (Assessment, Option<Verdict>, Asked) {
    let first = safety::assess(text);
    let by_semantic = match semantic {
        Some(s) if !first.is_crisis() => semantic_verdict(s, text, deadline).await,
        _ => None,
    };
    after_semantic(gateway, first, by_semantic, text, deadline).await
}

/// The rest of [`stages`] once the rules (`first`) and the semantic stage (`by_semantic`) have
/// read `text`: the model's reading when it is worth one, the combination, the counts. For a
/// caller that already has the semantic reading (`prism safety eval`, which also scores it alone).
pub async fn after_semantic(
    gateway: &Fallback,
    first: Assessment,
    by_semantic: Option<Verdict>,
    text: &str,
    deadline: Deadline,
) -> (Assessment, Option<Verdict>, Asked) {
    let ask_model = first.worth_a_second_look() && by_semantic.is_none() && gateway.primary.is_some();
    let (by_model, asked) = if ask_model {
        match gateway.assess_risk(text, deadline).await {
            Some((reading, usage)) => (Some(verdict(&reading)), Asked::Answered(usage)),
            None => (None, Asked::Failed),
        }
    } else {
        (None, Asked::No)
    };
    let (semantic_raised, second) = match (by_semantic, by_model) {
        (Some(v), _) => (true, Some(v)),
        (None, m) => (false, m),
    };
    let (assessment, raised) = first.with_second(second.as_ref());
    if let Some(language) = assessment.unreadable {
        // Never silently safe: counted (a fixed set of ISO codes), met with a check-in.
        metrics::counter!("prism_safety_unreadable_language_total", "language" => language).increment(1);
    }
    let stage = match (raised, semantic_raised) {
        (false, _) => "rules",
        (true, true) => "semantic",
        (true, false) => "model",
    };
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
        let (assessment, second, asked) = stages(&self.gateway, self.semantic.as_ref(), text, deadline).await;
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
