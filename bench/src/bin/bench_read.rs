//! `bench-read`: the read side, measured. The last line printed is one JSON object:
//! - `lag_p50_ms`, `lag_p99_ms`: a command's append returning → the message visible in the read
//!   models (the projector's commit), at a steady rate (default 1,000 commands/s for 30 s),
//!   through the real relay, the in-process bus and projector (one node); `lag_nats_p50_ms`,
//!   `lag_nats_p99_ms` the same through NATS JetStream;
//! - `read_rps_32`, `read_p99_ms_32`: `GET /v1/channels/{id}/messages?limit=50` on the real read
//!   API binary at 32 connections (wrk), and `read_api_rss_mb`, its peak resident memory;
//! - `rebuild_events_per_s`: `prism_projections::rebuild` of every relational read model from a
//!   generated log (default 1,000,000 events);
//! - `sse_streams`, `sse_p50_ms`, `sse_p99_ms`: the live stream's fan-out — that many Server-Sent
//!   Events connections (default 1,000) to one read API node while messages are appended
//!   (default 20/s), append returned → event received on each stream; `sse_db_qps` the
//!   database's transactions per second meanwhile, beside `sse_db_qps_1` with one stream at the
//!   same write rate (the node's tail is shared, so the two should be alike).

/// The same allocator as the `prism` binary, so the numbers are the service's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use prism_auth::{Jwt, PasswordHasherId};
use prism_bench::http::{fresh_database, peak_rss_mb, wrk};
use prism_bench::kernel::pool;
use prism_bench::pct;
use prism_bus::relay::{self, RelayConfig};
use prism_bus::{Bus, LocalBus, NatsBus, NatsConfig};
use prism_commands::{CommandContext, Commands};
use prism_domain::WorkspaceId;
use prism_event_store::PgEventStore;
use prism_projections::read_models::{ReadModels, TABLES};
use prism_projections::{Projector, ProjectorConfig};
use serde_json::json;
use tokio::sync::watch;

const SECRET: &str = "bench-read-secret-bench-read-secret!!";
const MASTER_KEY: &str = "5555555555555555555555555555555555555555555555555555555555555555";

struct Args {
    seconds: u64,
    rate: u64,
    rebuild_events: i64,
    server: String,
    nats: String,
    prism_bin: Option<String>,
    sse_streams: usize,
    sse_rate: u64,
}

