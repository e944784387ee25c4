//! Plans, daily allowances and token metering for the reflection features.
//!
//! A charge is one statement: it reads the caller's plan (`entitlements`) and takes one unit
//! of the day's allowance only while `used < allowance`, so concurrent requests can never
//! overshoot (the row lock of the upsert orders them). A command that fails after its charge
//! gives the unit back; the tokens the gateway spent are metered either way.
//!
//! Crisis answers are never charged or refused: a person in crisis always gets the resources.
//!
//! The counters are written with `synchronous_commit = off` on their own connections: a user's
//! counter row is hot (every request of theirs updates it), and with a synchronous commit each
//! update would hold the row lock through its WAL flush, serialising that user's requests on the
//! disk (measured: 887 turns/s, p99 132 ms for one user at 32 connections). The price is that a
//! crash may lose the last fraction of a second of charges — a user could then get a few extra
//! requests that day; the events themselves are committed synchronously as always.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use prism_ai_gateway::http::Answered;
use prism_ai_gateway::Usage;
use prism_domain::aggregates::{User, UserCommand};
use prism_domain::values::Plan;
use prism_domain::{DomainError, UserId};

use crate::pipeline::Decision;
use crate::{CommandContext, CommandError, Commands};

/// What a plan's allowance counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Feature {
    /// `POST /v1/turns`
    Turn,
    /// `POST /v1/mirror/sessions/{id}/messages` (fragment detection)
    MirrorMessage,
    /// `POST /v1/mirror/fragments/{id}/reframe`
    Reframe,
}

impl Feature {
    pub const ALL: [Feature; 3] = [Feature::Turn, Feature::MirrorMessage, Feature::Reframe];

    pub fn as_str(self) -> &'static str {
        match self {
            Feature::Turn => "turn",
            Feature::MirrorMessage => "mirror_message",
            Feature::Reframe => "reframe",
        }
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Daily allowances per plan and feature.
#[derive(Debug, Clone, PartialEq)]
pub struct Allowances(HashMap<(Plan, Feature), u32>);

impl Default for Allowances {
    /// free: 10 turns, 30 mirror messages, 10 reframes a day; prism ×10; prism_plus ×100.
    fn default() -> Self {
        let mut m = HashMap::new();
        for (plan, factor) in [(Plan::Free, 1), (Plan::Prism, 10), (Plan::PrismPlus, 100)] {
            m.insert((plan, Feature::Turn), 10 * factor);
            m.insert((plan, Feature::MirrorMessage), 30 * factor);
            m.insert((plan, Feature::Reframe), 10 * factor);
        }
        Self(m)
    }
}

impl Allowances {
    pub fn get(&self, plan: Plan, feature: Feature) -> u32 {
        self.0.get(&(plan, feature)).copied().unwrap_or(0)
    }

    /// The defaults with overrides such as `free.turn=20,prism_plus.reframe=5000`
    /// (`PRISM_QUOTAS`).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut a = Self::default();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (key, n) = item
                .split_once('=')
                .ok_or_else(|| format!("{item:?}: expected plan.feature=N"))?;
            let (plan, feature) = key
                .split_once('.')
                .ok_or_else(|| format!("{key:?}: expected plan.feature"))?;
            let plan = Plan::parse(plan.trim()).map_err(|e| e.to_string())?;
            let feature = Feature::ALL
                .into_iter()
                .find(|f| f.as_str() == feature.trim())
                .ok_or_else(|| format!("{feature:?}: features are turn, mirror_message, reframe"))?;
            let n = n.trim().parse().map_err(|_| format!("{item:?}: not a number"))?;
            a.0.insert((plan, feature), n);
        }
        Ok(a)
    }
}

