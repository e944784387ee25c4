use prism_domain::aggregates::{Workspace, WorkspaceCommand};
use prism_domain::WorkspaceId;

use crate::pipeline::{Decision, Effects};
use crate::{CommandContext, CommandError, Commands, Outcome};

impl Commands {
    /// `POST /v1/workspaces/{id}/join`: any user with the current join code becomes a member.
    pub async fn join_workspace(
        &self,
        ctx: &CommandContext,
        id: WorkspaceId,
        code: &str,
    ) -> Result<Outcome, CommandError> {
        self.run(ctx, Some(id.0), || async {
            let ws = self.load::<Workspace>(id.0).await?;
            let cmd = WorkspaceCommand::Join {
                actor: ctx.actor.user_id,
                code: code.to_owned(),
            };
            self.decide(
                ctx,
                Decision::new(id.0, Some(id.0), ws, cmd).with(Effects::default().with("role", "member")),
            )
            .await
        })
        .await
    }
}