fn args() -> Args {
    let mut a = Args {
        seconds: 30,
        rate: 1000,
        rebuild_events: 1_000_000,
        server: "postgres://postgres@127.0.0.1:5432".into(),
        nats: "nats://127.0.0.1:4222".into(),
        prism_bin: None,
        sse_streams: 1000,
        sse_rate: 20,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next();
        match (k.as_str(), v) {
            ("--seconds", Some(v)) => a.seconds = v.parse().unwrap_or(a.seconds),
            ("--rate", Some(v)) => a.rate = v.parse().unwrap_or(a.rate),
            ("--rebuild-events", Some(v)) => a.rebuild_events = v.parse().unwrap_or(a.rebuild_events),
            ("--server", Some(v)) => a.server = v,
            ("--nats", Some(v)) => a.nats = v,
            ("--prism-bin", Some(v)) => a.prism_bin = Some(v),
            ("--sse-streams", Some(v)) => a.sse_streams = v.parse().unwrap_or(a.sse_streams),
            ("--sse-rate", Some(v)) => a.sse_rate = v.parse().unwrap_or(a.sse_rate),
            (k, _) => eprintln!("ignoring argument {k}"),
        }
    }
    a
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args();
    let mut out = serde_json::Map::new();

    // 1. Lag at a steady rate, through relay → JetStream → projector.
    let url = fresh_database(&a.server, "prism_bench_read").await?;
    let db = pool(&url, 40).await?;
    prism_event_store::db::migrate(&db).await?;
    let store = PgEventStore::new(db.clone(), 100).with_group_commit(2, 64);
    let jwt = Jwt::new(SECRET.as_bytes(), Jwt::DEFAULT_TTL);
    // The read API binary opens what these commands seal: one master key for both.
    let commands = Commands::new(
        store.clone(),
        jwt.clone(),
        PasswordHasherId::new(1024, 1).map_err(|e| anyhow::anyhow!("{e}"))?,
    )
    .with_master_key(prism_vault::MasterKey::parse(MASTER_KEY).map_err(|e| anyhow::anyhow!(e))?);
    let reg = commands
        .register("reader@example.com", "correct horse battery", "Reader", None)
        .await?;
    let owner = CommandContext::new(reg.user_id);
    let ws = WorkspaceId(commands.create_workspace(&owner, "Bench").await?.id);
    let channel = commands.create_channel(&owner, ws, "load").await?.id;

    // NATS first: its relay resumes from a checkpoint, so on a log that already held the other
    // run's events it would first publish those (the in-process bus starts at the head).
    let buses: [(&str, Arc<dyn Bus>); 2] = [
        (
            "lag_nats",
            Arc::new(NatsBus::new(
                a.nats.clone(),
                NatsConfig {
                    prefix: format!("bench{}", std::process::id()),
                    ..Default::default()
                },
            )),
        ),
        ("lag", Arc::new(LocalBus::new())),
    ];
    for (label, bus) in buses {
        let l = lag(&a, &store, &commands, &owner, channel, bus).await?;
        out.insert(format!("{label}_p50_ms"), json!((pct(&l, 0.5) * 100.0).round() / 100.0));
        out.insert(
            format!("{label}_p99_ms"),
            json!((pct(&l, 0.99) * 100.0).round() / 100.0),
        );
    }

    // 2. Reads through the read API binary.
    if let Some(bin) = &a.prism_bin {
        let mut child = Command::new(bin)
            .arg("read-api")
            .env("PRISM_DATABASE_URL", &url)
            .env("PRISM_READ_ADDR", "127.0.0.1:0")
            .env("PRISM_JWT_SECRET", SECRET)
            .env("PRISM_MASTER_KEY", MASTER_KEY)
            .env("PRISM_BUS_KEY", "bench-bus-key-bench-bus-key-bench-bus-key")
            .env("RUST_LOG", "warn,prism=info")
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().context("stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("addr=").nth(1) {
                    let _ = tx.send(addr.split_whitespace().next().unwrap_or_default().to_owned());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .context("read api did not start")?;
        let token = jwt.issue(reg.user_id, vec![]).map_err(|e| anyhow::anyhow!("{e}"))?;
        // A new node first indexes the whole log for search: measure reads once it has (a
        // search at the head's position answers 200 then), not its catch-up.
        let head = store.head().await?;
        let client = reqwest::Client::new();
        let caught_up = Instant::now() + Duration::from_secs(120);
        loop {
            let status = client
                .get(format!("http://{addr}/v1/search?q=message"))
                .bearer_auth(&token)
                .header("x-min-position", head.to_string())
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0);
            if status == 200 {
                break;
            }
            anyhow::ensure!(
                Instant::now() < caught_up,
                "the read node never caught up (last answer {status})"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let target = format!("http://{addr}/v1/channels/{channel}/messages?limit=50");
        let run = wrk(&target, &token, None, 32, a.seconds.min(15)).context("wrk is needed for the read benchmark")?;
        let rss = peak_rss_mb(child.id());
        println!(
            "{}  read-api peak rss {rss:.0} MB",
            run.line("http GET messages, 32 conns")
        );
        // A run of error answers measures nothing.
        let secs = a.seconds.min(15) as f64;
        anyhow::ensure!(
            (run.errors as f64) <= run.per_sec * secs * 0.01,
            "{} of the read answers were errors",
            run.errors
        );
        out.insert("read_rps_32".into(), json!(run.per_sec.round()));
        out.insert("read_p99_ms_32".into(), json!((run.p99_ms * 100.0).round() / 100.0));
        out.insert("read_api_rss_mb".into(), json!(rss.round()));
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let _ = child.wait();
    }

    // 3. The live stream's fan-out: many streams, then one, at the same write rate.
    let sse_seconds = a.seconds.min(15);
    let many = prism_bench::sse::fan_out(
        &fresh_database(&a.server, "prism_bench_sse").await?,
        a.sse_streams,
        a.sse_rate,
        sse_seconds,
    )
    .await?;
    let one = prism_bench::sse::fan_out(
        &fresh_database(&a.server, "prism_bench_sse1").await?,
        1,
        a.sse_rate,
        sse_seconds,
    )
    .await?;
    println!(
        "sse: {} streams, {} deliveries: p50 {:.2} ms  p99 {:.2} ms; db {:.0} tx/s (1 stream: {:.0} tx/s)",
        many.streams, many.deliveries, many.p50_ms, many.p99_ms, many.db_tps, one.db_tps
    );
    anyhow::ensure!(
        many.deliveries as u64 >= (many.streams as u64) * a.sse_rate * sse_seconds * 95 / 100,
        "only {} deliveries reached {} streams",
        many.deliveries,
        many.streams
    );
    out.insert("sse_streams".into(), json!(many.streams));
    out.insert("sse_p50_ms".into(), json!((many.p50_ms * 100.0).round() / 100.0));
    out.insert("sse_p99_ms".into(), json!((many.p99_ms * 100.0).round() / 100.0));
    out.insert("sse_db_qps".into(), json!(many.db_tps.round()));
    out.insert("sse_db_qps_1".into(), json!(one.db_tps.round()));

    // 4. Rebuild every relational read model from a large log.
    let url = fresh_database(&a.server, "prism_bench_rebuild").await?;
    let db = pool(&url, 4).await?;
    prism_event_store::db::migrate(&db).await?;
    let t = Instant::now();
    generate_log(&db, a.rebuild_events).await?;
    println!(
        "generated {} events in {:.1} s",
        a.rebuild_events,
        t.elapsed().as_secs_f64()
    );
    let store = PgEventStore::new(db.clone(), 0);
    let report = prism_projections::rebuild::rebuild(&store, &ReadModels, TABLES, 5_000, |_| {}).await?;
    let per_s = report.applied as f64 / report.seconds;
    println!(
        "rebuilt read models from {} events in {:.1} s: {per_s:.0} events/s",
        report.applied, report.seconds
    );
    out.insert("rebuild_events_per_s".into(), json!(per_s.round()));

    println!("{}", serde_json::Value::Object(out));
    Ok(())
}

/// A log of `n` events: 10 workspaces with 10 channels each, the rest messages (some edited,
/// some with reactions), written in bulk with valid payloads (the chain hash is not checked by
/// a rebuild, so a placeholder is used).
async fn generate_log(db: &sqlx::PgPool, n: i64) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO events (event_id, tenant_id, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, recorded_at, hash)
         SELECT gen_random_uuid(), w, 'workspace', w, 1, 'workspace.created', 1,
                jsonb_build_object('workspace_id', w, 'name', 'ws', 'owner_id', w, 'join_code', 'X'), '{}', now(), '\\x00'
           FROM (SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid AS w FROM generate_series(1, 10) i) s",
    )
    .execute(db)
    .await?;
    sqlx::query(
        "INSERT INTO events (event_id, tenant_id, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, recorded_at, hash)
         SELECT gen_random_uuid(), w, 'channel', c, 1, 'channel.created', 1,
                jsonb_build_object('channel_id', c, 'workspace_id', w, 'name', 'c' || j, 'created_by', w), '{}', now(), '\\x00'
           FROM (SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid AS w,
                        ('00000000-0000-7000-9000-' || lpad(to_hex(i * 100 + j), 12, '0'))::uuid AS c, j
                   FROM generate_series(1, 10) i, generate_series(1, 10) j) s",
    )
    .execute(db)
    .await?;
    let messages = (n - 110).max(0);
    sqlx::query(
        "INSERT INTO events (event_id, tenant_id, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, recorded_at, hash)
         SELECT gen_random_uuid(), w, 'message', m, 1, 'message.created', 2,
                jsonb_build_object('message_id', m, 'workspace_id', w, 'channel_id', c, 'author_id', w,
                                   'body', 'message number ' || k || ' with an ordinary amount of text in it', 'parent_id', NULL),
                '{}', now(), '\\x00'
           FROM (SELECT k, ('00000000-0000-7000-8000-' || lpad(to_hex(1 + k % 10), 12, '0'))::uuid AS w,
                        ('00000000-0000-7000-9000-' || lpad(to_hex((1 + k % 10) * 100 + 1 + (k / 10) % 10), 12, '0'))::uuid AS c,
                        ('00000000-0000-7000-a000-' || lpad(to_hex(k), 12, '0'))::uuid AS m
                   FROM generate_series(1, $1) k) s",
    )
    .bind(messages)
    .execute(db)
    .await?;
    Ok(())
}

