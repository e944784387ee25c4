use prism_domain::aggregates::{Channel, ChannelCommand};
use prism_domain::values::ChannelName;
use prism_domain::{ChannelId, WorkspaceId};

use crate::pipeline::{Decision, Effects};
use crate::{valid, CommandContext, CommandError, Commands, Outcome};

impl Commands {
    /// `POST /v1/workspaces/{id}/channels`: admins and owners; names are unique per workspace.
    pub async fn create_channel(
        &self,
        ctx: &CommandContext,
        ws: WorkspaceId,
        name: &str,
    ) -> Result<Outcome, CommandError> {
        let name = valid(ChannelName::parse(name))?;
        self.run(ctx, None, || async {
            let (role, g) = self.role_in(ctx, ws).await?;
            let id = ChannelId::new();
            let claim = super::name_claim(ws, name.as_str());
            let cmd = ChannelCommand::Create {
                id,
                workspace_id: ws,
                name: name.clone(),
                actor: ctx.actor.user_id,
                role,
            };
            let effects = Effects {
                claims: vec![claim],
                ..Effects::created()
            }
            .guarded([g]);
            self.decide(
                ctx,
                Decision::<Channel>::new(id.0, Some(ws.0), Default::default(), cmd).with(effects),
            )
            .await
        })
        .await
    }
}
