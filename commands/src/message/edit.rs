use prism_domain::aggregates::{Message, MessageCommand};
use prism_domain::values::MessageBody;
use prism_domain::{DomainError, MessageId};

use crate::pipeline::{Decision, Effects};
use crate::{valid, CommandContext, CommandError, Commands, Outcome};

impl Commands {
    /// `PATCH /v1/messages/{id}`: its author, while still a member.
    pub async fn edit_message(&self, ctx: &CommandContext, id: MessageId, body: &str) -> Result<Outcome, CommandError> {
        let body = valid(MessageBody::parse(body))?;
        self.run(ctx, Some(id.0), || async {
            let msg = self.load::<Message>(id.0).await?;
            if !msg.exists() {
                return Err(DomainError::NotFound("message").into());
            }
            let (ws, role, guards) = self.posting_role(ctx, msg.state.channel_id).await?;
            let cmd = MessageCommand::Edit {
                actor: ctx.actor.user_id,
                role,
                body: body.clone(),
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
