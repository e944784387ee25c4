//! A collaborative document of a workspace: any member writes, archives and restores; its
//! author, an admin or an owner deletes. Every version is an event, so history is free.

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use crate::policy::{authorize, Action, Role};
use crate::values::{DocBody, DocTitle};
use crate::{DocId, DomainError, FileId, UserId, WorkspaceId};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Doc {
    /// The files attached now.
    #[serde(default)]
    pub attachments: Vec<FileId>,
    pub id: Option<DocId>,
    pub workspace_id: WorkspaceId,
    pub author_id: UserId,
    pub title: String,
    pub body: String,
    pub archived: bool,
    pub deleted: bool,
}

impl Doc {
    fn live(&self) -> Result<(), DomainError> {
        if self.id.is_some() && !self.deleted {
            Ok(())
        } else {
            Err(DomainError::NotFound("doc"))
        }
    }
}

#[derive(Debug, Clone)]
pub enum DocCommand {
    Create {
        id: DocId,
        workspace_id: WorkspaceId,
        actor: UserId,
        role: Option<Role>,
        title: DocTitle,
        body: DocBody,
        /// Who the body mentions (resolved by the caller against the members now).
        mentions: Vec<UserId>,
        /// Files attached (the caller checked each is the actor's, in this workspace).
        attachments: Vec<FileId>,
    },
    Update {
        actor: UserId,
        role: Option<Role>,
        title: Option<DocTitle>,
        body: Option<DocBody>,
        /// Who the new body mentions that the current one does not.
        mentions: Vec<UserId>,
        /// The doc's files from now on, if they change.
        attachments: Option<Vec<FileId>>,
    },
    Archive {
        actor: UserId,
        role: Option<Role>,
    },
    Restore {
        actor: UserId,
        role: Option<Role>,
    },
    Delete {
        actor: UserId,
        role: Option<Role>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum DocEvent {
    #[serde(rename = "doc.created")]
    Created {
        doc_id: DocId,
        workspace_id: WorkspaceId,
        author_id: UserId,
        title: String,
        body: String,
        /// The members the body mentions (resolved when written, as a message's).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        mentions: Vec<UserId>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<FileId>,
    },
    #[serde(rename = "doc.updated")]
    Updated {
        title: Option<String>,
        body: Option<String>,
        edited_by: UserId,
        /// Members the new body mentions that the previous one did not.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        mentions: Vec<UserId>,
        /// The doc's files from now on (absent: unchanged).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attachments: Option<Vec<FileId>>,
    },
    #[serde(rename = "doc.archived")]
    Archived { by: UserId },
    #[serde(rename = "doc.restored")]
    Restored { by: UserId },
    #[serde(rename = "doc.deleted")]
    Deleted { by: UserId },
}
crate::kernel_event!(DocEvent);

impl Aggregate for Doc {
    const TYPE: &'static str = "doc";
    type Command = DocCommand;
    type Event = DocEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: DocCommand, _: &(), sink: &EventSink<Self>) -> Result<(), DomainError> {
        match command {
            DocCommand::Create {
                id,
                workspace_id,
                actor,
                role,
                title,
                body,
                mentions,
                attachments,
            } => {
                authorize(role, Action::WriteDocs)?;
                if self.id.is_some() {
                    return Err(DomainError::conflict("doc_exists", "this doc already exists"));
                }
                let e = DocEvent::Created {
                    doc_id: id,
                    workspace_id,
                    author_id: actor,
                    title: title.into_inner(),
                    body: body.into_inner(),
                    mentions,
                    attachments,
                };
                sink.write(e, self).await;
            }
            DocCommand::Update {
                actor,
                role,
                title,
                body,
                mentions,
                attachments,
            } => {
                self.live()?;
                authorize(role, Action::WriteDocs)?;
                if self.archived {
                    return Err(DomainError::rule(
                        "doc_archived",
                        "an archived doc must be restored before it is edited",
                    ));
                }
                if title.is_none() && body.is_none() && attachments.is_none() {
                    return Err(DomainError::invalid(
                        "body",
                        "give a title, a body, attachments, or some of them",
                    ));
                }
                // Only what changes goes into the event.
                let title = title.map(DocTitle::into_inner).filter(|t| *t != self.title);
                let body = body.map(DocBody::into_inner).filter(|b| *b != self.body);
                let attachments = attachments.filter(|a| *a != self.attachments);
                if title.is_some() || body.is_some() || attachments.is_some() {
                    // A title alone mentions no one.
                    let mentions = if body.is_some() { mentions } else { Vec::new() };
                    sink.write(
                        DocEvent::Updated {
                            title,
                            body,
                            edited_by: actor,
                            mentions,
                            attachments,
                        },
                        self,
                    )
                    .await;
                }
            }
            DocCommand::Archive { actor, role } => {
                self.live()?;
                authorize(role, Action::WriteDocs)?;
                if !self.archived {
                    sink.write(DocEvent::Archived { by: actor }, self).await;
                }
            }
            DocCommand::Restore { actor, role } => {
                self.live()?;
                authorize(role, Action::WriteDocs)?;
                if self.archived {
                    sink.write(DocEvent::Restored { by: actor }, self).await;
                }
            }
            DocCommand::Delete { actor, role } => {
                self.live()?;
                if actor == self.author_id {
                    authorize(role, Action::WriteDocs)?;
                } else {
                    authorize(role, Action::DeleteAnyDoc)?;
                }
                sink.write(DocEvent::Deleted { by: actor }, self).await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: DocEvent) {
        match event {
            DocEvent::Created {
                doc_id,
                workspace_id,
                author_id,
                title,
                body,
                attachments,
                ..
            } => {
                self.id = Some(doc_id);
                self.workspace_id = workspace_id;
                self.author_id = author_id;
                self.title = title;
                self.body = body;
                self.attachments = attachments;
            }
            DocEvent::Updated {
                title,
                body,
                attachments,
                ..
            } => {
                if let Some(t) = title {
                    self.title = t;
                }
                if let Some(b) = body {
                    self.body = b;
                }
                if let Some(a) = attachments {
                    self.attachments = a;
                }
            }
            DocEvent::Archived { .. } => self.archived = true,
            DocEvent::Restored { .. } => self.archived = false,
            DocEvent::Deleted { .. } => self.deleted = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    fn created(id: DocId, ws: WorkspaceId, author: UserId) -> DocEvent {
        DocEvent::Created {
            doc_id: id,
            workspace_id: ws,
            author_id: author,
            title: "Plan".into(),
            body: "v1".into(),
            mentions: vec![],
            attachments: vec![],
        }
    }

    #[test]
    fn updates_carry_only_what_changed() {
        let (id, ws, a) = (DocId::new(), WorkspaceId::new(), UserId::new());
        TestFramework::<Doc>::with(())
            .given(vec![created(id, ws, a)])
            .when(DocCommand::Update {
                actor: a,
                role: Some(Role::Member),
                title: Some(DocTitle::parse("Plan").expect("ok")),
                body: Some(DocBody::parse("v2").expect("ok")),
                mentions: vec![],
                attachments: None,
            })
            .then_expect_events(vec![DocEvent::Updated {
                title: None,
                body: Some("v2".into()),
                edited_by: a,
                mentions: vec![],
                attachments: None,
            }]);
    }

    #[test]
    fn an_archived_doc_cannot_be_edited_until_restored() {
        let (id, ws, a) = (DocId::new(), WorkspaceId::new(), UserId::new());
        let h = vec![created(id, ws, a), DocEvent::Archived { by: a }];
        TestFramework::<Doc>::with(())
            .given(h.clone())
            .when(DocCommand::Update {
                actor: a,
                role: Some(Role::Member),
                title: None,
                body: Some(DocBody::parse("x").expect("ok")),
                mentions: vec![],
                attachments: None,
            })
            .then_expect_error(DomainError::rule(
                "doc_archived",
                "an archived doc must be restored before it is edited",
            ));
        TestFramework::<Doc>::with(())
            .given(h)
            .when(DocCommand::Restore {
                actor: a,
                role: Some(Role::Member),
            })
            .then_expect_events(vec![DocEvent::Restored { by: a }]);
    }

    #[test]
    fn only_the_author_or_an_admin_deletes() {
        let (id, ws, a, b) = (DocId::new(), WorkspaceId::new(), UserId::new(), UserId::new());
        TestFramework::<Doc>::with(())
            .given(vec![created(id, ws, a)])
            .when(DocCommand::Delete {
                actor: b,
                role: Some(Role::Member),
            })
            .then_expect_error(DomainError::Forbidden("only an admin or owner may do this"));
        TestFramework::<Doc>::with(())
            .given(vec![created(id, ws, a)])
            .when(DocCommand::Delete {
                actor: b,
                role: Some(Role::Admin),
            })
            .then_expect_events(vec![DocEvent::Deleted { by: b }]);
    }

    #[test]
    fn a_non_member_cannot_create() {
        let (id, ws, a) = (DocId::new(), WorkspaceId::new(), UserId::new());
        TestFramework::<Doc>::with(())
            .given_no_previous_events()
            .when(DocCommand::Create {
                id,
                workspace_id: ws,
                actor: a,
                role: None,
                title: DocTitle::parse("t").expect("ok"),
                body: DocBody::parse("b").expect("ok"),
                mentions: vec![],
                attachments: vec![],
            })
            .then_expect_error(DomainError::NotFound("workspace"));
    }
}
