use prism_domain::aggregates::{Message, MessageCommand};
use prism_domain::values::Emoji;
use prism_domain::{DomainError, MessageId};

use crate::pipeline::{Decision, Effects};
use crate::{valid, CommandContext, CommandError, Commands, Outcome};

impl Commands {
    /// `POST /v1/messages/{id}/reactions`: members toggle an emoji; answers `added`.
    /// Safe to re-decide on a conflict: the toggle is decided on the state it lands on.
    pub async fn toggle_reaction(
        &self,
        ctx: &CommandContext,
        id: MessageId,
        emoji: &str,
    ) -> Result<Outcome, CommandError> {
        let emoji = valid(Emoji::parse(emoji))?;
        self.run(ctx, Some(id.0), || async {
            let msg = self.load::<Message>(id.0).await?;
            if !msg.exists() {
                return Err(DomainError::NotFound("message").into());
            }
            let (ws, role, guards) = self.posting_role(ctx, msg.state.channel_id).await?;
            let already = msg
                .state
                .reactions
                .get(emoji.as_str())
                .is_some_and(|who| who.contains(&ctx.actor.user_id));
            let cmd = MessageCommand::ToggleReaction {
                actor: ctx.actor.user_id,
                role,
                emoji: emoji.clone(),
            };
            self.decide(
                ctx,
                Decision::new(id.0, Some(ws.0), msg, cmd)
                    .with(Effects::default().guarded(guards).with("added", !already)),
            )
            .await
        })
        .await
    }
}
