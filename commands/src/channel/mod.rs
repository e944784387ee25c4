//! Channel commands. Roles come from the `Workspace` aggregate, caught up with the log;
//! "unique names per workspace" is a claim in the uniqueness table, in the same transaction.

mod create;
mod delete;
mod rename;

use prism_domain::aggregates::{Channel, Workspace};
use prism_domain::{ChannelId, DomainError, Role, WorkspaceId};
use prism_event_store::{Claim, Loaded};

use crate::pipeline::{guard, Guard};
use crate::{ActorKind, CommandContext, CommandError, Commands};

pub(crate) fn name_claim(ws: WorkspaceId, name: &str) -> Claim {
    Claim::new("channel_name", format!("{ws}/{name}"))
}

impl Commands {
    /// The caller's role in a workspace, from the workspace's own state (cached), with a guard
    /// so the append fails, and the command is decided again, if that state has moved since.
    pub(crate) async fn role_in(
        &self,
        ctx: &CommandContext,
        ws: WorkspaceId,
    ) -> Result<(Option<Role>, Guard), CommandError> {
        let loaded = self.load::<Workspace>(ws.0).await?;
        let role = match ctx.actor.kind {
            ActorKind::User => loaded.state.role_of(ctx.actor.user_id),
            // Another workspace's key is no one here.
            ActorKind::ApiKey { workspace } if workspace == ws => loaded.state.key_role(ctx.actor.user_id.0),
            ActorKind::ApiKey { .. } | ActorKind::System => None,
        };
        Ok((role, guard(ws.0, &loaded)))
    }

    /// A channel that exists, with the caller's role in its workspace (as `doc_and_role`).
    pub(crate) async fn channel_and_role(
        &self,
        ctx: &CommandContext,
        id: ChannelId,
    ) -> Result<(Loaded<Channel>, Option<Role>, Guard), CommandError> {
        let ch = self.load::<Channel>(id.0).await?;
        if ch.state.id.is_none() {
            return Err(DomainError::NotFound("channel").into());
        }
        let (role, g) = self.role_in(ctx, ch.state.workspace_id).await?;
        Ok((ch, role, g))
    }
}