/// Commands at `a.rate` for `a.seconds` through a relay and the read models' projector on `bus`:
/// append returned → visible, in ms, sorted.
async fn lag(
    a: &Args,
    store: &PgEventStore,
    commands: &Commands,
    owner: &CommandContext,
    channel: uuid::Uuid,
    bus: Arc<dyn Bus>,
) -> anyhow::Result<Vec<f64>> {
    let (stop, stopped) = watch::channel(false);
    let relay = tokio::spawn(relay::run(
        store.clone(),
        bus.clone(),
        RelayConfig::default(),
        stopped.clone(),
    ));
    let projector = Projector::new(
        store.clone(),
        Arc::new(ReadModels),
        ProjectorConfig::new(bus.clone(), 256),
    );
    // Caught up before the clock starts.
    projector.catch_up().await?;
    let mut visible = projector.subscribe();
    let projector = tokio::spawn(projector.run(stopped));
    // position → when its command returned; the watcher turns them into lags as they show up.
    let pending: Arc<Mutex<BTreeMap<i64, Instant>>> = Arc::default();
    let lags: Arc<Mutex<Vec<f64>>> = Arc::default();
    let watcher = {
        let (pending, lags) = (pending.clone(), lags.clone());
        tokio::spawn(async move {
            while visible.changed().await.is_ok() {
                let at = *visible.borrow_and_update();
                let now = Instant::now();
                let mut p = pending.lock().unwrap_or_else(|e| e.into_inner());
                let done: Vec<i64> = p.range(..=at).map(|(k, _)| *k).collect();
                let mut l = lags.lock().unwrap_or_else(|e| e.into_inner());
                for k in done {
                    if let Some(t) = p.remove(&k) {
                        l.push(now.duration_since(t).as_secs_f64() * 1000.0);
                    }
                }
            }
        })
    };
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / a.rate.max(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    let mut writers = tokio::task::JoinSet::new();
    let mut sent = 0u64;
    while Instant::now() < deadline {
        ticker.tick().await;
        let (c, owner, pending) = (commands.clone(), owner.clone(), pending.clone());
        sent += 1;
        writers.spawn(async move {
            if let Ok(Some(position)) = c
                .post_message(
                    &owner,
                    channel,
                    "a message of ordinary length for a chat, about sixty characters",
                    None,
                )
                .await
                .map(|o| o.position)
            {
                pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(position, Instant::now());
            }
        });
        while writers.try_join_next().is_some() {}
    }
    while writers.join_next().await.is_some() {}
    // Let the last ones show up.
    let settle = Instant::now() + Duration::from_secs(10);
    while !pending.lock().unwrap_or_else(|e| e.into_inner()).is_empty() && Instant::now() < settle {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut l = lags.lock().unwrap_or_else(|e| e.into_inner()).clone();
    l.sort_by(|x, y| x.total_cmp(y));
    println!(
        "{} lag over {} commands at {}/s for {} s: p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        bus.name(),
        l.len(),
        a.rate,
        a.seconds,
        pct(&l, 0.5),
        pct(&l, 0.99),
        pct(&l, 1.0)
    );
    anyhow::ensure!(
        l.len() as u64 * 100 >= sent * 99,
        "only {} of {sent} commands became visible",
        l.len()
    );
    let _ = stop.send(true);
    let _ = relay.await;
    let _ = projector.await;
    watcher.abort();
    Ok(l)
}
