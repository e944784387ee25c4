//! `bench-write`: Prism's write path against stock postgres-es 0.5, side by side on the same
//! Postgres in one run, then the write API over HTTP. The last line printed is one JSON object.
//!
//! Two workloads on the same aggregate (`Doc`), one event per command, N concurrent writers
//! for a fixed time (see `kernel.rs`):
//! - `create` (the headline `pges_N` / `ours_N`): each command creates a doc under a new id, so
//!   every command hits a distinct aggregate. cqrs-es loads the (empty) history first, as its
//!   framework always does; Prism mints the id itself and appends at expected version 0
//!   without a load, which is how Prism's create commands work.
//! - `update` (`*_upd_N`): each writer edits its own 50 existing docs in turn. cqrs-es reloads
//!   every event of the doc each time; Prism serves it from its cache, and the append's
//!   expected version keeps the cache honest.

/// The same allocator as the `prism` binary, so the numbers are the service's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use prism_bench::{http, kernel};

use serde_json::{json, Value};

use prism_bench::kernel::Workload;

struct Args {
    seconds: u64,
    server: String,
    prism_bin: Option<String>,
    /// `--only webhooks` or `--only stalled-model`: that part alone (for profiling it).
    only: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        seconds: 10,
        server: "postgres://postgres@127.0.0.1:5432".into(),
        prism_bin: None,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        match k.as_str() {
            "--seconds" => a.seconds = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.seconds),
            "--server" => a.server = it.next().unwrap_or(a.server),
            "--prism-bin" => a.prism_bin = it.next(),
            "--only" => a.only = it.next(),
            _ => eprintln!("ignoring unknown argument {k}"),
        }
    }
    a
}

