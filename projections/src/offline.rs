//! Offline tools for analysts: export the log as NDJSON (zstd when the file name ends in
//! `.zst`), and rebuild projections from an export or another database into a database of
//! one's own, with no NATS and no running service.
//!
//! An export carries events exactly as stored, so its hash chains verify anywhere; a rebuild
//! brings each event to the current schema (the upcasters) before applying it, exactly as the
//! live projectors see it, so the rebuilt tables equal the live ones row for row.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use prism_event_store::{PgEventStore, StoredEvent};
use sqlx::PgPool;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::search::{SearchIndex, SearchIndexer};
use crate::{audit, read_models, spectrum, Projection, ProjectionError};

/// Where a long job stands, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub done: u64,
    /// The position reached.
    pub position: i64,
    /// The last position there is to reach, when known.
    pub head: Option<i64>,
    pub per_s: f64,
}

#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub events: u64,
    pub last_position: i64,
    pub seconds: f64,
    pub bytes: u64,
}

fn progress(done: u64, position: i64, head: Option<i64>, started: Instant) -> Progress {
    Progress {
        done,
        position,
        head,
        per_s: done as f64 / started.elapsed().as_secs_f64().max(1e-9),
    }
}

/// What an export is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON envelope per line (zstd when the name ends in `.zst`).
    Ndjson,
    /// [`crate::parquet_log`].
    Parquet,
}

impl Format {
    /// Parquet for a `.parquet` name, else NDJSON.
    pub fn of(path: &Path) -> Self {
        if path.extension().is_some_and(|e| e == "parquet") {
            Format::Parquet
        } else {
            Format::Ndjson
        }
    }
}

/// [`export_as`] in the format its name says.
pub async fn export(
    store: &PgEventStore,
    out: &Path,
    workspace: Option<Uuid>,
    after: i64,
    on_progress: impl FnMut(Progress),
) -> Result<Summary, ProjectionError> {
    export_as(store, out, Format::of(out), workspace, after, on_progress).await
}

/// Writes the log (or one workspace's events) after `after` to `out` as NDJSON (zstd-compressed
/// when its name ends in `.zst`) or Parquet. The file is written beside and renamed into place
/// at the end, so a failed export never leaves a truncated file under the asked name.
pub async fn export_as(
    store: &PgEventStore,
    out: &Path,
    format: Format,
    workspace: Option<Uuid>,
    after: i64,
    mut on_progress: impl FnMut(Progress),
) -> Result<Summary, ProjectionError> {
    const PAGE: i64 = 10_000;
    let started = Instant::now();
    let head = store.safe_horizon().await?;
    let partial = out.with_extension(format!(
        "{}.partial",
        out.extension().and_then(|e| e.to_str()).unwrap_or("ndjson")
    ));
    if format == Format::Parquet {
        return export_parquet(store, out, &partial, workspace, after, head, started, on_progress).await;
    }
    let file = std::fs::File::create(&partial).map_err(|e| io(&partial, e))?;
    let zst = out.extension().is_some_and(|e| e == "zst");
    let mut writer: Box<dyn Write + Send> = if zst {
        let enc = zstd::Encoder::new(file, 3).map_err(|e| io(&partial, e))?;
        Box::new(BufWriter::with_capacity(1 << 20, enc.auto_finish()))
    } else {
        Box::new(BufWriter::with_capacity(1 << 20, file))
    };
    // Read the next page while this one is written.
    let (mut rx, reader) = read_ahead(store.clone(), after, Some(head), workspace, PAGE);
    let (mut events, mut last, mut buf) = (0u64, after, Vec::with_capacity(1 << 22));
    while let Some(page) = rx.recv().await {
        let page = page?;
        buf.clear();
        for e in page.iter().filter(|e| e.global_position <= head) {
            serde_json::to_writer(&mut buf, e)?;
            buf.push(b'\n');
            events += 1;
            last = e.global_position;
        }
        // Compressing and writing is the only blocking work here, and the next page is being
        // read meanwhile on the reader task.
        writer.write_all(&buf).map_err(|e| io(&partial, e))?;
        on_progress(progress(events, last, Some(head), started));
    }
    reader.await.map_err(stopped)?;
    writer.flush().map_err(|e| io(&partial, e))?;
    drop(writer);
    put_in_place(&partial, out, events, last, started)
}

/// Renames a finished export into place and says what it holds.
fn put_in_place(
    partial: &Path,
    out: &Path,
    events: u64,
    last: i64,
    started: Instant,
) -> Result<Summary, ProjectionError> {
    std::fs::rename(partial, out).map_err(|e| io(out, e))?;
    let bytes = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    Ok(Summary {
        events,
        last_position: last,
        seconds: started.elapsed().as_secs_f64(),
        bytes,
    })
}

