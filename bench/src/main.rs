//! `bench-write`: Prism's write path against stock postgres-es 0.5, side by side on the same
//! Postgres in one run, then the write API over HTTP. The last line printed is one JSON object.
//!
//! Both sides run the same command on the same aggregate (`Doc`, create: a single-event command
//! on a distinct aggregate each time) with N concurrent writers for a fixed duration:
//! - `pges`: cqrs-es's `CqrsFramework` over `postgres_es::PostgresEventStore`, no snapshots;
//! - `ours`: `prism_commands::Commands::execute` (load → handle → append) over `PgEventStore`.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use cqrs_es::CqrsFramework;
use postgres_es::PostgresEventStore;
use prism_auth::{Jwt, PasswordHasherId};
use prism_commands::{CommandContext, Commands};
use prism_domain::aggregates::{Doc, DocCommand};
use prism_domain::values::{DocBody, DocTitle};
use prism_domain::{DocId, Role, UserId, WorkspaceId};
use prism_event_store::PgEventStore;
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

struct Args {
    seconds: u64,
    server: String,
    prism_bin: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        seconds: 10,
        server: "postgres://postgres@127.0.0.1:5432".into(),
        prism_bin: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        match k.as_str() {
            "--seconds" => a.seconds = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.seconds),
            "--server" => a.server = it.next().unwrap_or(a.server),
            "--prism-bin" => a.prism_bin = it.next(),
            _ => eprintln!("ignoring unknown argument {k}"),
        }
    }
    a
}

