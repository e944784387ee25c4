//! Background writers of a write node: each week's spectrum insight (written when the week's
//! counts change, from counts only), the day's Lens affirmations, and `invitation.expired` for
//! invitations past their time, and `webhook.disabled` for endpoints that keep failing. They
//! read what is due from
//! the projections and write through the commands, so the read API only ever serves stored
//! text and never waits on a model.
//!
//! Every write node runs them. Two nodes may write the same insight in the same minute (the
//! projection keeps the last; the log has both); the day's affirmations are written once, the
//! month's stream settles the race.

use std::time::Duration;

use chrono::{Days, Utc};
use prism_ai_gateway::WeekSummary;
use prism_commands::Commands;
use prism_domain::UserId;
use prism_projections::spectrum::{week_start, WeekCounts};
use tokio::sync::watch;

/// What one pass wrote.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Written {
    pub insights: usize,
    pub affirmations: bool,
    /// Invitations closed with `invitation.expired`.
    pub expired_invitations: usize,
    /// Webhook endpoints disabled for failing.
    pub disabled_webhooks: usize,
}

/// After this many deliveries in a row died, an endpoint is disabled.
pub const FAILING_IN_A_ROW: i64 = 5;

/// After this many slow answers in a row (past the deliverer's `slow`), an endpoint is disabled:
/// with the doubling wait between them, about half an hour of being slow.
pub const SLOW_IN_A_ROW: i32 = 40;

/// Disables (`webhook.disabled`) every endpoint whose last [`FAILING_IN_A_ROW`] deliveries all
/// died, or whose last [`SLOW_IN_A_ROW`] answers were all slow; answers how many.
pub async fn disable_failing_webhooks(commands: &Commands, pool: &sqlx::PgPool) -> anyhow::Result<usize> {
    disable_webhooks(commands, pool, FAILING_IN_A_ROW, SLOW_IN_A_ROW).await
}

/// [`disable_failing_webhooks`] with the two thresholds given.
pub async fn disable_webhooks(
    commands: &Commands,
    pool: &sqlx::PgPool,
    failing: i64,
    slow: i32,
) -> anyhow::Result<usize> {
    let failed = prism_projections::webhooks::failing(pool, failing).await?;
    let slowed = prism_projections::webhooks::slow(pool, slow).await?;
    let why_failed = format!("its last {failing} deliveries failed every attempt");
    let why_slow = format!("its last {slow} answers were each slower than it should be");
    let mut n = 0;
    for (webhook, why) in failed
        .iter()
        .map(|w| (w, &why_failed))
        .chain(slowed.iter().map(|w| (w, &why_slow)))
    {
        match commands.disable_webhook(*webhook, why).await {
            Ok(()) => n += 1,
            Err(e) => tracing::warn!(error = %e, webhook_id = %webhook, "disabling a webhook failed"),
        }
    }
    Ok(n)
}

fn summary(c: &WeekCounts) -> WeekSummary {
    WeekSummary {
        sessions: c.sessions,
        fragments: c.fragments.clone(),
        turns: c.turns,
        saved_turns: c.saved_turns,
        actions_added: c.actions_added,
        actions_completed: c.actions_completed,
    }
}

/// One pass: today's affirmations if missing; an insight for every user whose counts for this
/// week or last changed since theirs was written.
pub async fn once(commands: &Commands, pool: &sqlx::PgPool) -> anyhow::Result<Written> {
    let mut written = Written {
        expired_invitations: commands
            .expire_invitations()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?,
        disabled_webhooks: disable_failing_webhooks(commands, pool).await?,
        ..Written::default()
    };
    let today = Utc::now().date_naive();
    if prism_projections::read_models::affirmations(pool, today)
        .await?
        .is_none()
    {
        commands
            .write_affirmations(today)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        written.affirmations = true;
    }
    let this_week = week_start(today);
    let since = this_week.checked_sub_days(Days::new(7)).unwrap_or(this_week);
    let last = prism_projections::spectrum::insight_counts(pool, since).await?;
    let current = prism_projections::spectrum::insight_counts(pool, this_week).await?;
    for (user, week, counts) in prism_projections::spectrum::weeks(pool, since).await? {
        let key = counts.key();
        let had = if week == this_week {
            current.get(&user)
        } else {
            last.get(&user)
        };
        if had == Some(&key) {
            continue;
        }
        match commands.write_insight(UserId(user), week, &summary(&counts), key).await {
            Ok(()) => written.insights += 1,
            // An erased user, or one whose stream moved on: the next pass sees.
            Err(e) => tracing::debug!(error = %e, "an insight was not written"),
        }
    }
    Ok(written)
}

/// Runs [`once`] every `every` until stopped.
pub async fn run(
    commands: Commands,
    pool: sqlx::PgPool,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    loop {
        match once(&commands, &pool).await {
            Ok(w) if w.insights > 0 || w.affirmations || w.expired_invitations > 0 || w.disabled_webhooks > 0 => {
                tracing::debug!(?w, "insights, affirmations and expiries written")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "writing insights and affirmations failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|s| *s) => return Ok(()),
        }
    }
}