/// The Parquet half of [`export_as`]: pages go to a writer thread (encoding and compressing
/// are CPU work) while the next page is read.
#[allow(clippy::too_many_arguments)]
async fn export_parquet(
    store: &PgEventStore,
    out: &Path,
    partial: &Path,
    workspace: Option<Uuid>,
    after: i64,
    head: i64,
    started: Instant,
    mut on_progress: impl FnMut(Progress),
) -> Result<Summary, ProjectionError> {
    const PAGE: i64 = 10_000;
    let (to_writer, mut pages) = mpsc::channel::<Vec<prism_event_store::ExportRow>>(2);
    let path = partial.to_owned();
    let writer = tokio::task::spawn_blocking(move || {
        let mut w = crate::parquet_log::Writer::create(&path)?;
        while let Some(page) = pages.blocking_recv() {
            w.write(&page)?;
        }
        w.finish()
    });
    let (mut rx, reader) = read_ahead_export(store.clone(), after, head, workspace, PAGE);
    let (mut events, mut last) = (0u64, after);
    while let Some(page) = rx.recv().await {
        let page: Vec<_> = page?.into_iter().filter(|e| e.global_position <= head).collect();
        if let Some(e) = page.last() {
            last = e.global_position;
        }
        events += page.len() as u64;
        if to_writer.send(page).await.is_err() {
            break;
        }
        on_progress(progress(events, last, Some(head), started));
    }
    drop(to_writer);
    reader.await.map_err(stopped)?;
    writer.await.map_err(stopped)??;
    put_in_place(partial, out, events, last, started)
}

/// A worker task that panicked or was cancelled.
fn stopped(e: tokio::task::JoinError) -> ProjectionError {
    ProjectionError::Io(format!("a rebuild worker stopped: {e}"))
}

fn io(path: &Path, e: std::io::Error) -> ProjectionError {
    ProjectionError::Io(format!("{}: {e}", path.display()))
}

/// Where a rebuild reads the log from.
#[derive(Debug, Clone)]
pub enum Source {
    /// An export (`.ndjson`, `.ndjson.zst` or `.parquet`).
    File(PathBuf),
    /// Another Prism database (read only).
    Postgres(PgPool),
}

/// The projections a rebuild can write.
pub const PROJECTIONS: &[&str] = &[
    read_models::NAME,
    audit::NAME,
    spectrum::NAME,
    crate::search::indexer::NAME,
];

fn pg_projection(name: &str) -> Option<crate::Registered> {
    crate::by_name(name)
}

/// What to rebuild, and where.
pub struct RebuildPlan {
    pub source: Source,
    /// A migrated Prism database; the chosen projections' tables are emptied first.
    pub into: PgPool,
    pub projections: Vec<String>,
    /// Where the search index goes (required when `search` is chosen); emptied first.
    pub index_dir: Option<PathBuf>,
    pub batch: usize,
}

/// Rebuilds the chosen projections from `plan.source` into `plan.into`, batch by batch: each
/// Postgres projection applies a batch in its own transaction, concurrently with the others
/// and with the search index, while the next batch is read.
pub async fn rebuild(plan: RebuildPlan, mut on_progress: impl FnMut(Progress)) -> Result<Summary, ProjectionError> {
    let started = Instant::now();
    let mut pg: Vec<(Arc<dyn Projection>, &'static [&'static str])> = Vec::new();
    let mut search = None;
    for name in &plan.projections {
        if name == crate::search::indexer::NAME {
            let dir = plan
                .index_dir
                .clone()
                .ok_or_else(|| ProjectionError::Io("rebuilding search needs --index-dir".into()))?;
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(|e| io(&dir, e))?;
            }
            let index = Arc::new(SearchIndex::open(&dir).map_err(|e| ProjectionError::Search(e.to_string()))?);
            search = Some((index, dir));
        } else {
            pg.push(pg_projection(name).ok_or_else(|| {
                ProjectionError::Io(format!(
                    "unknown projection {name:?} (known: {})",
                    PROJECTIONS.join(", ")
                ))
            })?);
        }
    }
    let mut secondary = Vec::new();
    for (p, tables) in &pg {
        let mut tx = plan.into.begin().await?;
        for t in *tables {
            sqlx::query(&format!("TRUNCATE {t}")).execute(&mut *tx).await?;
        }
        sqlx::query("DELETE FROM projection_status WHERE name = $1")
            .bind(p.name())
            .execute(&mut *tx)
            .await?;
        // Bulk load: indexes that only serve reads are built once at the end, which costs far
        // less than maintaining them row by row. Unique ones stay: the projections rely on them.
        let defs: Vec<(String, String)> = sqlx::query_as(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
               FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
              WHERE c.relname = ANY($1) AND c.relnamespace = 'public'::regnamespace AND NOT i.indisunique",
        )
        .bind(tables.iter().map(|t| t.to_string()).collect::<Vec<_>>())
        .fetch_all(&mut *tx)
        .await?;
        for (name, def) in defs {
            sqlx::query(&format!("DROP INDEX {name}")).execute(&mut *tx).await?;
            secondary.push(def);
        }
        tx.commit().await?;
    }
    let result = load(&plan, &pg, search, started, &mut on_progress).await;
    // Whatever happened, the indexes come back.
    for def in secondary {
        sqlx::query(&def).execute(&plan.into).await?;
    }
    let summary = result?;
    Ok(Summary {
        seconds: started.elapsed().as_secs_f64(),
        ..summary
    })
}

