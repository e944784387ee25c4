//! Message commands. A message lives in a channel or a direct conversation; who may post or
//! act there is decided from the channel (or conversation) and the workspace aggregates.

mod delete;
mod edit;
mod post;
mod react;

use prism_domain::aggregates::{Channel, Conversation};
use prism_domain::{DomainError, Role, WorkspaceId};
use uuid::Uuid;

use crate::{CommandContext, CommandError, Commands};

impl Commands {
    /// The workspace of a channel or conversation, and the caller's role for posting there
    /// (`None` outside the workspace, or outside a conversation it is not part of).
    pub(crate) async fn posting_role(
        &self,
        ctx: &CommandContext,
        target: Uuid,
    ) -> Result<(WorkspaceId, Option<Role>), CommandError> {
        let ch = self.load_fresh::<Channel>(target).await?;
        if ch.exists() {
            if !ch.state.is_open() {
                return Err(DomainError::NotFound("channel").into());
            }
            let ws = ch.state.workspace_id;
            return Ok((ws, self.role_in(ctx, ws).await?));
        }
        // Conversations never change once started: the cached state is the state.
        let conv = self.load::<Conversation>(target).await?;
        if conv.exists() {
            let ws = conv.state.workspace_id;
            let role = if conv.state.includes(ctx.actor.user_id) {
                self.role_in(ctx, ws).await?
            } else {
                None
            };
            return Ok((ws, role));
        }
        Err(DomainError::NotFound("channel").into())
    }
}
