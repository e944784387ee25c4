use prism_domain::aggregates::{Turn, TurnCommand};
use prism_domain::safety;
use prism_domain::values::JournalText;
use prism_domain::TurnId;
use serde_json::json;

use crate::pipeline::Effects;
use crate::{valid, CommandContext, CommandError, Commands, Outcome};

impl Commands {
    /// `POST /v1/turns`: 201 with three reframes and a micro-action; or, when the safety gate
    /// fires, 200 with `crisis: true` and the configured resources, and nothing reframed.
    pub async fn request_turn(&self, ctx: &CommandContext, text: &str) -> Result<Outcome, CommandError> {
        let text = valid(JournalText::parse(text))?;
        self.idempotent(ctx, || async {
            let id = TurnId::new();
            let me = ctx.actor.user_id;
            if safety::assess(text.as_str()).is_crisis() {
                let request = TurnCommand::Request {
                    id,
                    owner: me,
                    text: text.clone(),
                    reframe: None,
                };
                let effects = Effects {
                    status: Some(200),
                    ..Effects::default()
                }
                .with("crisis", true)
                .with("resources", json!(*self.crisis_resources));
                return self
                    .decide::<Turn>(ctx, id.0, None, Default::default(), request, effects)
                    .await;
            }
            let (r, _usage, _answered) = self.gateway.reframe(text.as_str(), None).await;
            // The request and its reframes in one append.
            let request = TurnCommand::Request {
                id,
                owner: me,
                text: text.clone(),
                reframe: Some((r.reframes.clone(), r.micro_action.clone())),
            };
            let effects = Effects::created()
                .with("crisis", false)
                .with("reframes", json!(r.reframes))
                .with("micro_action", r.micro_action);
            self.decide::<Turn>(ctx, id.0, None, Default::default(), request, effects)
                .await
        })
        .await
    }

    /// `POST /v1/turns/{id}/save`: the author only (anyone else: 404).
    pub async fn save_turn(&self, ctx: &CommandContext, id: TurnId) -> Result<Outcome, CommandError> {
        self.idempotent(ctx, || {
            self.execute::<Turn>(
                ctx,
                id.0,
                None,
                TurnCommand::Save {
                    actor: ctx.actor.user_id,
                },
            )
        })
        .await
    }
}
