//! `scripts/chaos`: Prism scaled out on this machine, under steady load, with a part killed in
//! turn. It runs
//! - three `nats-server`s in one cluster, the events stream at three replicas;
//! - a private Postgres primary and a streaming replica (`pg_basebackup -R`) serving both read
//!   APIs;
//! - two each of `prism write-api`, `read-api`, `relay` and `project`.
//!
//! Clients post messages through both write APIs; one that gets no answer retries on the other
//! node with the same `Idempotency-Key`. Then, in turn, `kill -9`: the active relay, the NATS
//! node leading the events stream, the active read-models projector, a write API, and the replica
//! (each part but the replica is restarted afterwards, as a supervisor would). At the end every
//! acknowledged message must be on both read nodes exactly once.
//!
//! Last line, one JSON object: `{acked, lost, dup, client_errors, replicas, takeover_relay_ms,
//! takeover_projector_ms, lag_p50_ms, lag_p99_ms, lag_max_ms, bus_share}`. A takeover is the time
//! from the kill to the standby holding the lease; lag, from a write's acknowledgement to a read
//! node answering at its position (through the replica: what a client sees); `bus_share`, the
//! projectors' events that came over the bus rather than from the Postgres log, outside the
//! ten seconds right after the NATS kill (NATS's own raft elections: 4–9 s).
//!
//! It also measures what a replicated stream costs the relay here: events published per second
//! to an R1 and an R3 stream of the same cluster, in the relay's batches (`publish_r1_per_s`,
//! `publish_r3_per_s`), and says the load it ran (`rate`).
//!
//! Usage: `chaos --prism-bin target/release/prism [--rate 100] [--gap 6]`

#[path = "../../../tests/support/nats_cluster.rs"]
mod cluster;
#[path = "../../../tests/support/postgres.rs"]
mod postgres;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{json, Value};

const SECRET: &str = "chaos-jwt-secret-chaos-jwt-secret-chaos!!";
const MASTER_KEY: &str = "6368616f732d6d61737465722d6b65792d6368616f732d6d61737465722d6b65";
const BUS_KEY: &str = "chaos-bus-key-chaos-bus-key-chaos-bus-key";
const USERS: usize = 8;

struct Args {
    bin: PathBuf,
    /// Messages per second, all clients together.
    rate: f64,
    /// Seconds between kills.
    gap: u64,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        bin: PathBuf::from("target/release/prism"),
        rate: 100.0,
        gap: 6,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().with_context(|| format!("{k} needs a value"))?;
        match k.as_str() {
            "--prism-bin" => a.bin = v.into(),
            "--rate" => a.rate = v.parse()?,
            "--gap" => a.gap = v.parse()?,
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    Ok(a)
}

/// One Prism process, restartable with the same settings.
struct Part {
    name: String,
    command: &'static str,
    env: Vec<(String, String)>,
    child: Option<Child>,
    log: PathBuf,
    /// Where its `/metrics` is.
    metrics: Option<String>,
    /// Its HTTP base, for an API.
    base: Option<String>,
    /// Restarts so far (a restarted process starts its counters at zero).
    incarnation: u32,
}

impl Part {
    fn spawn(&mut self, bin: &PathBuf) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log)?;
        let child = Command::new(bin)
            .arg(self.command)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.name))?;
        self.child = Some(child);
        self.incarnation += 1;
        Ok(())
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill(); // SIGKILL
            let _ = c.wait();
        }
    }
}

