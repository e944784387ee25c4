use prism_domain::aggregates::{Workspace, WorkspaceCommand};
use prism_domain::WorkspaceId;

use crate::pipeline::Decision;
use crate::{CommandContext, CommandError, Commands, Outcome};

impl Commands {
    /// `DELETE /v1/workspaces/{id}`: owners only.
    pub async fn delete_workspace(&self, ctx: &CommandContext, id: WorkspaceId) -> Result<Outcome, CommandError> {
        self.run(ctx, Some(id.0), || async {
            let ws = self.load::<Workspace>(id.0).await?;
            let cmd = WorkspaceCommand::Delete {
                actor: ctx.actor.user_id,
            };
            self.decide(ctx, Decision::new(id.0, Some(id.0), ws, cmd)).await
        })
        .await
    }
}