/// Commands per second and latency percentiles of one run.
struct Run {
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

fn summarise(mut lat_us: Vec<u32>, errors: u64, elapsed: Duration) -> Run {
    lat_us.sort_unstable();
    let pct = |p: f64| {
        lat_us
            .get(((lat_us.len() as f64 * p) as usize).min(lat_us.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    Run {
        per_sec: lat_us.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        errors,
    }
}

fn doc_create(id: DocId) -> DocCommand {
    DocCommand::Create {
        id,
        workspace_id: WorkspaceId(uuid::Uuid::nil()),
        actor: UserId(uuid::Uuid::nil()),
        role: Some(Role::Member),
        title: DocTitle::parse("Quarterly plan").unwrap_or_else(|_| unreachable!()),
        body: DocBody::parse("A short body, as most commands carry.")
            .unwrap_or_else(|_| unreachable!()),
    }
}

/// Runs `writers` tasks calling `op` until `secs` have passed.
async fn drive<F, Fut>(writers: usize, secs: u64, op: F) -> Run
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors) = (Vec::with_capacity(100_000), 0u64);
            while Instant::now() < deadline {
                let t = Instant::now();
                if op().await {
                    lat.push(t.elapsed().as_micros() as u32);
                } else {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    for t in tasks {
        if let Ok((lat, e)) = t.await {
            all.extend(lat);
            errors += e;
        }
    }
    summarise(all, errors, start.elapsed())
}

async fn pool(url: &str, n: u32) -> anyhow::Result<PgPool> {
    Ok(PgPoolOptions::new().max_connections(n).connect(url).await?)
}

async fn run_pges(url: &str, writers: usize, secs: u64) -> anyhow::Result<Run> {
    let pool = pool(url, writers as u32 + 2).await?;
    let store = PostgresEventStore::<Doc>::new(pool).with_tables("pges_events", "pges_snapshots");
    let cqrs = Arc::new(CqrsFramework::new(store, vec![], ()));
    Ok(drive(writers, secs, move || {
        let cqrs = cqrs.clone();
        async move {
            let id = DocId::new();
            cqrs.execute(&id.to_string(), doc_create(id)).await.is_ok()
        }
    })
    .await)
}

async fn run_ours(url: &str, writers: usize, secs: u64) -> anyhow::Result<Run> {
    let pool = pool(url, writers as u32 + 2).await?;
    let commands = Arc::new(Commands::new(
        PgEventStore::new(pool, 100),
        Jwt::new(b"bench-secret-bench-secret-bench-secret", Jwt::DEFAULT_TTL),
        PasswordHasherId::new(1024, 1).map_err(|e| anyhow::anyhow!("{e}"))?,
    ));
    let ctx = Arc::new(CommandContext::new(UserId::new()));
    Ok(drive(writers, secs, move || {
        let (commands, ctx) = (commands.clone(), ctx.clone());
        async move {
            let id = DocId::new();
            commands
                .execute::<Doc>(&ctx, id.0, None, doc_create(id))
                .await
                .is_ok()
        }
    })
    .await)
}

async fn fresh_database(server: &str, name: &str) -> anyhow::Result<String> {
    let admin = pool(&format!("{server}/postgres"), 1)
        .await
        .context("connecting to postgres")?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await?;
    Ok(format!("{server}/{name}"))
}

/// Starts the write API binary on a free port; answers the child and its address.
fn spawn_write_api(bin: &str, db_url: &str) -> anyhow::Result<(Child, String)> {
    let status = Command::new(bin)
        .arg("migrate")
        .env("PRISM_DATABASE_URL", db_url)
        .stdout(Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "prism migrate failed");
    let mut child = Command::new(bin)
        .arg("write-api")
        .env("PRISM_DATABASE_URL", db_url)
        .env("PRISM_WRITE_ADDR", "127.0.0.1:0")
        .env("PRISM_JWT_SECRET", "bench-secret-bench-secret-bench-secret")
        .env("RUST_LOG", "warn,prism=info")
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().context("stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(addr) = line.split("addr=").nth(1) {
                let _ = tx.send(
                    addr.split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .context("write api did not start")?;
    Ok((child, addr))
}

fn peak_rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

async fn run_http(
    bin: &str,
    server: &str,
    connections: usize,
    secs: u64,
) -> anyhow::Result<(Run, f64)> {
    let db = fresh_database(server, "prism_bench_http").await?;
    let (mut child, addr) = spawn_write_api(bin, &db)?;
    let base = format!("http://{addr}");
    let c = reqwest::Client::new();
    let reg: Value = c
        .post(format!("{base}/v1/auth/register"))
        .json(&json!({"email": "bench@example.com", "password": "correct horse battery", "name": "Bench"}))
        .send()
        .await?
        .json()
        .await?;
    let token = reg["access_token"].as_str().context("no token")?.to_owned();
    let ws: Value = c
        .post(format!("{base}/v1/workspaces"))
        .bearer_auth(&token)
        .json(&json!({"name": "Bench"}))
        .send()
        .await?
        .json()
        .await?;
    let ws = ws["id"].as_str().context("no workspace")?.to_owned();
    let ch: Value = c
        .post(format!("{base}/v1/workspaces/{ws}/channels"))
        .bearer_auth(&token)
        .json(&json!({"name": "load"}))
        .send()
        .await?
        .json()
        .await?;
    let url = Arc::new(format!(
        "{base}/v1/channels/{}/messages",
        ch["id"].as_str().context("no channel")?
    ));
    let token = Arc::new(format!("Bearer {token}"));
    // One client per connection, as a load tool would hold them.
    let clients: Arc<Vec<reqwest::Client>> = Arc::new(
        (0..connections)
            .map(|_| reqwest::Client::builder().pool_max_idle_per_host(1).build())
            .collect::<Result<_, _>>()?,
    );
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let body = r#"{"body":"a message of ordinary length for a chat, about sixty characters"}"#;
    let run = drive(connections, secs, move || {
        let (url, token, clients, next) =
            (url.clone(), token.clone(), clients.clone(), next.clone());
        async move {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % clients.len();
            let res = clients[i]
                .post(url.as_str())
                .header("authorization", token.as_str())
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            matches!(res, Ok(r) if r.status().as_u16() == 201)
        }
    })
    .await;
    let rss = peak_rss_mb(child.id());
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    Ok((run, rss))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args();
    let url = fresh_database(&a.server, "prism_bench_write").await?;
    let setup = pool(&url, 1).await?;
    prism_event_store::db::migrate(&setup).await?;
    for ddl in [
        "CREATE TABLE pges_events (aggregate_type text NOT NULL, aggregate_id text NOT NULL, sequence bigint CHECK (sequence >= 0) NOT NULL,
           event_type text NOT NULL, event_version text NOT NULL, payload json NOT NULL, metadata json NOT NULL,
           PRIMARY KEY (aggregate_type, aggregate_id, sequence))",
        "CREATE TABLE pges_snapshots (aggregate_type text NOT NULL, aggregate_id text NOT NULL, last_sequence bigint CHECK (last_sequence >= 0) NOT NULL,
           current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL, payload json NOT NULL, PRIMARY KEY (aggregate_type, aggregate_id, last_sequence))",
    ] {
        sqlx::query(ddl).execute(&setup).await?;
    }
    let mut out = serde_json::Map::new();
    for writers in [16usize, 64] {
        let p = run_pges(&url, writers, a.seconds).await?;
        println!(
            "pges {writers:>2} writers: {:>8.0} cmd/s  p50 {:>6.2} ms  p99 {:>7.2} ms  errors {}",
            p.per_sec, p.p50_ms, p.p99_ms, p.errors
        );
        let o = run_ours(&url, writers, a.seconds).await?;
        println!(
            "ours {writers:>2} writers: {:>8.0} cmd/s  p50 {:>6.2} ms  p99 {:>7.2} ms  errors {}",
            o.per_sec, o.p50_ms, o.p99_ms, o.errors
        );
        out.insert(format!("pges_{writers}"), json!(p.per_sec.round()));
        out.insert(format!("ours_{writers}"), json!(o.per_sec.round()));
        out.insert(
            format!("ratio_{writers}"),
            json!((o.per_sec / p.per_sec * 100.0).round() / 100.0),
        );
        out.insert(
            format!("pges_p99_ms_{writers}"),
            json!((p.p99_ms * 100.0).round() / 100.0),
        );
        out.insert(
            format!("ours_p99_ms_{writers}"),
            json!((o.p99_ms * 100.0).round() / 100.0),
        );
    }
    if let Some(bin) = &a.prism_bin {
        let (h, rss) = run_http(bin, &a.server, 32, a.seconds).await?;
        println!("http 32 connections: {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>7.2} ms  errors {}  write-api peak rss {:.0} MB", h.per_sec, h.p50_ms, h.p99_ms, h.errors, rss);
        out.insert("http_rps_32".into(), json!(h.per_sec.round()));
        out.insert(
            "http_p99_ms_32".into(),
            json!((h.p99_ms * 100.0).round() / 100.0),
        );
        out.insert("write_api_rss_mb".into(), json!(rss.round()));
    }
    println!("{}", Value::Object(out));
    Ok(())
}
