use prism_domain::aggregates::{Workspace, WorkspaceCommand};
use prism_domain::values::WorkspaceName;
use prism_domain::WorkspaceId;

use crate::pipeline::Decision;
use crate::{valid, CommandContext, CommandError, Commands, Outcome};

impl Commands {
    /// `PATCH /v1/workspaces/{id}`: admins and owners.
    pub async fn rename_workspace(
        &self,
        ctx: &CommandContext,
        id: WorkspaceId,
        name: &str,
    ) -> Result<Outcome, CommandError> {
        let name = valid(WorkspaceName::parse(name))?;
        self.run(ctx, Some(id.0), || async {
            let ws = self.load::<Workspace>(id.0).await?;
            let cmd = WorkspaceCommand::Rename {
                actor: ctx.actor.user_id,
                name: name.clone(),
            };
            self.decide(ctx, Decision::new(id.0, Some(id.0), ws, cmd)).await
        })
        .await
    }
}
