//! Files: `POST /v1/workspaces/{id}/files` (a member uploads; the bytes are stored before the
//! event that names them, so the log never points at bytes that are not there), the checks on
//! `attachments` of messages and docs, and what an erasure does to a person's files.

use prism_blobs::{BlobError, Blobs, Staged};
use prism_domain::aggregates::file::Upload;
use prism_domain::aggregates::{File, FileCommand};
use prism_domain::values::{FileName, MAX_ATTACHMENTS};
use prism_domain::{DomainError, FileId, UserId, WorkspaceId};
use serde_json::json;
use uuid::Uuid;

use crate::pipeline::{Decision, Effects};
use crate::{valid, CommandContext, CommandError, Commands, Outcome};

impl From<BlobError> for CommandError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::TooLarge { limit } => CommandError::TooLarge(format!("a file may be at most {limit} bytes")),
            BlobError::Empty => DomainError::invalid("file", "is empty").into(),
            BlobError::Body(m) => DomainError::invalid("file", format!("the upload broke off: {m}")).into(),
            e => CommandError::Unavailable(e.to_string()),
        }
    }
}

impl Commands {
    /// The object store of file bytes (a local directory unless configured).
    pub fn blobs(&self) -> Result<&Blobs, CommandError> {
        self.blobs
            .as_ref()
            .ok_or_else(|| CommandError::Unavailable("no file store is configured".into()))
    }

    /// May the caller upload to `ws`? Asked before the body is read, so that no one outside a
    /// workspace makes the node stream and store their bytes.
    pub async fn may_upload(&self, ctx: &CommandContext, ws: WorkspaceId) -> Result<(), CommandError> {
        self.blobs()?;
        let (role, _) = self.role_in(ctx, ws).await?;
        prism_domain::policy::authorize(role, prism_domain::policy::Action::PostMessage)?;
        Ok(())
    }

    /// Stores `staged` and appends `file.uploaded`; answers `{id, name, size, media_type, sha256}`.
    pub async fn upload_file(
        &self,
        ctx: &CommandContext,
        ws: WorkspaceId,
        name: &str,
        staged: Staged,
    ) -> Result<Outcome, CommandError> {
        let name = valid(FileName::parse(name))?;
        let blobs = self.blobs()?;
        self.run(ctx, None, || async {
            let (role, g) = self.role_in(ctx, ws).await?;
            prism_domain::policy::authorize(role, prism_domain::policy::Action::PostMessage)?;
            blobs.commit(&staged).await?;
            let id = FileId::new();
            let upload = Upload {
                name: name.clone(),
                size: staged.size,
                media_type: staged.media_type.clone(),
                sha256: staged.sha256.clone(),
            };
            let cmd = FileCommand::Upload {
                id,
                workspace_id: ws,
                actor: ctx.actor.user_id,
                role,
                upload,
            };
            let effects = Effects::created()
                .guarded([g])
                .with("name", json!(name.as_str()))
                .with("size", json!(staged.size))
                .with("media_type", json!(staged.media_type))
                .with("sha256", json!(staged.sha256));
            self.decide(
                ctx,
                Decision::<File>::new(id.0, Some(ws.0), Default::default(), cmd).with(effects),
            )
            .await
        })
        .await
    }

    /// Checks `ids` as the attachments of something in `ws` the caller writes: at most
    /// [`MAX_ATTACHMENTS`], each a live file of `ws` that the caller uploaded — or one already
    /// on it (`kept`). Answers them in the order given, without repeats.
    pub(crate) async fn attachments(
        &self,
        ctx: &CommandContext,
        ws: WorkspaceId,
        ids: &[Uuid],
        kept: &[FileId],
    ) -> Result<Vec<FileId>, CommandError> {
        // Counted before anything else: a body may name thousands.
        if ids.len() > MAX_ATTACHMENTS {
            return Err(DomainError::invalid("attachments", format!("at most {MAX_ATTACHMENTS} files")).into());
        }
        let mut out: Vec<FileId> = Vec::with_capacity(ids.len());
        for id in ids {
            if !out.iter().any(|f| f.0 == *id) {
                out.push(FileId(*id));
            }
        }
        for f in &out {
            if kept.contains(f) {
                continue;
            }
            let file = self.load::<File>(f.0).await?;
            let ok =
                file.state.is_live() && file.state.workspace_id == ws && file.state.uploaded_by == ctx.actor.user_id;
            if !ok {
                return Err(DomainError::rule(
                    "invalid_attachment",
                    format!("{} is not a file you uploaded to this workspace", f.0),
                )
                .into());
            }
        }
        Ok(out)
    }

