use prism_domain::aggregates::conversation::pair;
use prism_domain::aggregates::{Conversation, ConversationCommand, Workspace};
use prism_domain::{ConversationId, UserId, WorkspaceId};
use prism_event_store::Claim;

use crate::pipeline::Decision;
use crate::pipeline::{guard, Effects};
use crate::{CommandContext, CommandError, Commands, Happened, Outcome};

impl Commands {
    /// `POST /v1/workspaces/{id}/conversations`: the one conversation of the pair, created on
    /// first use (201) and returned as it is afterwards (200).
    pub async fn start_conversation(
        &self,
        ctx: &CommandContext,
        ws: WorkspaceId,
        other: UserId,
    ) -> Result<Outcome, CommandError> {
        let [a, b] = pair(ctx.actor.user_id, other);
        let claim = Claim::new("conversation", format!("{ws}/{a}/{b}"));
        self.idempotent(ctx, || async {
            let workspace = self.load::<Workspace>(ws.0).await?;
            let g = guard(ws.0, &workspace);
            let actor_role = workspace.state.role_of(ctx.actor.user_id);
            let other_role = workspace.state.role_of(other);
            for attempt in 0..2 {
                if let Some(existing) = self.store.claim_owner(&claim).await? {
                    // Members only: a stranger must not learn that the pair talks.
                    prism_domain::authorize(actor_role, prism_domain::Action::StartConversation)?;
                    let conv = self.load::<Conversation>(existing).await?;
                    return Ok(Outcome::new(Happened::Done, existing, conv.last_position, conv.version));
                }
                let id = ConversationId::new();
                let cmd = ConversationCommand::Start {
                    id,
                    workspace_id: ws,
                    actor: ctx.actor.user_id,
                    actor_role,
                    other,
                    other_role,
                };
                let effects = Effects {
                    claims: vec![claim.clone()],
                    ..Effects::created()
                }
                .guarded([g]);
                match self
                    .decide(
                        ctx,
                        Decision::<Conversation>::new(id.0, Some(ws.0), Default::default(), cmd).with(effects),
                    )
                    .await
                {
                    // Someone started the same pair's conversation at the same moment: use theirs.
                    Err(CommandError::Taken(_)) if attempt == 0 => continue,
                    other => return other,
                }
            }
            Err(CommandError::Conflict {
                expected: None,
                actual: None,
            })
        })
        .await
    }
}
