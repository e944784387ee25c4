use prism_domain::aggregates::{Message, MessageCommand};
use prism_domain::{DomainError, MessageId};

use crate::pipeline::{Decision, Effects};
use crate::{CommandContext, CommandError, Commands, Outcome};

impl Commands {
    /// `DELETE /v1/messages/{id}`: its author, an admin or an owner.
    pub async fn delete_message(&self, ctx: &CommandContext, id: MessageId) -> Result<Outcome, CommandError> {
        self.run(ctx, Some(id.0), || async {
            let msg = self.load::<Message>(id.0).await?;
            if !msg.exists() {
                return Err(DomainError::NotFound("message").into());
            }
            let (ws, role, guards) = self.posting_role(ctx, msg.state.channel_id).await?;
            let cmd = MessageCommand::Delete {
                actor: ctx.actor.user_id,
                role,
            };
            self.decide(
                ctx,
                Decision::new(id.0, Some(ws.0), msg, cmd).with(Effects::default().guarded(guards)),
            )
            .await
        })
        .await
    }
}