    /// At erasure: `user`'s files attached to nothing live are deleted (`file.deleted`), and
    /// their bytes with them unless another live file has the same content.
    ///
    /// What shows a file is read from the log itself, not a read model that may lag (an
    /// attachment made a moment before counts): a live message, or a live doc that ever had
    /// it, in a workspace that is not deleted. Erasure is rare; this reads that workspace's
    /// events that carry attachments.
    pub(crate) async fn erase_files(&self, ctx: &CommandContext, user: UserId) -> Result<(), CommandError> {
        let unshared: Vec<(Uuid, Uuid, String)> = sqlx::query_as(
            "SELECT e.aggregate_id, (e.payload->>'workspace_id')::uuid, e.payload->>'sha256' FROM events e
              WHERE e.aggregate_type = 'file' AND e.event_type = 'file.uploaded' AND e.payload->>'uploaded_by' = $1::text
                AND NOT EXISTS (SELECT 1 FROM events d WHERE d.aggregate_type = 'file' AND d.aggregate_id = e.aggregate_id
                                                        AND d.event_type = 'file.deleted')
                AND NOT EXISTS (
                    SELECT 1 FROM events s
                     WHERE s.tenant_id = e.tenant_id
                       AND s.event_type IN ('message.created', 'doc.created', 'doc.updated')
                       AND s.payload->'attachments' @> jsonb_build_array(e.aggregate_id::text)
                       AND NOT EXISTS (SELECT 1 FROM events d WHERE d.aggregate_type = s.aggregate_type AND d.aggregate_id = s.aggregate_id
                                                               AND d.event_type IN ('message.deleted', 'doc.deleted'))
                       AND NOT EXISTS (SELECT 1 FROM events w WHERE w.aggregate_type = 'workspace'
                                                               AND w.aggregate_id = e.tenant_id
                                                               AND w.event_type = 'workspace.deleted'))",
        )
        .bind(user.0.to_string())
        .fetch_all(self.store.pool())
        .await?;
        // Not under the erasure's Idempotency-Key or If-Match: those answer the erasure.
        let mut ctx = ctx.clone();
        ctx.idempotency = None;
        ctx.expected = crate::Expected::Current;
        let ctx = &ctx;
        for (file, ws, sha256) in unshared {
            let cmd = FileCommand::Delete {
                reason: "its uploader's account was erased".into(),
            };
            let loaded = self.load::<File>(file).await?;
            self.decide(ctx, Decision::new(file, Some(ws), loaded, cmd)).await?;
            let still_used: Option<i32> = sqlx::query_scalar(
                "SELECT 1 FROM events e WHERE e.aggregate_type = 'file' AND e.event_type = 'file.uploaded'
                    AND e.payload->>'sha256' = $1
                    AND NOT EXISTS (SELECT 1 FROM events d WHERE d.aggregate_type = 'file' AND d.aggregate_id = e.aggregate_id
                                                            AND d.event_type = 'file.deleted')
                  LIMIT 1",
            )
            .bind(&sha256)
            .fetch_optional(self.store.pool())
            .await?;
            if still_used.is_none() {
                if let Some(blobs) = &self.blobs {
                    blobs.delete(&sha256).await?;
                }
            }
        }
        Ok(())
    }
}
