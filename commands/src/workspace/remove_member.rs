use prism_domain::aggregates::{Workspace, WorkspaceCommand};
use prism_domain::{UserId, WorkspaceId};

use crate::pipeline::Decision;
use crate::{CommandContext, CommandError, Commands, Outcome};

impl Commands {
    /// `DELETE /v1/workspaces/{id}/members/{user_id}`: admins and owners remove others; any
    /// member may leave (but not the last owner).
    pub async fn remove_member(
        &self,
        ctx: &CommandContext,
        id: WorkspaceId,
        member: UserId,
    ) -> Result<Outcome, CommandError> {
        self.run(ctx, Some(id.0), || async {
            let ws = self.load::<Workspace>(id.0).await?;
            let cmd = WorkspaceCommand::RemoveMember {
                actor: ctx.actor.user_id,
                member,
            };
            self.decide(ctx, Decision::new(id.0, Some(id.0), ws, cmd)).await
        })
        .await
    }
}
