//! AI spend under control: every token a model reports is counted (per user, day, feature and
//! model, and per month for the platform), and each call first asks which lane it may use.
//!
//! - A user's daily budget (`PRISM_AI_USER_DAILY_TOKENS`): once spent, that user's features
//!   answer from the built-in provider until midnight UTC (a *quota denial*: never a refusal).
//! - The monthly cap (`PRISM_AI_MONTHLY_TOKENS`): at 50 %, 80 % and 95 % an
//!   `ai.budget_threshold_crossed` event is appended once a month, a warning logged and a gauge
//!   set. Under that pressure features leave the model in a fixed order: Lens falls back to its
//!   templates from 80 %, Spectrum insights from 95 % (served from what was written, or
//!   built-in), Turn and Mirror stay on the model longest and fall back at 100 %.
//! - The safety reading is never turned away by a budget: it only ever raises protection, and
//!   it runs only on text that carries risk signals. Its tokens count like every other call.
//!
//! A user is never refused because the platform is over budget. `/metrics` has tokens and calls
//! by feature and model, quota denials and fallbacks by reason.
//!
//! The month's total is read from `ai_month` at most every few seconds per process: the cap is
//! a budget, not a hard limit, so a few calls of overshoot across nodes are accepted.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate, Utc};
use prism_ai_gateway::http::{Answered, Lane};
use prism_ai_gateway::Usage;
use prism_domain::aggregates::ai_month::{month_id, AiMonth, AiMonthCommand, THRESHOLDS};
use prism_domain::UserId;
use uuid::Uuid;

use crate::{CommandContext, Commands};

/// What a model call is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AiFeature {
    Turn,
    Mirror,
    Reframe,
    Safety,
    Lens,
    Spectrum,
}

