use prism_domain::aggregates::DocCommand;
use prism_domain::DocId;

use crate::pipeline::{Decision, Effects};
use crate::{CommandContext, CommandError, Commands, Outcome};

impl Commands {
    /// `POST /v1/docs/{id}/archive` (`archive = true`) and `/restore` (`false`): members.
    pub async fn archive_doc(&self, ctx: &CommandContext, id: DocId, archive: bool) -> Result<Outcome, CommandError> {
        self.run(ctx, Some(id.0), || async {
            let (doc, role, g) = self.doc_and_role(ctx, id).await?;
            let ws = doc.state.workspace_id;
            let actor = ctx.actor.user_id;
            let cmd = if archive {
                DocCommand::Archive { actor, role }
            } else {
                DocCommand::Restore { actor, role }
            };
            self.decide(
                ctx,
                Decision::new(id.0, Some(ws.0), doc, cmd)
                    .with(Effects::default().guarded([g]).with("archived", archive)),
            )
            .await
        })
        .await
    }
}
