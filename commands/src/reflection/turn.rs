use prism_domain::aggregates::{Turn, TurnCommand};
use prism_domain::values::JournalText;
use prism_domain::TurnId;
use prism_vault::Scope;
use serde_json::json;

use super::{AiFeature, Feature};
use crate::pipeline::{Decision, Effects};
use crate::{valid, CommandContext, CommandError, Commands, Outcome};

impl Commands {
    /// `POST /v1/turns`: 201 with three reframes and a micro-action; or, when the safety gate
    /// fires, 200 with `crisis: true` and the configured resources, nothing reframed, nothing
    /// of the text kept, and no allowance charged. The text and the reframes are sealed with
    /// the author's key before they enter the log.
    pub async fn request_turn(&self, ctx: &CommandContext, text: &str) -> Result<Outcome, CommandError> {
        let text = valid(JournalText::parse(text))?;
        self.idempotent(ctx, || async {
            let id = TurnId::new();
            let me = ctx.actor.user_id;
            // One deadline for every model call this request makes (the gate's reading, the reframes).
            let deadline = self.gateway.deadline();
            let (gate, second) = self.safety_gate(me, text.as_str(), deadline).await;
            if gate.is_crisis() {
                let request = TurnCommand::Request {
                    id,
                    owner: me,
                    text: text.clone(),
                    stored: String::new(),
                    reframe: None,
                    second,
                };
                return self
                    .decide(
                        ctx,
                        Decision::<Turn>::new(id.0, None, Default::default(), request).with(self.crisis_effects()),
                    )
                    .await;
            }
            self.charged(me, Feature::Turn, |charge| async move {
                let lane = self.ai_lane(AiFeature::Turn, Some(me)).await;
                let (r, usage, answered) = self.gateway.reframe_on(lane, text.as_str(), None, deadline).await;
                self.meter(charge, usage, answered).await;
                self.ai_spent(AiFeature::Turn, Some(me), lane, usage, answered).await;
                let [stored, a, b, c, micro] = self
                    .vault
                    .seal_all(
                        Scope::user(me),
                        [
                            text.as_str(),
                            &r.reframes[0],
                            &r.reframes[1],
                            &r.reframes[2],
                            &r.micro_action,
                        ],
                    )
                    .await?;
                // The request and its reframes in one append.
                let request = TurnCommand::Request {
                    id,
                    owner: me,
                    text: text.clone(),
                    stored,
                    reframe: Some(([a, b, c], micro)),
                    second: None,
                };
                let effects = self
                    .checked_in(&gate, Effects::created())
                    .with("crisis", false)
                    .with("reframes", json!(r.reframes))
                    .with("micro_action", r.micro_action);
                self.decide(
                    ctx,
                    Decision::<Turn>::new(id.0, None, Default::default(), request).with(effects),
                )
                .await
            })
            .await
        })
        .await
    }

    /// `POST /v1/turns/{id}/save`: the author only (anyone else: 404).
    pub async fn save_turn(&self, ctx: &CommandContext, id: TurnId) -> Result<Outcome, CommandError> {
        let cmd = TurnCommand::Save {
            actor: ctx.actor.user_id,
        };
        self.execute::<Turn>(ctx, id.0, None, cmd).await
    }

    /// `check_in: {message, resources}` beside the reframes when the gate read despair but no
    /// risk now (a concern): the person is asked gently, and shown where help is.
    pub(crate) fn checked_in(&self, gate: &prism_domain::safety::Assessment, effects: Effects) -> Effects {
        if !gate.check_in() {
            return effects;
        }
        effects.with(
            "check_in",
            json!({"message": super::CHECK_IN, "resources": *self.crisis_resources}),
        )
    }

    /// The crisis answer: 200, `crisis: true` and the resources.
    pub(crate) fn crisis_effects(&self) -> Effects {
        Effects::default()
            .with("crisis", true)
            .with("resources", json!(*self.crisis_resources))
    }
}
