use prism_domain::aggregates::DocEvent;
use prism_event_store::StoredEvent;
use sqlx::PgConnection;

use crate::ProjectionError;

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
        DocEvent::Updated { title, body, edited_by } => {
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