/// The UTC day a charge counts against, and when its allowance starts over.
fn today() -> (NaiveDate, DateTime<Utc>) {
    let now = Utc::now();
    let day = now.date_naive();
    let reset = (day + Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(now);
    (day, reset)
}

/// A small pool on the store's database whose sessions commit asynchronously (for counters).
pub fn counters_pool(store: &sqlx::PgPool) -> sqlx::PgPool {
    let opts = (*store.connect_options())
        .clone()
        .options([("synchronous_commit", "off")]);
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect_lazy_with(opts)
}

/// One unit of a day's allowance, taken. Give it back with [`Commands::refund`] if the
/// command does not go through.
#[derive(Debug, Clone, Copy)]
pub struct Charge {
    user: UserId,
    feature: Feature,
    day: NaiveDate,
}

impl Commands {
    /// Takes one unit of `feature` from the caller's allowance for today, or answers
    /// [`CommandError::QuotaExceeded`].
    pub async fn charge(&self, user: UserId, feature: Feature) -> Result<Charge, CommandError> {
        let (day, resets_at) = today();
        let a = &self.allowances;
        let used: Option<i32> = sqlx::query_scalar(
            "WITH lim AS (SELECT CASE coalesce((SELECT plan FROM entitlements WHERE user_id = $1), 'free') \
                 WHEN 'prism' THEN $5 WHEN 'prism_plus' THEN $6 ELSE $4 END AS n) \
             INSERT INTO usage_counters AS u (user_id, feature, day, used) \
             SELECT $1, $2, $3, 1 FROM lim WHERE lim.n > 0 \
             ON CONFLICT (user_id, feature, day) DO UPDATE SET used = u.used + 1 \
                 WHERE u.used < (SELECT n FROM lim) \
             RETURNING u.used",
        )
        .bind(user.0)
        .bind(feature.as_str())
        .bind(day)
        .bind(a.get(Plan::Free, feature) as i32)
        .bind(a.get(Plan::Prism, feature) as i32)
        .bind(a.get(Plan::PrismPlus, feature) as i32)
        .fetch_optional(&self.counters)
        .await?;
        match used {
            Some(_) => Ok(Charge { user, feature, day }),
            None => {
                let plan = self.plan_of(user).await?;
                Err(CommandError::QuotaExceeded {
                    feature: feature.as_str(),
                    allowance: a.get(plan, feature),
                    plan: plan.as_str(),
                    resets_at,
                })
            }
        }
    }

    /// Gives a charge back (the command it paid for failed).
    pub async fn refund(&self, charge: Charge) {
        let r = sqlx::query(
            "UPDATE usage_counters SET used = used - 1 WHERE user_id = $1 AND feature = $2 AND day = $3 AND used > 0",
        )
        .bind(charge.user.0)
        .bind(charge.feature.as_str())
        .bind(charge.day)
        .execute(&self.counters)
        .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, feature = %charge.feature, "could not give a charge back");
        }
    }

    /// Adds the tokens a model spent to the charge's counter (the built-in provider costs
    /// nothing, so nothing is written for it).
    pub async fn meter(&self, charge: Charge, usage: Usage, answered: Answered) {
        if answered == Answered::Builtin || (usage.prompt_tokens == 0 && usage.completion_tokens == 0) {
            return;
        }
        let r = sqlx::query(
            "UPDATE usage_counters SET prompt_tokens = prompt_tokens + $4, completion_tokens = completion_tokens + $5 \
             WHERE user_id = $1 AND feature = $2 AND day = $3",
        )
        .bind(charge.user.0)
        .bind(charge.feature.as_str())
        .bind(charge.day)
        .bind(i64::from(usage.prompt_tokens))
        .bind(i64::from(usage.completion_tokens))
        .execute(&self.counters)
        .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, feature = %charge.feature, "could not meter tokens");
        }
    }

    /// Runs `work` on a charge: refunded if it fails.
    pub(crate) async fn charged<T, Fut>(
        &self,
        user: UserId,
        feature: Feature,
        work: impl FnOnce(Charge) -> Fut,
    ) -> Result<T, CommandError>
    where
        Fut: std::future::Future<Output = Result<T, CommandError>>,
    {
        let charge = self.charge(user, feature).await?;
        let r = work(charge).await;
        if r.is_err() {
            self.refund(charge).await;
        }
        r
    }

    /// The user's plan (free when none was set).
    pub async fn plan_of(&self, user: UserId) -> Result<Plan, CommandError> {
        let plan: Option<String> = sqlx::query_scalar("SELECT plan FROM entitlements WHERE user_id = $1")
            .bind(user.0)
            .fetch_optional(self.store.pool())
            .await?;
        Ok(plan.and_then(|p| Plan::parse(&p).ok()).unwrap_or_default())
    }

    /// `prism plans set USER PLAN`: an `entitlement.changed` event and the plan row, in one
    /// transaction. Answers false when the user already had that plan.
    pub async fn set_plan(&self, user: UserId, plan: &str) -> Result<bool, CommandError> {
        let plan = Plan::parse(plan)?;
        let loaded = self.store.load::<User>(user.0).await?;
        if !loaded.exists() || loaded.state.erased {
            return Err(DomainError::NotFound("user").into());
        }
        let changed = loaded.state.plan != plan;
        let mut tx = self.store.pool().begin().await?;
        let ctx = CommandContext::new(user);
        self.decide_on(
            Some(&mut tx),
            &ctx,
            Decision::<User>::new(user.0, None, loaded, UserCommand::ChangePlan { plan }),
        )
        .await?;
        sqlx::query(
            "INSERT INTO entitlements (user_id, plan) VALUES ($1, $2) \
             ON CONFLICT (user_id) DO UPDATE SET plan = EXCLUDED.plan, changed_at = now()",
        )
        .bind(user.0)
        .bind(plan.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowances_take_overrides_and_refuse_nonsense() {
        let a = Allowances::parse("free.turn=3, prism_plus.reframe=0").expect("parses");
        assert_eq!(a.get(Plan::Free, Feature::Turn), 3);
        assert_eq!(a.get(Plan::PrismPlus, Feature::Reframe), 0);
        assert_eq!(a.get(Plan::Prism, Feature::Turn), 100);
        assert!(Allowances::parse("gold.turn=3").is_err());
        assert!(Allowances::parse("free.dance=3").is_err());
        assert!(Allowances::parse("free.turn=lots").is_err());
        assert!(Allowances::parse("free.turn").is_err());
    }

    #[test]
    fn the_day_resets_at_the_next_utc_midnight() {
        let (day, reset) = today();
        assert_eq!(reset.date_naive(), day + Duration::days(1));
        assert_eq!(reset.time(), chrono::NaiveTime::MIN);
    }
}