async fn load(
    plan: &RebuildPlan,
    pg: &[(Arc<dyn Projection>, &'static [&'static str])],
    search: Option<(Arc<SearchIndex>, PathBuf)>,
    started: Instant,
    on_progress: &mut impl FnMut(Progress),
) -> Result<Summary, ProjectionError> {
    let (mut batches, head, store_id) = read_source(&plan.source, plan.batch).await?;
    let upcaster = PgEventStore::new(plan.into.clone(), 0);
    let upcast = |b: Vec<StoredEvent>| Arc::new(b.into_iter().map(|e| upcaster.upcast(e)).collect::<Vec<_>>());
    let Some(first) = batches.recv().await.transpose()?.map(upcast) else {
        return finish(plan, pg, None, 0, 0, started).await;
    };
    // The index records the log it was built from: the source's store id, or for an export
    // (which does not carry it) the log's first event id, stable for that log.
    let indexer = match &search {
        Some((index, _)) => {
            let id = store_id
                .or_else(|| first.first().map(|e| e.event_id))
                .unwrap_or_default();
            let ix = SearchIndexer::new(index.clone(), id, 200_000_000)
                .map_err(|e| ProjectionError::Search(e.to_string()))?;
            Some(Arc::new(ix))
        }
        None => None,
    };
    // One worker per projection, each with its own queue: no projection waits for another to
    // finish a batch, so the cores stay busy with whatever is left to do.
    let mut workers = tokio::task::JoinSet::new();
    let mut queues = Vec::new();
    for (p, _) in pg {
        let (tx, mut rx) = mpsc::channel::<Arc<Vec<StoredEvent>>>(4);
        queues.push(tx);
        let (p, pool) = (p.clone(), plan.into.clone());
        workers.spawn(async move {
            while let Some(batch) = rx.recv().await {
                let mut tx = pool.begin().await?;
                // A rebuilt database is nobody's source of truth until it is done.
                sqlx::query("SET LOCAL synchronous_commit TO off")
                    .execute(&mut *tx)
                    .await?;
                p.apply_many(&mut tx, &batch).await?;
                tx.commit().await?;
            }
            Ok::<_, ProjectionError>(())
        });
    }
    if let Some(ix) = &indexer {
        let (tx, mut rx) = mpsc::channel::<Arc<Vec<StoredEvent>>>(4);
        queues.push(tx);
        let ix = ix.clone();
        workers.spawn_blocking(move || {
            while let Some(batch) = rx.blocking_recv() {
                ix.apply_events(&batch)?;
            }
            Ok(())
        });
    }
    let (mut done, mut last) = (0u64, 0i64);
    let mut next = Some(Ok(first));
    while let Some(batch) = next {
        let batch = batch?;
        let mut stopped = false;
        for q in &queues {
            stopped |= q.send(batch.clone()).await.is_err();
        }
        if stopped {
            break; // a worker failed: its error is collected below
        }
        done += batch.len() as u64;
        last = batch.last().map_or(last, |e| e.global_position);
        on_progress(progress(done, last, head, started));
        next = batches.recv().await.map(|b| b.map(upcast));
    }
    drop(queues);
    while let Some(r) = workers.join_next().await {
        r.map_err(stopped)??;
    }
    finish(plan, pg, indexer, done, last, started).await
}

/// Records each Postgres projection's position and commits the search index.
async fn finish(
    plan: &RebuildPlan,
    pg: &[(Arc<dyn Projection>, &'static [&'static str])],
    indexer: Option<Arc<SearchIndexer>>,
    done: u64,
    last: i64,
    started: Instant,
) -> Result<Summary, ProjectionError> {
    for (p, _) in pg {
        sqlx::query(
            "INSERT INTO projection_status (name, position) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET position = $2, updated_at = now(), last_error = NULL, halted_at = NULL",
        )
        .bind(p.name())
        .bind(last)
        .execute(&plan.into)
        .await?;
    }
    if let Some(ix) = indexer {
        tokio::task::spawn_blocking(move || ix.commit())
            .await
            .map_err(stopped)??;
    }
    Ok(Summary {
        events: done,
        last_position: last,
        seconds: started.elapsed().as_secs_f64(),
        bytes: 0,
    })
}

