use prism_domain::aggregates::DocCommand;
use prism_domain::values::{DocBody, DocTitle};
use prism_domain::DocId;

use crate::pipeline::{Decision, Effects};
use crate::{valid, CommandContext, CommandError, Commands, Outcome};

impl Commands {
    /// `PATCH /v1/docs/{id}`: members; `If-Match` makes a stale edit a 412 instead of last-writer-wins.
    pub async fn update_doc(
        &self,
        ctx: &CommandContext,
        id: DocId,
        title: Option<&str>,
        body: Option<&str>,
    ) -> Result<Outcome, CommandError> {
        self.update_doc_with(ctx, id, title, body, None).await
    }

    /// `update_doc` that may also set the doc's files (`attachments`: the whole list from now
    /// on; files already on the doc stay allowed whoever uploaded them).
    pub async fn update_doc_with(
        &self,
        ctx: &CommandContext,
        id: DocId,
        title: Option<&str>,
        body: Option<&str>,
        attachments: Option<&[uuid::Uuid]>,
    ) -> Result<Outcome, CommandError> {
        let title = title.map(DocTitle::parse).transpose();
        let title = valid(title)?;
        let body = valid(body.map(DocBody::parse).transpose())?;
        self.run(ctx, Some(id.0), || async {
            let (doc, role, g) = self.doc_and_role(ctx, id).await?;
            let ws = doc.state.workspace_id;
            // Only people the new body names and the current one did not are notified.
            let mentions = match &body {
                Some(b) => {
                    let me = ctx.actor.user_id;
                    let before = self.mentions(ws, &doc.state.body, me).await?;
                    let mut now = self.mentions(ws, b.as_str(), me).await?;
                    now.retain(|u| !before.contains(u));
                    now
                }
                None => Vec::new(),
            };
            let attachments = match attachments {
                Some(a) => Some(self.attachments(ctx, ws, a, &doc.state.attachments).await?),
                None => None,
            };
            let cmd = DocCommand::Update {
                actor: ctx.actor.user_id,
                role,
                title: title.clone(),
                body: body.clone(),
                mentions,
                attachments,
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
