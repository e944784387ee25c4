//! Reflection commands: turns, mirror sessions, lens goals, plans and quotas, and erasure. Every one of
//! them belongs to its author alone; the safety gate (in the domain) runs before any text
//! reaches the AI gateway, and crisis text gets resources back, never a reframe.

mod erase;
mod lens;
mod mirror;
mod quota;
pub mod safety;
mod spectrum;
pub mod spend;
mod turn;
mod written;

pub use quota::{counters_pool, Allowances, Charge, Feature};
pub use spend::{AiFeature, Spend, SpendLimits};

/// The gentle check-in beside reframes when the gate reads despair but no risk now
/// (`Assessment::check_in`: "my life is over" about a setback).
pub const CHECK_IN: &str =
    "That sounds like a lot to carry right now. If it ever starts to feel like more than a hard \
moment, you don't have to hold it alone: talking to someone you trust, or to one of these lines, can help.";

/// Shown with every crisis answer unless `PRISM_CRISIS_RESOURCES` says otherwise.
pub const DEFAULT_CRISIS_RESOURCES: &[&str] = &[
    "If you are in immediate danger, call your local emergency number now.",
    "US: call or text 988 (Suicide & Crisis Lifeline).",
    "UK and Ireland: call Samaritans on 116 123.",
    "Elsewhere: findahelpline.com lists free, confidential lines in your country.",
];