impl AiFeature {
    pub fn as_str(self) -> &'static str {
        match self {
            AiFeature::Turn => "turn",
            AiFeature::Mirror => "mirror",
            AiFeature::Reframe => "reframe",
            AiFeature::Safety => "safety",
            AiFeature::Lens => "lens",
            AiFeature::Spectrum => "spectrum",
        }
    }

    /// The lane this feature uses when it may use a model.
    fn lane(self) -> Lane {
        match self {
            AiFeature::Lens | AiFeature::Spectrum => Lane::Economy,
            _ => Lane::Standard,
        }
    }

    /// The share of the monthly cap from which this feature leaves the model: the degradation
    /// order.
    fn yields_at(self) -> f64 {
        match self {
            AiFeature::Lens => 0.80,
            AiFeature::Spectrum => 0.95,
            AiFeature::Turn | AiFeature::Mirror | AiFeature::Reframe => 1.0,
            AiFeature::Safety => f64::INFINITY,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpendLimits {
    /// Tokens a user may spend a day (all features).
    pub user_daily: Option<u64>,
    /// Tokens the platform may spend a calendar month (UTC).
    pub monthly: Option<u64>,
}

/// The month's total as last read, and when.
#[derive(Debug)]
pub struct Spend {
    pub(crate) limits: SpendLimits,
    month_tokens: AtomicI64,
    read_at: Mutex<Option<(Instant, NaiveDate)>>,
}

impl Spend {
    pub fn new(limits: SpendLimits) -> Self {
        Self {
            limits,
            month_tokens: AtomicI64::new(0),
            read_at: Mutex::new(None),
        }
    }
}

/// How stale the month's total may be before it is read again.
const MONTH_FRESH: Duration = Duration::from_secs(5);

fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

impl Commands {
    /// The month's tokens so far (cached for a few seconds).
    async fn month_tokens(&self) -> i64 {
        let month = month_start(Utc::now().date_naive());
        let fresh = self
            .spend
            .read_at
            .lock()
            .map(|r| r.is_some_and(|(at, m)| m == month && at.elapsed() < MONTH_FRESH))
            .unwrap_or(false);
        if !fresh {
            let n: Option<i64> = sqlx::query_scalar("SELECT tokens FROM ai_month WHERE month = $1")
                .bind(month)
                .fetch_optional(&self.counters)
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "could not read the month's AI spend");
                    None
                });
            self.spend.month_tokens.store(n.unwrap_or(0), Ordering::Relaxed);
            if let Ok(mut r) = self.spend.read_at.lock() {
                *r = Some((Instant::now(), month));
            }
        }
        self.spend.month_tokens.load(Ordering::Relaxed)
    }

    /// The lane `feature` may use now, for `user` (none for platform work). Says why when it
    /// is the built-in provider, and counts it.
    pub async fn ai_lane(&self, feature: AiFeature, user: Option<UserId>) -> Lane {
        if self.gateway.provider(feature.lane()).is_none() {
            return Lane::Builtin;
        }
        let limits = self.spend.limits;
        if let Some(cap) = limits.monthly {
            let used = self.month_tokens().await;
            if used as f64 >= cap as f64 * feature.yields_at() {
                metrics::counter!("prism_ai_fallbacks_total", "feature" => feature.as_str(), "reason" => "monthly_budget")
                    .increment(1);
                return Lane::Builtin;
            }
        }
        if let (Some(budget), Some(user), false) = (limits.user_daily, user, feature == AiFeature::Safety) {
            let today: Option<i64> = sqlx::query_scalar(
                "SELECT sum(prompt_tokens + completion_tokens)::bigint FROM ai_usage WHERE user_id = $1 AND day = $2",
            )
            .bind(user.0)
            .bind(Utc::now().date_naive())
            .fetch_one(&self.counters)
            .await
            .unwrap_or(None);
            if today.unwrap_or(0) >= budget as i64 {
                metrics::counter!("prism_ai_quota_denials_total", "feature" => feature.as_str()).increment(1);
                metrics::counter!("prism_ai_fallbacks_total", "feature" => feature.as_str(), "reason" => "user_budget")
                    .increment(1);
                return Lane::Builtin;
            }
        }
        feature.lane()
    }

    /// Records what a call on `lane` spent. A model that failed on a lane it was allowed is a
    /// fallback too.
    pub async fn ai_spent(
        &self,
        feature: AiFeature,
        user: Option<UserId>,
        lane: Lane,
        usage: Usage,
        answered: Answered,
    ) {
        let Some(provider) = self.gateway.provider(lane) else {
            return;
        };
        if answered == Answered::Builtin {
            metrics::counter!("prism_ai_fallbacks_total", "feature" => feature.as_str(), "reason" => "model_error")
                .increment(1);
            return;
        }
        let model = provider.model().to_owned();
        let (prompt, completion) = (i64::from(usage.prompt_tokens), i64::from(usage.completion_tokens));
        metrics::counter!("prism_ai_calls_total", "feature" => feature.as_str(), "model" => model.clone()).increment(1);
        metrics::counter!("prism_ai_tokens_total", "feature" => feature.as_str(), "model" => model.clone(), "kind" => "prompt")
            .increment(prompt as u64);
        metrics::counter!("prism_ai_tokens_total", "feature" => feature.as_str(), "model" => model.clone(), "kind" => "completion")
            .increment(completion as u64);
        let today = Utc::now().date_naive();
        let month = month_start(today);
        let r = sqlx::query(
            "INSERT INTO ai_usage AS u (day, user_id, feature, model, prompt_tokens, completion_tokens, calls) \
             VALUES ($1, $2, $3, $4, $5, $6, 1) \
             ON CONFLICT (user_id, day, feature, model) DO UPDATE SET \
               prompt_tokens = u.prompt_tokens + EXCLUDED.prompt_tokens, \
               completion_tokens = u.completion_tokens + EXCLUDED.completion_tokens, calls = u.calls + 1",
        )
        .bind(today)
        .bind(user.map_or(Uuid::nil(), |u| u.0))
        .bind(feature.as_str())
        .bind(&model)
        .bind(prompt)
        .bind(completion)
        .execute(&self.counters)
        .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, feature = feature.as_str(), "could not count AI usage");
        }
        let total: Result<i64, _> = sqlx::query_scalar(
            "INSERT INTO ai_month AS m (month, tokens) VALUES ($1, $2) \
             ON CONFLICT (month) DO UPDATE SET tokens = m.tokens + EXCLUDED.tokens RETURNING tokens",
        )
        .bind(month)
        .bind(prompt + completion)
        .fetch_one(&self.counters)
        .await;
        let after = match total {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "could not count the month's AI spend");
                return;
            }
        };
        self.spend.month_tokens.store(after, Ordering::Relaxed);
        if let Some(cap) = self.spend.limits.monthly.filter(|c| *c > 0) {
            let before = after - prompt - completion;
            metrics::gauge!("prism_ai_budget_used_ratio").set(after as f64 / cap as f64);
            for percent in THRESHOLDS {
                let mark = cap as f64 * f64::from(percent) / 100.0;
                if (before as f64) < mark && after as f64 >= mark {
                    self.threshold_crossed(month, percent, after, cap).await;
                }
            }
        }
    }

    /// Announces a threshold of the monthly cap: a warning, a gauge and, once a month, the event.
    async fn threshold_crossed(&self, month: NaiveDate, percent: u8, used: i64, cap: u64) {
        tracing::warn!(
            percent,
            tokens_used = used,
            cap,
            "the AI gateway crossed a threshold of its monthly token cap"
        );
        metrics::gauge!("prism_ai_budget_threshold_crossed", "percent" => percent.to_string()).set(1.0);
        let month = month.format("%Y-%m").to_string();
        let ctx = CommandContext::new(UserId(Uuid::nil()));
        let cmd = AiMonthCommand::CrossThreshold {
            month: month.clone(),
            percent,
            tokens_used: used.max(0) as u64,
            cap,
        };
        if let Err(e) = self.execute::<AiMonth>(&ctx, month_id(&month), None, cmd).await {
            tracing::warn!(error = %e, percent, "could not record the budget threshold");
        }
    }
}
