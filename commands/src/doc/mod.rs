//! Doc commands: any member writes, archives and restores; the author, an admin or an owner
//! deletes. Each version is an event, so the doc's history is the log.

mod archive;
mod create;
mod delete;
mod update;

use prism_domain::aggregates::Doc;
use prism_domain::{DocId, DomainError, Role};
use prism_event_store::Loaded;

use crate::pipeline::Guard;
use crate::{CommandContext, CommandError, Commands};

impl Commands {
    /// A doc that exists, with the caller's role in its workspace.
    pub(crate) async fn doc_and_role(
        &self,
        ctx: &CommandContext,
        id: DocId,
    ) -> Result<(Loaded<Doc>, Option<Role>, Guard), CommandError> {
        let doc = self.load::<Doc>(id.0).await?;
        if !doc.exists() {
            return Err(DomainError::NotFound("doc").into());
        }
        let (role, g) = self.role_in(ctx, doc.state.workspace_id).await?;
        Ok((doc, role, g))
    }
}