fn round2(x: f64) -> Value {
    json!((x * 100.0).round() / 100.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args();
    let url = http::fresh_database(&a.server, "prism_bench_write").await?;
    let setup = kernel::pool(&url, 1).await?;
    prism_event_store::db::migrate(&setup).await?;
    // postgres-es's own schema (its db/init.sql), under names that do not clash with ours.
    for ddl in [
        "CREATE TABLE pges_events (aggregate_type text NOT NULL, aggregate_id text NOT NULL,
           sequence bigint CHECK (sequence >= 0) NOT NULL, event_type text NOT NULL, event_version text NOT NULL,
           payload json NOT NULL, metadata json NOT NULL, PRIMARY KEY (aggregate_type, aggregate_id, sequence))",
        "CREATE TABLE pges_snapshots (aggregate_type text NOT NULL, aggregate_id text NOT NULL,
           last_sequence bigint CHECK (last_sequence >= 0) NOT NULL, current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL,
           payload json NOT NULL, PRIMARY KEY (aggregate_type, aggregate_id, last_sequence))",
    ] {
        sqlx::query(ddl).execute(&setup).await?;
    }
    let mut out = serde_json::Map::new();
    let kernel_runs = if a.only.is_some() {
        vec![]
    } else {
        vec![(Workload::Create, "", "create"), (Workload::Update, "upd_", "update")]
    };
    for (w, tag, name) in kernel_runs {
        for writers in [16usize, 64] {
            let p = kernel::pges(&url, writers, a.seconds, w).await?;
            println!("{}", p.line(&format!("{name} pges {writers} writers")));
            let o = kernel::ours(&url, writers, a.seconds, w).await?;
            println!("{}", o.line(&format!("{name} ours {writers} writers")));
            out.insert(format!("pges_{tag}{writers}"), json!(p.per_sec.round()));
            out.insert(format!("ours_{tag}{writers}"), json!(o.per_sec.round()));
            out.insert(format!("ratio_{tag}{writers}"), round2(o.per_sec / p.per_sec));
            out.insert(format!("pges_{tag}p99_ms_{writers}"), round2(p.p99_ms));
            out.insert(format!("ours_{tag}p99_ms_{writers}"), round2(o.p99_ms));
        }
    }
    if a.only.as_deref().is_none_or(|o| o == "webhooks") {
        let hooks = prism_bench::webhooks::run(&url, 300).await?;
        println!(
            "webhooks: {} deliveries to {} endpoints on a local receiver, {:.0}/s",
            hooks.deliveries,
            prism_bench::webhooks::ENDPOINTS,
            hooks.per_sec
        );
        out.insert("webhook_deliveries_per_s".into(), json!(hooks.per_sec.round()));
    }
    if let Some(bin) = a.prism_bin.as_ref().filter(|_| a.only.is_none()) {
        // What this Postgres commits with nothing else asked of it, in this run: the yardstick.
        let (raw, via) = prism_bench::raw::insert_tps(&url, 32, a.seconds).await?;
        println!("raw single-row insert commits, 32 clients ({via}): {raw:.0}/s");
        out.insert("raw_pg_insert_tps".into(), json!(raw.round()));
        let (h, turns, rss) = http::run_http(bin, &a.server, 32, a.seconds).await?;
        // A run of error answers (a 429, a 500) measures nothing.
        for (what, run) in [("messages", &h), ("turns", &turns)] {
            anyhow::ensure!(
                run.errors == 0 || (run.errors as f64) <= run.per_sec * 0.01 * a.seconds.max(1) as f64,
                "{} of the {what} answers were errors",
                run.errors
            );
        }
        println!(
            "{}  write-api peak rss {rss:.0} MB",
            h.line("http POST message, 32 conns")
        );
        out.insert("http_rps_32".into(), json!(h.per_sec.round()));
        out.insert("http_ratio".into(), json!((h.per_sec / raw * 1000.0).round() / 1000.0));
        out.insert("http_p99_ms_32".into(), round2(h.p99_ms));
        out.insert("write_api_rss_mb".into(), json!(rss.round()));
        println!("{}", turns.line("http POST turn (built-in provider), 32 conns"));
        out.insert("turn_rps_32".into(), json!(turns.per_sec.round()));
        out.insert("turn_p99_ms_32".into(), round2(turns.p99_ms));
        // One whole node: both APIs, the relay and every projector in one process.
        let (serve, serve_rss) = http::run_serve(bin, &a.server, 32, a.seconds).await?;
        anyhow::ensure!(
            (serve.errors as f64) <= serve.per_sec * 0.01 * a.seconds.max(1) as f64,
            "{} of the serve answers were errors",
            serve.errors
        );
        println!(
            "{}  serve peak rss {serve_rss:.0} MB",
            serve.line("prism serve, POST message, 32 conns")
        );
        out.insert("serve_rps_32".into(), json!(serve.per_sec.round()));
        out.insert("serve_p99_ms_32".into(), round2(serve.p99_ms));
        out.insert(
            "serve_ratio".into(),
            json!((serve.per_sec / raw * 1000.0).round() / 1000.0),
        );
        // The same turns with the safety gate's embedded model reading each one.
        if let Some(sem) = http::run_semantic_turns(bin, &a.server, 32, a.seconds).await? {
            println!("{}", sem.line("http POST turn, semantic stage on, 32 conns"));
            out.insert("turn_rps_32_semantic".into(), json!(sem.per_sec.round()));
            out.insert("turn_p99_ms_32_semantic".into(), round2(sem.p99_ms));
        }
    }
    if let Some(bin) = a
        .prism_bin
        .as_ref()
        .filter(|_| a.only.as_deref().is_none_or(|o| o == "stalled-model"))
    {
        // Eight people at a time, the model hanging: each waits at most the budget (3 s), and
        // nobody once the breaker is open. Target: p95 <= 3,500 ms.
        let stalled = http::run_stalled_model(bin, &a.server, 8, a.seconds).await?;
        println!(
            "{}  p95 {:.0} ms  max {:.0} ms",
            stalled.line("http POST turn, stalled model, 8 conns"),
            stalled.p95_ms,
            stalled.max_ms
        );
        anyhow::ensure!(
            stalled.errors == 0,
            "{} turns failed with the model stalled",
            stalled.errors
        );
        out.insert("turn_p95_ms_stalled_model".into(), round2(stalled.p95_ms));
        // The first turns wait the budget, until the breaker opens: the bound a person sees.
        out.insert("turn_max_ms_stalled_model".into(), round2(stalled.max_ms));
    }
    println!("{}", Value::Object(out));
    Ok(())
}
