//! Docs (`rm_docs`, every version in `rm_doc_versions`): written from doc events, read by the
//! doc routes and the personal-data export.

use chrono::{DateTime, Utc};
use prism_domain::aggregates::DocEvent;
use prism_domain::{DocId, WorkspaceId};
use prism_event_store::StoredEvent;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::ProjectionError;

/// A doc as its workspace's members see it.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Doc {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub author_id: Uuid,
    pub title: String,
    pub body: String,
    pub archived: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
    /// `{id, name, size, media_type}` of each file attached.
    #[sqlx(json)]
    pub attachments: Vec<super::files::Attachment>,
}

/// One version of a doc, as its events wrote it.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Version {
    pub version: i64,
    pub title: String,
    pub body: String,
    pub edited_by: Uuid,
    pub at: DateTime<Utc>,
}

const DOC: &str =
    "SELECT doc_id AS id, workspace_id, author_id, title, body, archived, created_at, updated_at, version, attachments FROM rm_docs";

/// The live docs of `workspace` (archived or not), newest first, older than `before`.
pub async fn list(
    pool: &PgPool,
    workspace: WorkspaceId,
    archived: bool,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Doc>, ProjectionError> {
    Ok(sqlx::query_as(&format!(
        "{DOC} WHERE workspace_id = $1 AND NOT deleted AND archived = $2 AND ($3::uuid IS NULL OR doc_id < $3)
          ORDER BY doc_id DESC LIMIT $4"
    ))
    .bind(workspace.0)
    .bind(archived)
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// One live doc (the caller checks the reader's membership of its workspace).
pub async fn get(pool: &PgPool, id: DocId) -> Result<Option<Doc>, ProjectionError> {
    Ok(sqlx::query_as(&format!("{DOC} WHERE doc_id = $1 AND NOT deleted"))
        .bind(id.0)
        .fetch_optional(pool)
        .await?)
}

/// Every version of a doc, oldest first.
pub async fn versions(pool: &PgPool, id: DocId) -> Result<Vec<Version>, ProjectionError> {
    Ok(sqlx::query_as(
        "SELECT version, title, body, edited_by, at FROM rm_doc_versions WHERE doc_id = $1 ORDER BY version",
    )
    .bind(id.0)
    .fetch_all(pool)
    .await?)
}

pub(super) async fn apply(tx: &mut PgConnection, e: &StoredEvent) -> Result<(), ProjectionError> {
    let id = e.aggregate_id;
    match super::typed::<DocEvent>(e)? {
        DocEvent::Created {
            workspace_id,
            author_id,
            title,
            body,
            ..
        } => {
            sqlx::query(
                "INSERT INTO rm_docs (doc_id, workspace_id, author_id, title, body, created_at, updated_at, version)
                 VALUES ($1, $2, $3, $4, $5, $6, $6, $7) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(workspace_id.0)
            .bind(author_id.0)
            .bind(&title)
            .bind(&body)
            .bind(e.recorded_at)
            .bind(e.sequence)
            .execute(&mut *tx)
            .await?;
            version(tx, e, author_id.0).await?;
            return Ok(());
        }
        DocEvent::Updated {
            title, body, edited_by, ..
        } => {
            sqlx::query("UPDATE rm_docs SET title = coalesce($2, title), body = coalesce($3, body) WHERE doc_id = $1")
                .bind(id)
                .bind(title)
                .bind(body)
                .execute(&mut *tx)
                .await?;
            version(tx, e, edited_by.0).await?;
        }
        DocEvent::Archived { .. } => {
            sqlx::query("UPDATE rm_docs SET archived = true WHERE doc_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        DocEvent::Restored { .. } => {
            sqlx::query("UPDATE rm_docs SET archived = false WHERE doc_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        DocEvent::Deleted { .. } => {
            sqlx::query("UPDATE rm_docs SET deleted = true WHERE doc_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
    }
    sqlx::query("UPDATE rm_docs SET version = $2, updated_at = $3 WHERE doc_id = $1")
        .bind(id)
        .bind(e.sequence)
        .bind(e.recorded_at)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Records the doc's content as of this event: its history is every such row.
async fn version(tx: &mut PgConnection, e: &StoredEvent, by: uuid::Uuid) -> Result<(), ProjectionError> {
    sqlx::query(
        "INSERT INTO rm_doc_versions (doc_id, version, title, body, edited_by, at)
         SELECT doc_id, $2, title, body, $3, $4 FROM rm_docs WHERE doc_id = $1
         ON CONFLICT DO NOTHING",
    )
    .bind(e.aggregate_id)
    .bind(e.sequence)
    .bind(by)
    .bind(e.recorded_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
