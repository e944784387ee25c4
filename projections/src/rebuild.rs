//! Rebuild: a fresh copy of a projection's tables, written from the log beside the live ones,
//! then swapped in. Reads are served from the old copy until the swap.
//!
//! The copy lives in a schema of its own (`rebuild_<name>`) with tables made `LIKE` the live
//! ones; the projection's SQL names its tables unqualified, so the same code writes the copy
//! when that schema comes first on the `search_path`. The swap takes the projection's status
//! row lock (the live projector waits), applies the last events, replaces the tables and sets
//! the checkpoint, in one transaction.
//!
//! Two things make the bulk of it fast (measured on a log of 1M events: the machine sat 27%
//! idle with reading and applying taking turns, and index upkeep was a fifth of Postgres's
//! time):
//! - the log is read ahead on a connection of its own while the previous batch is applied, so
//!   the scan of `events` and the writes to the copy run side by side;
//! - the copy's secondary indexes (not unique: nothing decides on them while writing) are
//!   dropped for the bulk and built once, in one pass each, before the swap.

use std::time::Instant;

use prism_event_store::{PgEventStore, StoredEvent};
use tokio::sync::mpsc;

use crate::{Projection, ProjectionError};

/// Where a rebuild stands, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub applied: u64,
    pub position: i64,
    pub head: i64,
    pub events_per_s: f64,
}

#[derive(Debug, Clone, Copy)]
pub struct Report {
    pub applied: u64,
    pub position: i64,
    pub seconds: f64,
}

pub async fn rebuild(
    store: &PgEventStore,
    projection: &dyn Projection,
    tables: &[&str],
    batch: i64,
    mut progress: impl FnMut(Progress),
) -> Result<Report, ProjectionError> {
    let pool = store.pool();
    let schema = format!("rebuild_{}", projection.name());
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(pool)
        .await?;
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(pool).await?;
    for t in tables {
        sqlx::query(&format!("CREATE TABLE {schema}.{t} (LIKE public.{t} INCLUDING ALL)"))
            .execute(pool)
            .await?;
    }
    // Secondary indexes wait for the end of the bulk: unique ones stay (upserts and updates
    // find their rows through them). They are built again as the live tables define them, names
    // included (`LIKE` would name them anew, and a later migration names them).
    let dropped: Vec<String> = sqlx::query_scalar(
        "SELECT quote_ident(ci.relname) FROM pg_index i JOIN pg_class ci ON ci.oid = i.indexrelid
           JOIN pg_namespace n ON n.oid = ci.relnamespace WHERE n.nspname = $1 AND NOT i.indisunique",
    )
    .bind(&schema)
    .fetch_all(pool)
    .await?;
    for name in &dropped {
        sqlx::query(&format!("DROP INDEX {schema}.{name}"))
            .execute(pool)
            .await?;
    }
    let deferred: Vec<String> = sqlx::query_scalar(
        "SELECT replace(pg_get_indexdef(i.indexrelid), ' ON public.', ' ON ' || quote_ident($2) || '.')
           FROM pg_index i JOIN pg_class ct ON ct.oid = i.indrelid
           JOIN pg_namespace n ON n.oid = ct.relnamespace
          WHERE n.nspname = 'public' AND ct.relname = ANY($1) AND NOT i.indisunique",
    )
    .bind(tables)
    .bind(&schema)
    .fetch_all(pool)
    .await?;
    let started = Instant::now();
    let head: i64 = sqlx::query_scalar("SELECT coalesce(max(global_position), 0) FROM events")
        .fetch_one(pool)
        .await?;
    let (mut cp, mut applied) = (0i64, 0u64);
    let mut batches = read_ahead(store.clone(), batch);
    while let Some(events) = batches.recv().await {
        let events = events?;
        let Some(last) = events.last().map(|e| e.global_position) else {
            break;
        };
        let mut tx = pool.begin().await?;
        sqlx::query(&format!("SET LOCAL search_path TO {schema}, public"))
            .execute(&mut *tx)
            .await?;
        // The copy is nobody's source of truth until the swap: a crash means rebuilding again,
        // so its batches need not wait for the WAL to reach the disk.
        sqlx::query("SET LOCAL synchronous_commit TO off")
            .execute(&mut *tx)
            .await?;
        projection.apply_many(&mut tx, &events).await?;
        tx.commit().await?;
        applied += events.len() as u64;
        cp = last;
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        progress(Progress {
            applied,
            position: cp,
            head: head.max(cp),
            events_per_s: applied as f64 / secs,
        });
    }
    drop(batches);
    for def in &deferred {
        sqlx::query(def).execute(pool).await?;
    }
    // The swap: the live projector waits on its status row while we finish and replace.
    let mut tx = pool.begin().await?;
    sqlx::query("INSERT INTO projection_status (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
        .bind(projection.name())
        .execute(&mut *tx)
        .await?;
    sqlx::query("SELECT position FROM projection_status WHERE name = $1 FOR UPDATE")
        .bind(projection.name())
        .execute(&mut *tx)
        .await?;
    sqlx::query(&format!("SET LOCAL search_path TO {schema}, public"))
        .execute(&mut *tx)
        .await?;
    loop {
        let events = store.read_all(cp, batch).await?;
        let Some(last) = events.last().map(|e| e.global_position) else {
            break;
        };
        projection.apply_many(&mut tx, &events).await?;
        applied += events.len() as u64;
        cp = last;
    }
    sqlx::query("SET LOCAL search_path TO public").execute(&mut *tx).await?;
    for t in tables {
        sqlx::query(&format!("DROP TABLE public.{t}")).execute(&mut *tx).await?;
        sqlx::query(&format!("ALTER TABLE {schema}.{t} SET SCHEMA public"))
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("UPDATE projection_status SET position = $2, updated_at = now(), last_error = NULL, halted_at = NULL WHERE name = $1")
        .bind(projection.name())
        .bind(cp)
        .execute(&mut *tx)
        .await?;
    sqlx::query(&format!("DROP SCHEMA {schema}")).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(Report {
        applied,
        position: cp,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The log from the start, `batch` events at a time, read one batch ahead of the consumer on
/// a connection of its own. Ends after the last batch (or the first error); dropping the
/// receiver stops the reader.
fn read_ahead(store: PgEventStore, batch: i64) -> mpsc::Receiver<Result<Vec<StoredEvent>, ProjectionError>> {
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let mut cp = 0;
        loop {
            let events = match store.read_all(cp, batch).await {
                Ok(events) => events,
                Err(e) => {
                    let _ = tx.send(Err(e.into())).await;
                    return;
                }
            };
            let Some(last) = events.last().map(|e| e.global_position) else {
                return;
            };
            cp = last;
            if tx.send(Ok(events)).await.is_err() {
                return;
            }
        }
    });
    rx
}
