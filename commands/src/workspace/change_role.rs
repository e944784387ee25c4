use prism_domain::aggregates::{Workspace, WorkspaceCommand};
use prism_domain::{Role, UserId, WorkspaceId};

use crate::pipeline::{Decision, Effects};
use crate::{valid, CommandContext, CommandError, Commands, Outcome};

impl Commands {
    /// `PATCH /v1/workspaces/{id}/members/{user_id}`: admins and owners; only owners grant or
    /// revoke owner; a workspace keeps at least one owner.
    pub async fn change_role(
        &self,
        ctx: &CommandContext,
        id: WorkspaceId,
        member: UserId,
        role: &str,
    ) -> Result<Outcome, CommandError> {
        let role = valid(Role::parse(role))?;
        self.run(ctx, Some(id.0), || async {
            let ws = self.load::<Workspace>(id.0).await?;
            let cmd = WorkspaceCommand::ChangeRole {
                actor: ctx.actor.user_id,
                member,
                role,
            };
            self.decide(
                ctx,
                Decision::new(id.0, Some(id.0), ws, cmd).with(Effects::default().with("role", role.as_str())),
            )
            .await
        })
        .await
    }
}
