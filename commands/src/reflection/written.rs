//! What the AI gateway writes for people without them asking, off the request path: the weekly
//! spectrum insight (from a week's counts, never text) and Lens's daily affirmations. Both go in
//! the log as events (`spectrum.insight_written` on the user's stream, sealed with their key;
//! `lens.affirmations_written` on the month's stream) and the read API serves what the
//! projections keep of them. Both obey the spend lanes: under budget pressure they are written
//! from templates, never skipped.

use chrono::NaiveDate;
use prism_ai_gateway::WeekSummary;
use prism_domain::aggregates::ai_month::{month_id, AiMonth, AiMonthCommand};
use prism_domain::aggregates::{User, UserCommand};
use prism_domain::UserId;
use prism_vault::Scope;
use uuid::Uuid;

use super::AiFeature;
use crate::{CommandContext, CommandError, Commands};

fn source(answered: prism_ai_gateway::http::Answered) -> &'static str {
    match answered {
        prism_ai_gateway::http::Answered::Model => "model",
        prism_ai_gateway::http::Answered::Builtin => "builtin",
    }
}

impl Commands {
    /// Writes `user`'s insight for `week` from `counts` (`key` is their stable JSON, recorded so
    /// the read side knows the insight still fits the week).
    pub async fn write_insight(
        &self,
        user: UserId,
        week: NaiveDate,
        counts: &WeekSummary,
        key: String,
    ) -> Result<(), CommandError> {
        let lane = self.ai_lane(AiFeature::Spectrum, Some(user)).await;
        let (text, usage, answered) = self.gateway.insight_on(lane, counts).await;
        self.ai_spent(AiFeature::Spectrum, Some(user), lane, usage, answered)
            .await;
        let text = self.vault.seal(Scope::user(user), &text).await?;
        let ctx = CommandContext::new(user);
        let cmd = UserCommand::WriteInsight {
            week,
            text,
            counts: key,
            source: source(answered).into(),
        };
        self.execute::<User>(&ctx, user.0, None, cmd).await.map(|_| ())
    }

    /// Writes Lens's affirmations for `day` (the model's, or the templates under pressure or
    /// without a model). Nothing is appended when the day has them already.
    pub async fn write_affirmations(&self, day: NaiveDate) -> Result<(), CommandError> {
        let lane = self.ai_lane(AiFeature::Lens, None).await;
        let (list, usage, answered) = self.gateway.affirmations_on(lane).await;
        self.ai_spent(AiFeature::Lens, None, lane, usage, answered).await;
        let month = day.format("%Y-%m").to_string();
        let ctx = CommandContext::new(UserId(Uuid::nil()));
        let cmd = AiMonthCommand::WriteAffirmations {
            month: month.clone(),
            day: day.format("%Y-%m-%d").to_string(),
            affirmations: list,
            source: if answered == prism_ai_gateway::http::Answered::Model {
                "model"
            } else {
                "templates"
            }
            .into(),
        };
        self.execute::<AiMonth>(&ctx, month_id(&month), None, cmd)
            .await
            .map(|_| ())
    }
}
