//! Message commands. A message lives in a channel or a direct conversation; who may post or
//! act there is decided from the channel (or conversation) and the workspace aggregates, which
//! guard the append (see `pipeline::Guard`).

mod delete;
mod edit;
mod post;
mod react;

use prism_domain::aggregates::{Channel, Conversation};
use prism_domain::{DomainError, Role, WorkspaceId};
use uuid::Uuid;

use crate::pipeline::{guard, Guard};
use crate::{CommandContext, CommandError, Commands};

impl Commands {
    /// The workspace of a channel or conversation, the caller's role for posting there (`None`
    /// outside the workspace, or outside a conversation it is not part of), and the guards.
    pub(crate) async fn posting_role(
        &self,
        ctx: &CommandContext,
        target: Uuid,
    ) -> Result<(WorkspaceId, Option<Role>, Vec<Guard>), CommandError> {
        let ch = self.load::<Channel>(target).await?;
        if ch.exists() {
            if !ch.state.is_open() {
                return Err(DomainError::NotFound("channel").into());
            }
            let ws = ch.state.workspace_id;
            let (role, g) = self.role_in(ctx, ws).await?;
            return Ok((ws, role, vec![guard(target, &ch), g]));
        }
        // Conversations never change once started: no guard needed on them.
        let conv = self.load::<Conversation>(target).await?;
        if conv.exists() {
            let ws = conv.state.workspace_id;
            let (role, g) = self.role_in(ctx, ws).await?;
            let role = if conv.state.includes(ctx.actor.user_id) {
                role
            } else {
                None
            };
            return Ok((ws, role, vec![g]));
        }
        Err(DomainError::NotFound("channel").into())
    }
}
