//! The AI gateway: everything Prism asks of a language model goes through [`Provider`].
//!
//! It owns the request and answer shapes (fragments of distorted thinking with character spans
//! and a confidence; three reframes and one micro-action) and the providers. The built-in
//! provider ([`builtin::Builtin`]) is deterministic and needs no model: it is the default, the
//! fallback when a model provider is down, and what tests run against.
//!
//! It may import serde; it knows nothing of events, HTTP routes or storage. The safety gate is
//! not here: it lives in `prism-domain` and runs before any provider sees a word.

pub mod builtin;

use serde::{Deserialize, Serialize};

/// The thinking distortions Prism names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distortion {
    AllOrNothing,
    Overgeneralisation,
    Catastrophising,
    MindReading,
    ShouldStatements,
    Labelling,
    Personalisation,
}

impl Distortion {
    pub const ALL: [Distortion; 7] = [
        Self::AllOrNothing,
        Self::Overgeneralisation,
        Self::Catastrophising,
        Self::MindReading,
        Self::ShouldStatements,
        Self::Labelling,
        Self::Personalisation,
    ];

    /// The snake_case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AllOrNothing => "all_or_nothing",
            Self::Overgeneralisation => "overgeneralisation",
            Self::Catastrophising => "catastrophising",
            Self::MindReading => "mind_reading",
            Self::ShouldStatements => "should_statements",
            Self::Labelling => "labelling",
            Self::Personalisation => "personalisation",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// A distorted fragment of the text: `start..end` in characters (not bytes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fragment {
    pub category: Distortion,
    pub start: usize,
    pub end: usize,
    pub confidence: f32,
}

/// Three reframes and one small thing to do.
/// A week of one user's reflection, as counts only: what a weekly insight is written from.
/// It never carries their text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WeekSummary {
    pub sessions: i64,
    /// Distorted fragments found, per category (snake_case names).
    pub fragments: std::collections::BTreeMap<String, i64>,
    pub turns: i64,
    pub saved_turns: i64,
    pub actions_added: i64,
    pub actions_completed: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reframe {
    pub reframes: [String; 3],
    pub micro_action: String,
}

/// How a model reads a text for suicide and self-harm risk: a second opinion that the safety
/// gate may only be raised by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    None,
    Concern,
    Crisis,
}

/// The categories a model may name (the safety gate's, as snake_case names).
pub const RISK_CATEGORIES: &[&str] = &[
    "wish_dead",
    "passive_ideation",
    "active_ideation",
    "method",
    "intent",
    "plan",
    "preparation",
    "self_harm",
    "indirect",
];

/// A model's reading: `{level, categories}`, nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskReading {
    pub level: RiskLevel,
    #[serde(default)]
    pub categories: Vec<String>,
}

/// Tokens a call used (estimated for the built-in provider), for metering.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("the model provider did not answer in time")]
    Timeout,
    #[error("the model provider is unavailable: {0}")]
    Unavailable(String),
    #[error("the model's answer is not the expected shape: {0}")]
    Malformed(String),
    /// The breaker keeps calls away from the model until a background probe succeeds.
    #[error("the model provider's circuit is open")]
    CircuitOpen,
}

/// What Prism asks of a model.
pub trait Provider: Send + Sync {
    /// Fragments of distorted thinking in `text`.
    fn detect(
        &self,
        text: &str,
    ) -> impl std::future::Future<Output = Result<(Vec<Fragment>, Usage), GatewayError>> + Send;

    /// Reframes for `text` (or for one of its fragments' category).
    fn reframe(
        &self,
        text: &str,
        category: Option<Distortion>,
    ) -> impl std::future::Future<Output = Result<(Reframe, Usage), GatewayError>> + Send;
}

/// A rough token count (about four characters a token), for providers that do not report one.
pub fn estimate_tokens(text: &str) -> u32 {
    (text.chars().count() as u32).div_ceil(4)
}
pub mod http;
