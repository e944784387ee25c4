use prism_domain::aggregates::{Message, MessageCommand};
use prism_domain::values::MessageBody;
use prism_domain::{DomainError, MessageId};
use uuid::Uuid;

use crate::pipeline::{Decision, Effects};
use crate::{valid, CommandContext, CommandError, Commands, Outcome};

impl Commands {
    /// `POST /v1/channels/{id}/messages` (also for a conversation's id): members; a reply's
    /// parent must be a live message of the same channel. The hot path: with the channel and
    /// workspace cached, the only round trip is the (group-committed) append.
    pub async fn post_message(
        &self,
        ctx: &CommandContext,
        target: Uuid,
        body: &str,
        parent: Option<MessageId>,
    ) -> Result<Outcome, CommandError> {
        self.post_message_with(ctx, target, body, parent, &[]).await
    }

    /// `post_message` with `attachments`: files the author uploaded to the workspace.
    pub async fn post_message_with(
        &self,
        ctx: &CommandContext,
        target: Uuid,
        body: &str,
        parent: Option<MessageId>,
        attachments: &[Uuid],
    ) -> Result<Outcome, CommandError> {
        let body = valid(MessageBody::parse(body))?;
        self.run(ctx, None, || async {
            let (ws, role, guards) = self.posting_role(ctx, target).await?;
            if let (Some(parent), Some(_)) = (parent, role) {
                let p = self.load::<Message>(parent.0).await?;
                if !p.state.is_live() || p.state.channel_id != target {
                    return Err(
                        DomainError::rule("invalid_parent", "parent_id must be a message of the same channel").into(),
                    );
                }
            }
            // In a conversation there is no one else to mention (and whom it names stays in it).
            let in_channel = || async {
                Ok::<_, CommandError>(self.load::<prism_domain::aggregates::Channel>(target).await?.exists())
            };
            let mentions = if body.as_str().contains('@') && in_channel().await? {
                self.mentions(ws, body.as_str(), ctx.actor.user_id).await?
            } else {
                Vec::new()
            };
            let attachments = if attachments.is_empty() {
                Vec::new()
            } else {
                self.attachments(ctx, ws, attachments, &[]).await?
            };
            let id = MessageId::new();
            let cmd = MessageCommand::Post {
                id,
                workspace_id: ws,
                channel_id: target,
                author: ctx.actor.user_id,
                role,
                body: body.clone(),
                parent_id: parent,
                mentions,
                attachments,
            };
            self.decide(
                ctx,
                Decision::<Message>::new(id.0, Some(ws.0), Default::default(), cmd)
                    .with(Effects::created().guarded(guards)),
            )
            .await
        })
        .await
    }
}