impl Drop for Part {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// One scrape of one process incarnation: when, its name and incarnation, its bus and log
/// counts.
type Scrape = (Instant, String, u32, f64, f64);

#[derive(Clone)]
struct Ack {
    body: String,
    position: i64,
    at: Instant,
}

struct World {
    http: reqwest::Client,
    writes: Vec<String>,
    reads: Vec<String>,
    tokens: Vec<String>,
    channel: String,
}

async fn wait_http(http: &reqwest::Client, url: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if http.get(url).send().await.is_ok() {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "{url} never answered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn post(http: &reqwest::Client, url: String, token: Option<&str>, body: Value) -> anyhow::Result<Value> {
    let mut req = http.post(&url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await?;
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    anyhow::ensure!(status.is_success(), "{url}: {status} {body}");
    Ok(body)
}

/// Users, a workspace they all belong to, and its channel.
async fn setup(http: &reqwest::Client, writes: &[String], reads: &[String]) -> anyhow::Result<World> {
    let w = &writes[0];
    let mut tokens = Vec::new();
    for i in 0..USERS {
        let b = post(
            http,
            format!("{w}/v1/auth/register"),
            None,
            json!({"email": format!("chaos{i}-{}@example.com", std::process::id()), "password": "correct horse battery", "name": format!("Client {i}")}),
        )
        .await?;
        tokens.push(b["access_token"].as_str().context("token")?.to_owned());
    }
    let ws = post(
        http,
        format!("{w}/v1/workspaces"),
        Some(&tokens[0]),
        json!({"name": "Chaos"}),
    )
    .await?;
    let id = ws["id"].as_str().context("workspace id")?;
    for t in &tokens[1..] {
        post(
            http,
            format!("{w}/v1/workspaces/{id}/join"),
            Some(t),
            json!({"join_code": ws["join_code"]}),
        )
        .await?;
    }
    let c = post(
        http,
        format!("{w}/v1/workspaces/{id}/channels"),
        Some(&tokens[0]),
        json!({"name": "load"}),
    )
    .await?;
    let channel = c["id"].as_str().context("channel id")?.to_owned();
    let position = c["position"].as_i64().unwrap_or(0);
    // Both read nodes know the channel (through the replica) before load starts.
    for r in reads {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let res = http
                .get(format!("{r}/v1/channels/{channel}/messages?limit=1"))
                .bearer_auth(&tokens[USERS - 1])
                .header("x-min-position", position.to_string())
                .send()
                .await;
            if res.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "{r} never saw the channel");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(World {
        http: http.clone(),
        writes: writes.to_vec(),
        reads: reads.to_vec(),
        tokens,
        channel,
    })
}

/// One client: posts at `rate` until `stop`, through write API `home` first and the other
/// when that gets no answer, with the same key. Answers its acks and its failures.
async fn client(world: Arc<World>, i: usize, rate: f64, stop: Arc<AtomicBool>) -> (Vec<Ack>, usize) {
    let (mut acks, mut errors) = (Vec::new(), 0);
    let every = Duration::from_secs_f64(1.0 / rate);
    let mut next = tokio::time::Instant::now();
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        next += every;
        tokio::time::sleep_until(next).await;
        seq += 1;
        let body = format!("chaos {i} {seq}");
        let key = uuid::Uuid::now_v7().to_string();
        let started = Instant::now();
        let mut node = i % world.writes.len();
        let ok = loop {
            let res = world
                .http
                .post(format!("{}/v1/channels/{}/messages", world.writes[node], world.channel))
                .bearer_auth(&world.tokens[i])
                .header("idempotency-key", &key)
                .json(&json!({ "body": body }))
                .send()
                .await;
            match res {
                Ok(r) if r.status().is_success() => {
                    let v: Value = r.json().await.unwrap_or(Value::Null);
                    break v["position"].as_i64();
                }
                // A refusal that retrying will not change is the client's error.
                Ok(r) if r.status().is_client_error() && !matches!(r.status().as_u16(), 408 | 409 | 429) => {
                    if errors < 3 {
                        let status = r.status();
                        eprintln!(
                            "chaos: client {i} refused: {status} {}",
                            r.text().await.unwrap_or_default()
                        );
                    }
                    break None;
                }
                _ => {}
            }
            if started.elapsed() > Duration::from_secs(30) {
                if errors < 3 {
                    eprintln!("chaos: client {i} got no answer in 30 s from either write API");
                }
                break None;
            }
            node = (node + 1) % world.writes.len();
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        match ok {
            Some(position) => acks.push(Ack {
                body,
                position,
                at: Instant::now(),
            }),
            None => errors += 1,
        }
    }
    (acks, errors)
}

/// Samples a read node's read-models position every few milliseconds.
async fn sampler(world: Arc<World>, node: usize, stop: Arc<AtomicBool>) -> Vec<(Instant, i64)> {
    let mut out = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let res = world
            .http
            .get(format!(
                "{}/v1/channels/{}/messages?limit=1",
                world.reads[node], world.channel
            ))
            .bearer_auth(&world.tokens[0])
            .send()
            .await;
        if let Ok(r) = res {
            if let Some(p) = r
                .headers()
                .get("x-projection-position")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
            {
                out.push((Instant::now(), p));
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    out
}

/// Events per second the relay's way (batches of 512, acks awaited per batch) to a fresh
/// stream with `replicas` copies on the cluster at `url`.
async fn publish_rate(url: &str, replicas: usize) -> anyhow::Result<f64> {
    use prism_bus::{Bus, NatsBus, NatsConfig};
    let cfg = NatsConfig {
        prefix: format!("cost{replicas}x{}", std::process::id()),
        replicas,
        ..Default::default()
    };
    let bus = NatsBus::new(url, cfg);
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Err(e) = bus.prepare().await {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the cluster never took an R{replicas} stream: {e}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let store = uuid::Uuid::now_v7();
    let event = |p: i64| prism_event_store::StoredEvent {
        global_position: p,
        event_id: uuid::Uuid::now_v7(),
        tenant_id: Some(store),
        aggregate_type: "channel".into(),
        aggregate_id: store,
        sequence: p,
        event_type: "message.created".into(),
        event_version: 1,
        payload: json!({"body": "a message of ordinary length, as people write them in a channel"}),
        metadata: json!({"actor_kind": "user"}),
        recorded_at: chrono::Utc::now(),
        hash: vec![7; 32],
    };
    let (batches, size) = (20i64, 512i64);
    let started = Instant::now();
    for b in 0..batches {
        let events: Vec<_> = (b * size + 1..=(b + 1) * size).map(event).collect();
        bus.publish(store, b * size, &events).await?;
    }
    Ok((batches * size) as f64 / started.elapsed().as_secs_f64())
}

/// `prism_projector_events_total` by `via`, as one process's `/metrics` says.
fn projector_events(text: &str) -> (f64, f64) {
    let (mut bus, mut log) = (0.0, 0.0);
    for line in text.lines().filter(|l| l.starts_with("prism_projector_events_total{")) {
        let value: f64 = line.rsplit(' ').next().and_then(|v| v.parse().ok()).unwrap_or(0.0);
        if line.contains("via=\"bus\"") {
            bus += value;
        } else if line.contains("via=\"log\"") {
            log += value;
        }
    }
    (bus, log)
}

/// The lease `name`'s holder, as `<node>:<pid>`.
async fn holder(pool: &sqlx::PgPool, name: &str) -> Option<String> {
    sqlx::query_scalar("SELECT holder_name FROM leases WHERE name = $1 AND expires_at > now()")
        .bind(name)
        .fetch_optional(pool)
        .await
        .ok()
        .flatten()
}

/// Kills the part holding lease `name` and answers how long until another held it (ms).
async fn kill_holder(
    pool: &sqlx::PgPool,
    name: &str,
    parts: &Arc<Mutex<Vec<Part>>>,
    bin: &PathBuf,
) -> anyhow::Result<f64> {
    let who = holder(pool, name)
        .await
        .with_context(|| format!("nobody holds {name}"))?;
    let pid: u32 = who
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .context("holder pid")?;
    let index = {
        let mut parts = parts.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let i = parts
            .iter()
            .position(|p| p.pid() == Some(pid))
            .with_context(|| format!("no part has pid {pid}"))?;
        parts[i].kill9();
        i
    };
    let killed = Instant::now();
    let took = loop {
        if let Some(now) = holder(pool, name).await {
            if now != who {
                break killed.elapsed();
            }
        }
        anyhow::ensure!(killed.elapsed() < Duration::from_secs(30), "nobody took over {name}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let mut parts = parts.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    eprintln!("chaos: killed {} ({name}); taken over in {:?}", parts[index].name, took);
    parts[index].spawn(bin)?;
    Ok(took.as_secs_f64() * 1000.0)
}

fn pct(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    let bin = std::fs::canonicalize(&a.bin).with_context(|| format!("{}", a.bin.display()))?;
    let root = std::env::temp_dir().join(format!("prism-chaos-{}", std::process::id()));
    std::fs::create_dir_all(&root)?;
    eprintln!("chaos: logs in {}", root.display());

    let mut nats = cluster::Cluster::start(3);
    let publish_r1_per_s = publish_rate(&nats.url(), 1).await?;
    let publish_r3_per_s = publish_rate(&nats.url(), 3).await?;
    let mut pg = postgres::Pair::start();
    pg.database("prism").await;
    let primary_url = pg.primary.url("prism");
    let replica_url = pg.replica.url("prism");
    let status = Command::new(&bin)
        .arg("migrate")
        .env("PRISM_DATABASE_URL", &primary_url)
        .env("PRISM_DEV", "1")
        .stderr(Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "prism migrate failed");
    let pool = sqlx::PgPool::connect(&primary_url).await?;

    let prefix = format!("chaos{}", std::process::id());
    let common: Vec<(String, String)> = [
        ("PRISM_DATABASE_URL", primary_url.as_str()),
        ("PRISM_NATS_URL", nats.url().as_str()),
        ("PRISM_NATS_REPLICAS", "3"),
        ("PRISM_NATS_PREFIX", prefix.as_str()),
        ("PRISM_JWT_SECRET", SECRET),
        ("PRISM_MASTER_KEY", MASTER_KEY),
        ("PRISM_BUS_KEY", BUS_KEY),
        ("PRISM_DB_POOL", "8"),
        ("PRISM_RATE_LIMITS", "commands_session=1000/1,register_ip=1000/60"),
        ("RUST_LOG", "info,sqlx=warn"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let mut parts = Vec::new();
    let (mut writes, mut reads) = (Vec::new(), Vec::new());
    for (command, n) in [("write-api", 2), ("read-api", 2), ("relay", 2), ("project", 2)] {
        for i in 1..=n {
            let name = format!("{command}-{i}");
            let port = cluster::free_port();
            let mut env = common.clone();
            env.push(("PRISM_NODE_ID".into(), name.clone()));
            env.push(("PRISM_DATA_DIR".into(), root.join(&name).display().to_string()));
            let (mut base, mut metrics) = (None, None);
            match command {
                "write-api" => {
                    env.push(("PRISM_WRITE_ADDR".into(), format!("127.0.0.1:{port}")));
                    base = Some(format!("http://127.0.0.1:{port}"));
                    writes.push(format!("http://127.0.0.1:{port}"));
                }
                "read-api" => {
                    env.push(("PRISM_READ_ADDR".into(), format!("127.0.0.1:{port}")));
                    env.push(("PRISM_READ_DATABASE_URL".into(), replica_url.clone()));
                    base = Some(format!("http://127.0.0.1:{port}"));
                    metrics = Some(format!("http://127.0.0.1:{port}/metrics"));
                    reads.push(format!("http://127.0.0.1:{port}"));
                }
                _ => {
                    env.push(("PRISM_METRICS_ADDR".into(), format!("127.0.0.1:{port}")));
                    metrics = Some(format!("http://127.0.0.1:{port}/metrics"));
                }
            }
            let mut part = Part {
                log: root.join(format!("{name}.log")),
                name,
                command,
                env,
                child: None,
                metrics,
                base,
                incarnation: 0,
            };
            part.spawn(&bin)?;
            parts.push(part);
        }
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(64)
        .build()?;
    for p in &parts {
        if let Some(b) = &p.base {
            wait_http(&http, &format!("{b}/healthz")).await?;
        }
    }
    let world = Arc::new(setup(&http, &writes, &reads).await?);
    let parts = Arc::new(Mutex::new(parts));

    // Projector counters, scraped every second from every process that has them.
    let scrapes: Arc<Mutex<Vec<Scrape>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let scraper = {
        let (parts, scrapes, stop, http) = (parts.clone(), scrapes.clone(), stop.clone(), http.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let targets: Vec<(String, u32, String)> = parts
                    .lock()
                    .map(|ps| {
                        ps.iter()
                            .filter(|p| p.child.is_some())
                            .filter_map(|p| p.metrics.clone().map(|m| (p.name.clone(), p.incarnation, m)))
                            .collect()
                    })
                    .unwrap_or_default();
                for (name, incarnation, url) in targets {
                    if let Ok(r) = http.get(&url).send().await {
                        if let Ok(text) = r.text().await {
                            let (bus, log) = projector_events(&text);
                            if std::env::var_os("CHAOS_KEEP").is_some() {
                                let lines: Vec<&str> = text
                                    .lines()
                                    .filter(|l| l.starts_with("prism_projector_events_total{"))
                                    .collect();
                                let _ = std::fs::write(
                                    std::env::temp_dir().join(format!("chaos-metrics-{name}-{incarnation}.txt")),
                                    lines.join("\n"),
                                );
                            }
                            if let Ok(mut s) = scrapes.lock() {
                                s.push((Instant::now(), name, incarnation, bus, log));
                            }
                        }
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    };
    let samplers: Vec<_> = (0..world.reads.len())
        .map(|n| tokio::spawn(sampler(world.clone(), n, stop.clone())))
        .collect();
    let clients: Vec<_> = (0..USERS)
        .map(|i| tokio::spawn(client(world.clone(), i, a.rate / USERS as f64, stop.clone())))
        .collect();

    // The kills, in turn.
    let gap = Duration::from_secs(a.gap);
    tokio::time::sleep(gap).await;
    let takeover_relay_ms = kill_holder(&pool, &format!("relay:{prefix}"), &parts, &bin).await?;
    tokio::time::sleep(gap).await;

    let servers = prism_bus::nats::servers(&nats.url()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let js = async_nats::jetstream::new(async_nats::connect(servers).await?);
    let stream_name = format!("{}_EVENTS", prefix.to_uppercase());
    let info = js.get_stream(&stream_name).await?.info().await?.clone();
    let replicas = info.config.num_replicas;
    let leader = info
        .cluster
        .and_then(|c| c.leader)
        .context("the stream has no leader")?;
    let leader = nats.index_of(&leader).context("the leader is not ours")?;
    let nats_killed = Instant::now();
    nats.kill(leader);
    eprintln!("chaos: killed NATS node n{leader}, the events stream's leader");
    tokio::time::sleep(gap).await;
    nats.restart(leader);

    let takeover_projector_ms = kill_holder(&pool, "projector:read_models", &parts, &bin).await?;
    tokio::time::sleep(gap).await;

    {
        let mut ps = parts.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        if let Some(w) = ps.iter_mut().find(|p| p.name == "write-api-1") {
            w.kill9();
            eprintln!("chaos: killed write-api-1");
        }
    }
    tokio::time::sleep(gap).await;
    {
        let mut ps = parts.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        if let Some(w) = ps.iter_mut().find(|p| p.name == "write-api-1") {
            w.spawn(&bin)?;
        }
    }
    pg.replica.kill();
    eprintln!("chaos: killed the read replica");
    tokio::time::sleep(gap).await;

    stop.store(true, Ordering::Relaxed);
    let (mut acks, mut client_errors) = (Vec::new(), 0);
    for c in clients {
        let (a, e) = c.await?;
        acks.extend(a);
        client_errors += e;
    }
    let _ = scraper.await;

    // Both read nodes reach the last acknowledged position, then hold every message once.
    let head = acks.iter().map(|a| a.position).max().unwrap_or(0);
    let mut lost = 0;
    let mut dup = 0;
    for r in &world.reads {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let res = http
                .get(format!("{r}/v1/channels/{}/messages?limit=1", world.channel))
                .bearer_auth(&world.tokens[0])
                .header("x-min-position", head.to_string())
                .send()
                .await;
            if res.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "{r} never reached position {head}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut req = http
                .get(format!("{r}/v1/channels/{}/messages", world.channel))
                .query(&[("limit", "100")]);
            if let Some(c) = &cursor {
                req = req.query(&[("cursor", c.as_str())]);
            }
            let page: Value = req
                .bearer_auth(&world.tokens[0])
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            for m in page["items"].as_array().into_iter().flatten() {
                *seen
                    .entry(m["body"].as_str().unwrap_or_default().to_owned())
                    .or_default() += 1;
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        lost += acks.iter().filter(|a| !seen.contains_key(&a.body)).count();
        dup += seen.values().filter(|n| **n > 1).map(|n| n - 1).sum::<usize>();
    }

    // Lag: from each acknowledgement to each read node answering at (or past) its position.
    let mut lags = Vec::new();
    // CHAOS_KEEP=1 also keeps each lag beside when the write was acknowledged (seconds from the
    // first acknowledgement), to see which kill cost what.
    let first_ack = acks.iter().map(|a| a.at).min();
    let mut trace = String::new();
    for (n, s) in samplers.into_iter().enumerate() {
        let samples = s.await?;
        for a in &acks {
            let from = samples.partition_point(|(t, _)| *t < a.at);
            if let Some((t, _)) = samples[from..].iter().find(|(_, p)| *p >= a.position) {
                let lag = t.duration_since(a.at).as_secs_f64() * 1000.0;
                lags.push(lag);
                if let Some(first) = first_ack {
                    trace.push_str(&format!(
                        "{n}\t{:.3}\t{lag:.1}\n",
                        a.at.duration_since(first).as_secs_f64()
                    ));
                }
            }
        }
    }
    if std::env::var_os("CHAOS_KEEP").is_some() {
        let _ = std::fs::write(root.join("lags.tsv"), trace);
        if let Some(first) = first_ack {
            eprintln!(
                "chaos: NATS killed at {:.3} s after the first acknowledgement",
                nats_killed.saturating_duration_since(first).as_secs_f64()
            );
        }
    }
    lags.sort_by(f64::total_cmp);

    // The bus's share: each process incarnation's counter increments between scrapes, outside
    // the seconds right after the NATS kill.
    // NATS's own failover: a raft group (the stream, each consumer) that lost its leader
    // elects another after 4 to 9 s (nats-server's election timeout, not configurable), plus a
    // heartbeat to notice. Nothing a client does makes that shorter.
    let skip = (nats_killed, nats_killed + Duration::from_secs(10));
    let (mut bus, mut log) = (0.0, 0.0);
    let scrapes = scrapes.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.clone();
    if let (Some(first), true) = (first_ack, std::env::var_os("CHAOS_KEEP").is_some()) {
        let lines: String = scrapes
            .iter()
            .map(|(at, name, inc, b, l)| {
                format!(
                    "{:.2}\t{name}-{inc}\t{b}\t{l}\n",
                    at.saturating_duration_since(first).as_secs_f64()
                )
            })
            .collect();
        let _ = std::fs::write(root.join("scrapes.tsv"), lines);
    }
    let mut last: HashMap<(String, u32), (Instant, f64, f64)> = HashMap::new();
    for (at, name, incarnation, b, l) in scrapes {
        let (since, b0, l0) = last
            .get(&(name.clone(), incarnation))
            .copied()
            .unwrap_or((at, 0.0, 0.0));
        let overlaps = since < skip.1 && at > skip.0;
        if !overlaps {
            bus += (b - b0).max(0.0);
            log += (l - l0).max(0.0);
        }
        last.insert((name, incarnation), (at, b, l));
    }
    let bus_share = if bus + log > 0.0 { bus / (bus + log) } else { 0.0 };

    println!(
        "{}",
        json!({
            "acked": acks.len(),
            "lost": lost,
            "dup": dup,
            "client_errors": client_errors,
            "replicas": replicas,
            "takeover_relay_ms": round2(takeover_relay_ms),
            "takeover_projector_ms": round2(takeover_projector_ms),
            "lag_p50_ms": round2(pct(&lags, 0.5)),
            "lag_p99_ms": round2(pct(&lags, 0.99)),
            "lag_max_ms": round2(lags.last().copied().unwrap_or(0.0)),
            "bus_share": (bus_share * 1000.0).round() / 1000.0,
            "rate": a.rate,
            "publish_r1_per_s": publish_r1_per_s.round(),
            "publish_r3_per_s": publish_r3_per_s.round(),
        })
    );
    drop(parts);
    drop(nats);
    drop(pg);
    // CHAOS_KEEP=1 keeps every process's log (and the last metrics of each) for a look.
    if std::env::var_os("CHAOS_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&root);
    }
    Ok(())
}
