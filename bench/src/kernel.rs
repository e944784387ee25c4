//! The command path, side by side: stock postgres-es against Prism, same aggregate, same
//! commands, same Postgres.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use cqrs_es::persist::PersistedEventStore;
use cqrs_es::CqrsFramework;
use postgres_es::PostgresEventRepository;
use prism_auth::{Jwt, PasswordHasherId};
use prism_commands::pipeline::Effects;
use prism_commands::{CommandContext, Commands};
use prism_domain::aggregates::{Doc, DocCommand};
use prism_domain::values::{DocBody, DocTitle};
use prism_domain::{DocId, Role, UserId, WorkspaceId};
use prism_event_store::PgEventStore;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

use crate::drive::{drive, Run};

#[derive(Clone, Copy, PartialEq)]
pub enum Workload {
    /// Each command creates a doc under a new id: a distinct aggregate every time.
    Create,
    /// Each writer edits its own `DOCS_PER_WRITER` existing docs in turn.
    Update,
}

const DOCS_PER_WRITER: usize = 50;

pub async fn pool(url: &str, n: u32) -> anyhow::Result<PgPool> {
    Ok(PgPoolOptions::new().max_connections(n).connect(url).await?)
}

fn valid<T>(r: Result<T, prism_domain::DomainError>) -> T {
    r.unwrap_or_else(|e| panic!("bench input is invalid: {e}"))
}

fn doc_create(id: DocId) -> DocCommand {
    DocCommand::Create {
        id,
        workspace_id: WorkspaceId(uuid::Uuid::nil()),
        actor: UserId(uuid::Uuid::nil()),
        role: Some(Role::Member),
        title: valid(DocTitle::parse("Quarterly plan")),
        body: valid(DocBody::parse("A short body, as most commands carry.")),
        mentions: vec![],
        attachments: vec![],
    }
}

fn doc_update(n: usize) -> DocCommand {
    DocCommand::Update {
        actor: UserId(uuid::Uuid::nil()),
        role: Some(Role::Member),
        title: None,
        body: Some(valid(DocBody::parse(&format!("revision {n} of a short body")))),
        mentions: vec![],
        attachments: None,
    }
}

fn doc_ids(writers: usize) -> Arc<Vec<DocId>> {
    Arc::new((0..writers * DOCS_PER_WRITER).map(|_| DocId::new()).collect())
}

/// Stock postgres-es 0.5: cqrs-es's `CqrsFramework`, no snapshots. Every command loads the
/// aggregate's events, handles, and appends in a transaction.
pub async fn pges(url: &str, writers: usize, secs: u64, w: Workload) -> anyhow::Result<Run> {
    let pool = pool(url, writers as u32 + 2).await?;
    let repo = PostgresEventRepository::new(pool).with_tables("pges_events", "pges_snapshots");
    let store = PersistedEventStore::<PostgresEventRepository, Doc>::new_event_store(repo);
    let cqrs = Arc::new(CqrsFramework::new(store, vec![], ()));
    let docs = doc_ids(writers);
    if w == Workload::Update {
        for id in docs.iter() {
            cqrs.execute(&id.to_string(), doc_create(*id)).await?;
        }
    }
    let n = Arc::new(AtomicUsize::new(0));
    Ok(drive(writers, secs, move || {
        let (cqrs, docs, n) = (cqrs.clone(), docs.clone(), n.clone());
        async move {
            match w {
                Workload::Create => {
                    let id = DocId::new();
                    cqrs.execute(&id.to_string(), doc_create(id)).await.is_ok()
                }
                Workload::Update => {
                    let i = n.fetch_add(1, Ordering::Relaxed);
                    cqrs.execute(&docs[i % docs.len()].to_string(), doc_update(i))
                        .await
                        .is_ok()
                }
            }
        }
    })
    .await)
}

/// Prism: `Commands::create` (new id: no load, expected version 0) and `Commands::execute`
/// (cached state, expected version checked by the append), over `PgEventStore` with group
/// commit as `prism serve` runs it.
pub async fn ours(url: &str, writers: usize, secs: u64, w: Workload) -> anyhow::Result<Run> {
    let pool = pool(url, writers as u32 + 2).await?;
    let commands = Arc::new(Commands::new(
        PgEventStore::new(pool, 100).with_group_commit(flushers(), 64),
        Jwt::new(b"bench-secret-bench-secret-bench-secret", Jwt::DEFAULT_TTL),
        PasswordHasherId::new(1024, 1).map_err(|e| anyhow::anyhow!("{e}"))?,
    ));
    let ctx = Arc::new(CommandContext::new(UserId::new()));
    let docs = doc_ids(writers);
    if w == Workload::Update {
        for id in docs.iter() {
            commands
                .create::<Doc>(&ctx, id.0, None, doc_create(*id), Effects::created())
                .await?;
        }
    }
    let n = Arc::new(AtomicUsize::new(0));
    Ok(drive(writers, secs, move || {
        let (commands, ctx, docs, n) = (commands.clone(), ctx.clone(), docs.clone(), n.clone());
        async move {
            match w {
                Workload::Create => {
                    let id = DocId::new();
                    commands
                        .create::<Doc>(&ctx, id.0, None, doc_create(id), Effects::created())
                        .await
                        .is_ok()
                }
                Workload::Update => {
                    let i = n.fetch_add(1, Ordering::Relaxed);
                    let id = docs[i % docs.len()];
                    commands.execute::<Doc>(&ctx, id.0, None, doc_update(i)).await.is_ok()
                }
            }
        }
    })
    .await)
}

/// Group-commit writers, as `prism serve` reads them (`PRISM_GROUP_COMMIT_WRITERS`, default 2).
fn flushers() -> usize {
    std::env::var("PRISM_GROUP_COMMIT_WRITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
}
