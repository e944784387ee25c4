use prism_domain::aggregates::{Doc, DocCommand};
use prism_domain::values::{DocBody, DocTitle};
use prism_domain::{DocId, WorkspaceId};

use crate::pipeline::{Decision, Effects};
use crate::{valid, CommandContext, CommandError, Commands, Outcome};

impl Commands {
    /// `POST /v1/workspaces/{id}/docs`: members.
    pub async fn create_doc(
        &self,
        ctx: &CommandContext,
        ws: WorkspaceId,
        title: &str,
        body: &str,
    ) -> Result<Outcome, CommandError> {
        self.create_doc_with(ctx, ws, title, body, &[]).await
    }

    /// `create_doc` with `attachments`: files the author uploaded to the workspace.
    pub async fn create_doc_with(
        &self,
        ctx: &CommandContext,
        ws: WorkspaceId,
        title: &str,
        body: &str,
        attachments: &[uuid::Uuid],
    ) -> Result<Outcome, CommandError> {
        let title = valid(DocTitle::parse(title))?;
        let body = valid(DocBody::parse(body))?;
        self.run(ctx, None, || async {
            let (role, g) = self.role_in(ctx, ws).await?;
            let mentions = self.mentions(ws, body.as_str(), ctx.actor.user_id).await?;
            let attachments = self.attachments(ctx, ws, attachments, &[]).await?;
            let id = DocId::new();
            let cmd = DocCommand::Create {
                id,
                workspace_id: ws,
                actor: ctx.actor.user_id,
                role,
                title: title.clone(),
                body: body.clone(),
                mentions,
                attachments,
            };
            self.decide(
                ctx,
                Decision::<Doc>::new(id.0, Some(ws.0), Default::default(), cmd).with(Effects::created().guarded([g])),
            )
            .await
        })
        .await
    }
}
