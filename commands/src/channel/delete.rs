use prism_domain::aggregates::ChannelCommand;
use prism_domain::ChannelId;

use crate::pipeline::{Decision, Effects};
use crate::{CommandContext, CommandError, Commands, Outcome};

impl Commands {
    /// `DELETE /v1/channels/{id}`: admins and owners; the name becomes free again.
    pub async fn delete_channel(&self, ctx: &CommandContext, id: ChannelId) -> Result<Outcome, CommandError> {
        self.run(ctx, Some(id.0), || async {
            let (ch, role, g) = self.channel_and_role(ctx, id).await?;
            let ws = ch.state.workspace_id;
            let effects = Effects {
                releases: vec![super::name_claim(ws, &ch.state.name)],
                ..Default::default()
            }
            .guarded([g]);
            let cmd = ChannelCommand::Delete {
                actor: ctx.actor.user_id,
                role,
            };
            self.decide(ctx, Decision::new(id.0, Some(ws.0), ch, cmd).with(effects))
                .await
        })
        .await
    }
}
