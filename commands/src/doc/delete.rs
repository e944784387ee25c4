use prism_domain::aggregates::DocCommand;
use prism_domain::DocId;

use crate::pipeline::{Decision, Effects};
use crate::{CommandContext, CommandError, Commands, Outcome};

impl Commands {
    /// `DELETE /v1/docs/{id}`: its author, an admin or an owner.
    pub async fn delete_doc(&self, ctx: &CommandContext, id: DocId) -> Result<Outcome, CommandError> {
        self.run(ctx, Some(id.0), || async {
            let (doc, role, g) = self.doc_and_role(ctx, id).await?;
            let ws = doc.state.workspace_id;
            let cmd = DocCommand::Delete {
                actor: ctx.actor.user_id,
                role,
            };
            self.decide(
                ctx,
                Decision::new(id.0, Some(ws.0), doc, cmd).with(Effects::default().guarded([g])),
            )
            .await
        })
        .await
    }
}
