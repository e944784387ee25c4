//! Rebuild: a fresh copy of a projection's tables, written from the log beside the live ones,
//! then swapped in. Reads are served from the old copy until the swap.
//!
//! The copy lives in a schema of its own (`rebuild_<name>`) with tables made `LIKE` the live
//! ones; the projection's SQL names its tables unqualified, so the same code writes the copy
//! when that schema comes first on the `search_path`. The swap takes the projection's status
//! row lock (the live projector waits), applies the last events, replaces the tables and sets
//! the checkpoint, in one transaction.

use std::time::Instant;

use prism_event_store::PgEventStore;

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
    let started = Instant::now();
    let head: i64 = sqlx::query_scalar("SELECT coalesce(max(global_position), 0) FROM events")
        .fetch_one(pool)
        .await?;
    let (mut cp, mut applied) = (0i64, 0u64);
    loop {
        let events = store.read_all(cp, batch).await?;
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
