//! The write API over HTTP: the real binary on a fresh database, loaded at N connections.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde_json::{json, Value};

use crate::drive::{drive, Run};
use crate::kernel::pool;

pub async fn fresh_database(server: &str, name: &str) -> anyhow::Result<String> {
    let admin = pool(&format!("{server}/postgres"), 1)
        .await
        .context("connecting to postgres")?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await?;
    Ok(format!("{server}/{name}"))
}

/// Starts the write API binary on a free port; answers the child and its address.
fn spawn_write_api(bin: &str, db_url: &str, env: &[(&str, &str)]) -> anyhow::Result<(Child, String)> {
    spawn_prism(bin, "write-api", db_url, env)
}

/// Starts `prism <command>` (`write-api`, or `serve`: both APIs and every projector in one
/// process) on free ports; answers the child and its write API's address.
fn spawn_prism(bin: &str, command: &str, db_url: &str, env: &[(&str, &str)]) -> anyhow::Result<(Child, String)> {
    let status = Command::new(bin)
        .arg("migrate")
        .env("PRISM_DATABASE_URL", db_url)
        .stdout(Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "prism migrate failed");
    let data = std::env::temp_dir().join(format!("prism-bench-{command}-{}", std::process::id()));
    let mut child = Command::new(bin)
        .arg(command)
        .env("PRISM_DATABASE_URL", db_url)
        .env("PRISM_WRITE_ADDR", "127.0.0.1:0")
        .env("PRISM_READ_ADDR", "127.0.0.1:0")
        .env("PRISM_DATA_DIR", &data)
        .env("PRISM_JWT_SECRET", "bench-secret-bench-secret-bench-secret")
        // The bench measures the turn path, not the plan: an allowance it cannot run out of.
        .env("PRISM_QUOTAS", "free.turn=1000000000")
        // Nor the per-session rate limit: one token drives all the load.
        .env("PRISM_RATE_LIMITS", "commands_session=1000000000/1")
        .env("PRISM_MASTER_KEY", "5".repeat(64))
        // The rules alone unless a run asks for the semantic stage (see `run_semantic_turns`).
        .env_remove("PRISM_SAFETY_MODEL_DIR")
        .env("RUST_LOG", "warn,prism=info")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().context("stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if !line.contains("write api listening") {
                continue;
            }
            if let Some(addr) = line.split("addr=").nth(1) {
                let _ = tx.send(addr.split_whitespace().next().unwrap_or_default().to_owned());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .context("write api did not start")?;
    Ok((child, addr))
}

pub fn peak_rss_mb(pid: u32) -> f64 {
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

/// The write API under load: posting messages, then requesting turns (the built-in AI provider);
/// answers both runs and the server's peak resident memory.
pub async fn run_http(bin: &str, server: &str, connections: usize, secs: u64) -> anyhow::Result<(Run, Run, f64)> {
    let db = fresh_database(server, "prism_bench_http").await?;
    let (mut child, addr) = spawn_write_api(bin, &db, &[])?;
    let base = format!("http://{addr}");
    let c = reqwest::Client::new();
    let token = register(&c, &base).await?;
    let url = message_url(&c, &base, &token).await?;
    let run = post_load(url, &token, MESSAGE, connections, secs).await?;
    let turns = format!("{base}/v1/turns");
    let thought = r#"{"text":"I always mess up presentations and everyone must think I am useless."}"#;
    let turn_run = post_load(turns, &token, thought, connections, secs).await?;
    let rss = peak_rss_mb(child.id());
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    Ok((run, turn_run, rss))
}

/// A whole `prism serve` (both APIs, the relay and every projector in one process) under the
/// same message load as [`run_http`]: what one node does with its projections running.
pub async fn run_serve(bin: &str, server: &str, connections: usize, secs: u64) -> anyhow::Result<(Run, f64)> {
    let db = fresh_database(server, "prism_bench_serve").await?;
    let (mut child, addr) = spawn_prism(
        bin,
        "serve",
        &db,
        &[("PRISM_BUS_KEY", "bench-bus-key-bench-bus-key-bench-bus-key")],
    )?;
    let base = format!("http://{addr}");
    let c = reqwest::Client::new();
    let token = register(&c, &base).await?;
    let url = message_url(&c, &base, &token).await?;
    let run = post_load(url, &token, MESSAGE, connections, secs).await?;
    let rss = peak_rss_mb(child.id());
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    Ok((run, rss))
}

/// A workspace with a channel, made by `token`'s user: its messages URL.
async fn message_url(c: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<String> {
    let ws: Value = c
        .post(format!("{base}/v1/workspaces"))
        .bearer_auth(token)
        .json(&json!({"name": "Bench"}))
        .send()
        .await?
        .json()
        .await?;
    let ws = ws["id"].as_str().context("no workspace")?.to_owned();
    let ch: Value = c
        .post(format!("{base}/v1/workspaces/{ws}/channels"))
        .bearer_auth(token)
        .json(&json!({"name": "load"}))
        .send()
        .await?
        .json()
        .await?;
    Ok(format!(
        "{base}/v1/channels/{}/messages",
        ch["id"].as_str().context("no channel")?
    ))
}

/// A message body of ordinary length, as every message run posts it.
const MESSAGE: &str = r#"{"body":"a message of ordinary length for a chat, about sixty characters"}"#;

/// POSTs `body` to `url` as `token` over `connections` for `secs`: with wrk (C, a fraction of
/// a core) when installed, so the load generator takes as little as possible of the cores the
/// server shares with it; with our own client otherwise.
async fn post_load(url: String, token: &str, body: &'static str, connections: usize, secs: u64) -> anyhow::Result<Run> {
    match wrk(&url, token, Some(body), connections, secs) {
        Some(run) => Ok(run),
        None => builtin_client(url, token.to_owned(), body, connections, secs).await,
    }
}

async fn register(c: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let reg: Value = c
        .post(format!("{base}/v1/auth/register"))
        .json(&json!({"email": "bench@example.com", "password": "correct horse battery", "name": "Bench"}))
        .send()
        .await?
        .json()
        .await?;
    Ok(reg["access_token"].as_str().context("no token")?.to_owned())
}

/// Turns with the safety gate's semantic stage on (`PRISM_SAFETY_MODEL_DIR`, which
/// `scripts/bench-write` fetches): what the embedded model costs a turn. `None` without it.
pub async fn run_semantic_turns(bin: &str, server: &str, connections: usize, secs: u64) -> anyhow::Result<Option<Run>> {
    let Ok(dir) = std::env::var("PRISM_SAFETY_MODEL_DIR") else {
        return Ok(None);
    };
    let db = fresh_database(server, "prism_bench_semantic_turns").await?;
    let (mut child, addr) = spawn_write_api(bin, &db, &[("PRISM_SAFETY_MODEL_DIR", &dir)])?;
    let base = format!("http://{addr}");
    let token = register(&reqwest::Client::new(), &base).await?;
    let thought = r#"{"text":"I always mess up presentations and everyone must think I am useless."}"#;
    let turns = format!("{base}/v1/turns");
    let run = post_load(turns, &token, thought, connections, secs).await?;
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    Ok(Some(run))
}

/// Turns while the model at `PRISM_AI_URL` accepts connections and never answers (the most
/// common way a model server fails), with the default `PRISM_AI_BUDGET_MS`: what people wait.
/// Every turn must still be a 201 (from the built-in provider).
pub async fn run_stalled_model(bin: &str, server: &str, connections: usize, secs: u64) -> anyhow::Result<Run> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let model = format!("http://{}", listener.local_addr()?);
    let stalled = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let db = fresh_database(server, "prism_bench_stalled_model").await?;
    let (mut child, addr) = spawn_write_api(bin, &db, &[("PRISM_AI_URL", &model)])?;
    let base = format!("http://{addr}");
    let token = register(&reqwest::Client::new(), &base).await?;
    let thought = r#"{"text":"I always mess up presentations and everyone must think I am useless."}"#;
    let run = builtin_client(format!("{base}/v1/turns"), token, thought, connections, secs).await;
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    stalled.abort();
    run
}

async fn builtin_client(
    url: String,
    token: String,
    body: &'static str,
    connections: usize,
    secs: u64,
) -> anyhow::Result<Run> {
    let (url, token) = (Arc::new(url), Arc::new(format!("Bearer {token}")));
    // One client per connection, as a load tool would hold them.
    let clients: Arc<Vec<reqwest::Client>> = Arc::new(
        (0..connections)
            .map(|_| reqwest::Client::builder().pool_max_idle_per_host(1).build())
            .collect::<Result<_, _>>()?,
    );
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    Ok(drive(connections, secs, move || {
        let (url, token, clients, next) = (url.clone(), token.clone(), clients.clone(), next.clone());
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
    .await)
}

/// Runs `wrk` with a POST script; `None` when wrk is not installed.
/// `body`: a POST of that JSON; `None`: a GET.
pub fn wrk(url: &str, token: &str, body: Option<&str>, connections: usize, secs: u64) -> Option<Run> {
    let script = std::env::temp_dir().join(format!("prism-bench-{}.lua", std::process::id()));
    let lua = match body {
        Some(body) => format!(
            "wrk.method = \"POST\"\nwrk.body = '{body}'\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"Authorization\"] = \"Bearer {token}\"\n"
        ),
        None => format!("wrk.method = \"GET\"\nwrk.headers[\"Authorization\"] = \"Bearer {token}\"\n"),
    };
    std::fs::write(&script, lua).ok()?;
    let out = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{secs}s"),
            "--latency",
            "-s",
        ])
        .arg(&script)
        .arg(url)
        .output()
        .ok()?;
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&out.stdout);
    let number = |prefix: &str| -> Option<f64> {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    let ms = |prefix: &str| -> Option<f64> {
        let v = text
            .lines()
            .find_map(|l| l.trim().strip_prefix(prefix))?
            .trim()
            .to_owned();
        let (n, unit) = v.split_at(v.find(|c: char| c.is_alphabetic())?);
        let n: f64 = n.parse().ok()?;
        Some(match unit {
            "us" => n / 1000.0,
            "ms" => n,
            "s" => n * 1000.0,
            _ => return None,
        })
    };
    let errors = number("Non-2xx or 3xx responses:").unwrap_or(0.0) as u64
        + text
            .lines()
            .find(|l| l.trim().starts_with("Socket errors:"))
            .map(|_| 1)
            .unwrap_or(0);
    Some(Run {
        per_sec: number("Requests/sec:")?,
        p50_ms: ms("50%")?,
        p95_ms: f64::NAN,
        max_ms: f64::NAN,
        p99_ms: ms("99%")?,
        errors,
    })
}
