//! An uploaded file: its name, size, media type (sniffed from the bytes, never the client's
//! word) and SHA-256, which is also where its bytes are in the object store (content-addressed:
//! the same bytes uploaded twice are stored once). Members of the workspace upload; what a
//! file is attached to decides who may read it (`file.uploaded` says nothing of that).
//!
//! `file.deleted` is written when the uploader's account is erased and the file was attached
//! to nothing (an "unshared" file): its bytes go with it.

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use crate::policy::{authorize, Action};
use crate::values::FileName;
use crate::{DomainError, FileId, Role, UserId, WorkspaceId};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct File {
    pub id: Option<FileId>,
    pub workspace_id: WorkspaceId,
    pub uploaded_by: UserId,
    pub sha256: String,
    pub deleted: bool,
}

impl File {
    /// Uploaded and not deleted.
    pub fn is_live(&self) -> bool {
        self.id.is_some() && !self.deleted
    }
}

/// What an upload found out about the bytes (the application layer streamed and stored them).
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    pub name: FileName,
    pub size: u64,
    pub media_type: String,
    pub sha256: String,
}

#[derive(Debug, Clone)]
pub enum FileCommand {
    Upload {
        id: FileId,
        workspace_id: WorkspaceId,
        actor: UserId,
        role: Option<Role>,
        upload: Upload,
    },
    /// The uploader's account is erased and the file is attached to nothing.
    Delete { reason: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum FileEvent {
    #[serde(rename = "file.uploaded")]
    Uploaded {
        file_id: FileId,
        workspace_id: WorkspaceId,
        uploaded_by: UserId,
        name: String,
        size: u64,
        media_type: String,
        sha256: String,
    },
    #[serde(rename = "file.deleted")]
    Deleted { reason: String },
}
crate::kernel_event!(FileEvent);

impl Aggregate for File {
    const TYPE: &'static str = "file";
    type Command = FileCommand;
    type Event = FileEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: FileCommand, _: &(), sink: &EventSink<Self>) -> Result<(), DomainError> {
        match command {
            FileCommand::Upload {
                id,
                workspace_id,
                actor,
                role,
                upload,
            } => {
                authorize(role, Action::PostMessage)?;
                if self.id.is_some() {
                    return Err(DomainError::conflict("file_exists", "this file already exists"));
                }
                let e = FileEvent::Uploaded {
                    file_id: id,
                    workspace_id,
                    uploaded_by: actor,
                    name: upload.name.into_inner(),
                    size: upload.size,
                    media_type: upload.media_type,
                    sha256: upload.sha256,
                };
                sink.write(e, self).await;
            }
            FileCommand::Delete { reason } => {
                if !self.is_live() {
                    return Err(DomainError::NotFound("file"));
                }
                sink.write(FileEvent::Deleted { reason }, self).await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: FileEvent) {
        match event {
            FileEvent::Uploaded {
                file_id,
                workspace_id,
                uploaded_by,
                sha256,
                ..
            } => {
                self.id = Some(file_id);
                self.workspace_id = workspace_id;
                self.uploaded_by = uploaded_by;
                self.sha256 = sha256;
            }
            FileEvent::Deleted { .. } => self.deleted = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    fn upload(role: Option<Role>) -> (FileCommand, FileEvent) {
        let (id, ws, by) = (FileId::new(), WorkspaceId::new(), UserId::new());
        let cmd = FileCommand::Upload {
            id,
            workspace_id: ws,
            actor: by,
            role,
            upload: Upload {
                name: FileName::parse("C:\\\\Users\\\\ann\\\\report.pdf").expect("name"),
                size: 3,
                media_type: "application/pdf".into(),
                sha256: "ab".into(),
            },
        };
        let event = FileEvent::Uploaded {
            file_id: id,
            workspace_id: ws,
            uploaded_by: by,
            name: "report.pdf".into(),
            size: 3,
            media_type: "application/pdf".into(),
            sha256: "ab".into(),
        };
        (cmd, event)
    }

    #[test]
    fn a_member_uploads_under_the_last_segment_of_the_name() {
        let (cmd, event) = upload(Some(Role::Member));
        TestFramework::<File>::with(())
            .given_no_previous_events()
            .when(cmd)
            .then_expect_events(vec![event]);
    }

    #[test]
    fn a_non_member_cannot_upload() {
        let (cmd, _) = upload(None);
        TestFramework::<File>::with(())
            .given_no_previous_events()
            .when(cmd)
            .then_expect_error(DomainError::NotFound("workspace"));
    }

    #[test]
    fn a_file_is_deleted_once() {
        let (_, uploaded) = upload(Some(Role::Member));
        let deleted = FileEvent::Deleted {
            reason: "erased".into(),
        };
        TestFramework::<File>::with(())
            .given(vec![uploaded.clone()])
            .when(FileCommand::Delete {
                reason: "erased".into(),
            })
            .then_expect_events(vec![deleted.clone()]);
        TestFramework::<File>::with(())
            .given(vec![uploaded, deleted])
            .when(FileCommand::Delete {
                reason: "erased".into(),
            })
            .then_expect_error(DomainError::NotFound("file"));
    }
}
