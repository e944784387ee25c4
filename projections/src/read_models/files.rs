//! Files (`rm_files`) and what shows them (`rm_attachments`): a message or a doc, live. The
//! rows of messages and docs carry their attachments as shown (`{id, name, size, media_type}`),
//! so a page of messages stays one scan. Deleting a message or doc detaches its files; a file
//! no live thing shows is readable by its uploader only.

use prism_domain::aggregates::{DocEvent, FileEvent, MessageEvent};
use prism_event_store::StoredEvent;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::ProjectionError;

/// An attachment as a message or doc shows it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Attachment {
    pub id: Uuid,
    pub name: String,
    pub size: i64,
    pub media_type: String,
}

/// A file's metadata.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct FileMeta {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub name: String,
    pub size: i64,
    pub media_type: String,
    pub sha256: String,
    pub uploaded_by: Uuid,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

pub(super) async fn apply(tx: &mut PgConnection, e: &StoredEvent) -> Result<(), ProjectionError> {
    match super::typed::<FileEvent>(e)? {
        FileEvent::Uploaded {
            file_id,
            workspace_id,
            uploaded_by,
            name,
            size,
            media_type,
            sha256,
        } => {
            sqlx::query(
                "INSERT INTO rm_files (file_id, workspace_id, uploaded_by, name, size, media_type, sha256, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            )
            .bind(file_id.0)
            .bind(workspace_id.0)
            .bind(uploaded_by.0)
            .bind(name)
            .bind(i64::try_from(size).unwrap_or(i64::MAX))
            .bind(media_type)
            .bind(sha256)
            .bind(e.recorded_at)
            .execute(&mut *tx)
            .await?;
        }
        FileEvent::Deleted { .. } => {
            // Its name goes with it (the uploader's, and nothing shows it).
            sqlx::query("UPDATE rm_files SET deleted = true, name = '' WHERE file_id = $1")
                .bind(e.aggregate_id)
                .execute(&mut *tx)
                .await?;
        }
    }
    Ok(())
}

/// After a batch's rows are in: the attachments its messages and docs set, and the detaching
/// their deletions do — in log order.
pub(super) async fn attach(tx: &mut PgConnection, events: &[StoredEvent]) -> Result<(), ProjectionError> {
    for e in events {
        let (table, kind, set): (&str, &str, Option<Vec<Uuid>>) = match e.event_type.as_str() {
            "message.created" if e.payload.get("attachments").is_some() => match super::typed::<MessageEvent>(e)? {
                MessageEvent::Created { attachments, .. } => (
                    "rm_messages",
                    "message",
                    Some(attachments.into_iter().map(|f| f.0).collect()),
                ),
                _ => continue,
            },
            "doc.created" | "doc.updated" if e.payload.get("attachments").is_some() => {
                match super::typed::<DocEvent>(e)? {
                    DocEvent::Created { attachments, .. }
                    | DocEvent::Updated {
                        attachments: Some(attachments),
                        ..
                    } => ("rm_docs", "doc", Some(attachments.into_iter().map(|f| f.0).collect())),
                    _ => continue,
                }
            }
            "message.deleted" => ("rm_messages", "message", None),
            "doc.deleted" => ("rm_docs", "doc", None),
            _ => continue,
        };
        let subject = e.aggregate_id;
        sqlx::query("DELETE FROM rm_attachments WHERE subject_id = $1")
            .bind(subject)
            .execute(&mut *tx)
            .await?;
        let files = set.unwrap_or_default();
        sqlx::query(
            "INSERT INTO rm_attachments (subject_id, file_id, kind) SELECT $1, f, $3 FROM unnest($2::uuid[]) AS f ON CONFLICT DO NOTHING",
        )
        .bind(subject)
        .bind(&files)
        .bind(kind)
        .execute(&mut *tx)
        .await?;
        let id_column = if kind == "message" { "message_id" } else { "doc_id" };
        sqlx::query(&format!(
            "UPDATE {table} SET attachments = coalesce((
                SELECT jsonb_agg(jsonb_build_object('id', f.file_id, 'name', f.name, 'size', f.size, 'media_type', f.media_type) ORDER BY o.n)
                  FROM unnest($2::uuid[]) WITH ORDINALITY AS o(id, n) JOIN rm_files f ON f.file_id = o.id), '[]')
              WHERE {id_column} = $1"
        ))
        .bind(subject)
        .bind(&files)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// A live file's metadata.
pub async fn meta(pool: &PgPool, file: Uuid) -> Result<Option<FileMeta>, ProjectionError> {
    Ok(sqlx::query_as(
        "SELECT file_id AS id, workspace_id, name, size, media_type, sha256, uploaded_by, created_at
           FROM rm_files WHERE file_id = $1 AND NOT deleted",
    )
    .bind(file)
    .fetch_optional(pool)
    .await?)
}

/// What shows `file` now: (kind, subject) pairs of live messages and docs.
pub async fn shown_by(pool: &PgPool, file: Uuid) -> Result<Vec<(String, Uuid)>, ProjectionError> {
    Ok(
        sqlx::query_as("SELECT kind, subject_id FROM rm_attachments WHERE file_id = $1 ORDER BY subject_id LIMIT 100")
            .bind(file)
            .fetch_all(pool)
            .await?,
    )
}