type Batches = mpsc::Receiver<Result<Vec<StoredEvent>, ProjectionError>>;

/// Pages of the log after `after` (up to `until`, or its end), read on a task of their own so
/// the next page is on its way while the caller works on this one. An error is the last item.
fn read_ahead(
    store: PgEventStore,
    after: i64,
    until: Option<i64>,
    tenant: Option<Uuid>,
    page: i64,
) -> (Batches, tokio::task::JoinHandle<()>) {
    pages_ahead(
        after,
        until,
        move |at| {
            let store = store.clone();
            async move { store.read_raw(at, page, tenant).await }
        },
        |e| e.global_position,
    )
}

/// [`read_ahead`] for an export: rows with their JSON as text, up to `until`.
fn read_ahead_export(
    store: PgEventStore,
    after: i64,
    until: i64,
    tenant: Option<Uuid>,
    page: i64,
) -> (
    mpsc::Receiver<Result<Vec<prism_event_store::ExportRow>, ProjectionError>>,
    tokio::task::JoinHandle<()>,
) {
    pages_ahead(
        after,
        Some(until),
        move |at| {
            let store = store.clone();
            async move { store.read_export(at, page, tenant).await }
        },
        |e| e.global_position,
    )
}

/// The read-ahead loop both share: `fetch` the page after a position until one is empty or
/// `until` is reached; `position` says where a row is.
fn pages_ahead<T, F, Fut>(
    after: i64,
    until: Option<i64>,
    fetch: F,
    position: fn(&T) -> i64,
) -> (
    mpsc::Receiver<Result<Vec<T>, ProjectionError>>,
    tokio::task::JoinHandle<()>,
)
where
    T: Send + 'static,
    F: Fn(i64) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Vec<T>, prism_event_store::StoreError>> + Send,
{
    let (tx, rx) = mpsc::channel(2);
    let reader = tokio::spawn(async move {
        let mut at = after;
        while until.is_none_or(|u| at < u) {
            match fetch(at).await {
                Ok(p) if p.is_empty() => break,
                Ok(p) => {
                    at = p.last().map_or(at, position);
                    if tx.send(Ok(p)).await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e.into())).await;
                    break;
                }
            }
        }
    });
    (rx, reader)
}

/// Batches of events from the source, read ahead on their own task (or thread, for a file),
/// the last position if known, and the source's store id if it has one (an export does not).
async fn read_source(source: &Source, batch: usize) -> Result<(Batches, Option<i64>, Option<Uuid>), ProjectionError> {
    match source.clone() {
        Source::Postgres(pool) => {
            let store = PgEventStore::new(pool, 0);
            let head = store.safe_horizon().await?;
            let store_id = store.store_id().await?;
            let (rx, _reader) = read_ahead(store, 0, None, None, batch as i64);
            Ok((rx, Some(head), Some(store_id)))
        }
        Source::File(path) if crate::parquet_log::is_parquet(&path) => {
            let (tx, rx) = mpsc::channel(4);
            std::thread::spawn(move || {
                let read = crate::parquet_log::read(&path, batch, |page| tx.blocking_send(Ok(page)).is_ok());
                if let Err(e) = read {
                    let _ = tx.blocking_send(Err(e));
                }
            });
            Ok((rx, None, None))
        }
        Source::File(path) => {
            let (tx, rx) = mpsc::channel(4);
            let file = std::fs::File::open(&path).map_err(|e| io(&path, e))?;
            let input: Box<dyn BufRead + Send> = if path.extension().is_some_and(|e| e == "zst") {
                Box::new(BufReader::with_capacity(
                    1 << 20,
                    zstd::Decoder::new(file).map_err(|e| io(&path, e))?,
                ))
            } else {
                Box::new(BufReader::with_capacity(1 << 20, file))
            };
            std::thread::spawn(move || {
                let mut page = Vec::with_capacity(batch);
                for (n, line) in input.lines().enumerate() {
                    let parsed = line.map_err(|e| io(&path, e)).and_then(|l| {
                        serde_json::from_str::<StoredEvent>(&l).map_err(|e| {
                            ProjectionError::Io(format!(
                                "{} line {}: not an event envelope: {e}",
                                path.display(),
                                n + 1
                            ))
                        })
                    });
                    match parsed {
                        Ok(e) => page.push(e),
                        Err(e) => {
                            let _ = tx.blocking_send(Err(e));
                            return;
                        }
                    }
                    if page.len() == batch && tx.blocking_send(Ok(std::mem::take(&mut page))).is_err() {
                        return;
                    }
                }
                if !page.is_empty() {
                    let _ = tx.blocking_send(Ok(page));
                }
            });
            Ok((rx, None, None))
        }
    }
}
