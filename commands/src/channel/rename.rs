use prism_domain::aggregates::ChannelCommand;
use prism_domain::values::ChannelName;
use prism_domain::ChannelId;

use crate::pipeline::{Decision, Effects};
use crate::{valid, CommandContext, CommandError, Commands, Outcome};

impl Commands {
    /// `PATCH /v1/channels/{id}`: admins and owners; the old name is freed, the new one claimed.
    pub async fn rename_channel(
        &self,
        ctx: &CommandContext,
        id: ChannelId,
        name: &str,
    ) -> Result<Outcome, CommandError> {
        let name = valid(ChannelName::parse(name))?;
        self.run(ctx, Some(id.0), || async {
            let (ch, role, g) = self.channel_and_role(ctx, id).await?;
            let ws = ch.state.workspace_id;
            let mut effects = Effects::default().guarded([g]);
            if ch.state.name != name.as_str() {
                effects.releases.push(super::name_claim(ws, &ch.state.name));
                effects.claims.push(super::name_claim(ws, name.as_str()));
            }
            let cmd = ChannelCommand::Rename {
                actor: ctx.actor.user_id,
                role,
                name: name.clone(),
            };
            self.decide(ctx, Decision::new(id.0, Some(ws.0), ch, cmd).with(effects))
                .await
        })
        .await
    }
}
