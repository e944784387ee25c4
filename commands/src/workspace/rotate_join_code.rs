use prism_domain::aggregates::{Workspace, WorkspaceCommand};
use prism_domain::values::JoinCode;
use prism_domain::WorkspaceId;

use crate::pipeline::{Decision, Effects};
use crate::{CommandContext, CommandError, Commands, Outcome};

impl Commands {
    /// `POST /v1/workspaces/{id}/join-code`: admins and owners get a new code; the old one stops working.
    pub async fn rotate_join_code(&self, ctx: &CommandContext, id: WorkspaceId) -> Result<Outcome, CommandError> {
        self.run(ctx, Some(id.0), || async {
            let ws = self.load::<Workspace>(id.0).await?;
            let code = prism_auth::join_code();
            let cmd = WorkspaceCommand::RotateJoinCode {
                actor: ctx.actor.user_id,
                code: JoinCode::from_generated(code.clone()),
            };
            self.decide(
                ctx,
                Decision::new(id.0, Some(id.0), ws, cmd).with(Effects::default().with("join_code", code)),
            )
            .await
        })
        .await
    }
}
