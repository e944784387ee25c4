use prism_domain::aggregates::{Workspace, WorkspaceCommand};
use prism_domain::values::{JoinCode, WorkspaceName};
use prism_domain::WorkspaceId;

use crate::pipeline::{Decision, Effects};
use crate::{valid, CommandContext, CommandError, Commands, Outcome};

impl Commands {
    /// `POST /v1/workspaces`: any user; the creator becomes its owner. Answers the join code.
    pub async fn create_workspace(&self, ctx: &CommandContext, name: &str) -> Result<Outcome, CommandError> {
        let name = valid(WorkspaceName::parse(name))?;
        self.idempotent(ctx, || async {
            let id = WorkspaceId::new();
            let code = prism_auth::join_code();
            let cmd = WorkspaceCommand::Create {
                id,
                name,
                owner: ctx.actor.user_id,
                join_code: JoinCode::from_generated(code.clone()),
            };
            // A new id: nothing to load.
            let fresh = Default::default();
            self.decide(
                ctx,
                Decision::<Workspace>::new(id.0, Some(id.0), fresh, cmd)
                    .with(Effects::created().with("join_code", code)),
            )
            .await
        })
        .await
    }
}
