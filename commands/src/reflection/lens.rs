//! Lens goals: a goal, the small actions toward it, each completed once. Titles are sealed with
//! the owner's key.

use prism_domain::aggregates::{LensGoal, LensGoalCommand as C};
use prism_domain::values::GoalTitle;
use prism_domain::{DomainError, LensGoalId};
use prism_event_store::Claim;
use prism_vault::Scope;
use serde_json::json;
use uuid::Uuid;

use crate::pipeline::Effects;
use crate::{valid, CommandContext, CommandError, Commands, Outcome};

/// The uniqueness scope that maps an action id to its goal.
const ACTION: &str = "lens_action";

impl Commands {
    /// `POST /v1/lens/goals`: 201.
    pub async fn create_goal(&self, ctx: &CommandContext, title: &str) -> Result<Outcome, CommandError> {
        let title = valid(GoalTitle::parse(title))?;
        self.idempotent(ctx, || async {
            let id = LensGoalId::new();
            let owner = ctx.actor.user_id;
            let title = self.vault.seal(Scope::user(owner), title.as_str()).await?;
            self.create::<LensGoal>(ctx, id.0, None, C::Create { id, owner, title }, Effects::created())
                .await
        })
        .await
    }

    /// `POST /v1/lens/goals/{id}/actions`: 201 with the action's id.
    pub async fn add_action(
        &self,
        ctx: &CommandContext,
        goal: LensGoalId,
        title: &str,
    ) -> Result<Outcome, CommandError> {
        let title = valid(GoalTitle::parse(title))?;
        self.idempotent(ctx, || async {
            let me = ctx.actor.user_id;
            let action_id = Uuid::now_v7();
            let text = self.vault.seal(Scope::user(me), title.as_str()).await?;
            let effects = Effects {
                claims: vec![Claim::new(ACTION, action_id.to_string())],
                ..Effects::created()
            }
            .with("goal_id", json!(goal.0))
            .answering(action_id);
            let cmd = C::AddAction {
                actor: me,
                action_id,
                text,
            };
            self.execute_with::<LensGoal>(ctx, goal.0, None, cmd, effects).await
        })
        .await
    }

    /// `POST /v1/lens/actions/{id}/complete`: 200; completing twice changes nothing.
    pub async fn complete_action(&self, ctx: &CommandContext, action: Uuid) -> Result<Outcome, CommandError> {
        let goal = self
            .claim_owner(ACTION, &action.to_string())
            .await?
            .ok_or(DomainError::NotFound("action"))?;
        let cmd = C::CompleteAction {
            actor: ctx.actor.user_id,
            action_id: action,
        };
        // The stored first answer says the same as this one: it is written with the events.
        let effects = Effects::default().with("goal_id", json!(goal)).answering(action);
        self.execute_with::<LensGoal>(ctx, goal, None, cmd, effects).await
    }
}
