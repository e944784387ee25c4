//! The live stream's fan-out, measured: `streams` Server-Sent Events connections to one read
//! API node (the real router behind the real server loop, on a socket), while messages are
//! appended at a steady rate. Reports how long an append takes to reach every stream, and how
//! many database transactions per second the node ran meanwhile (the feed's tail is one per
//! node, so that number must not grow with the number of streams).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prism_auth::{Jwt, PasswordHasherId};
use prism_commands::{CommandContext, Commands};
use prism_domain::WorkspaceId;
use prism_event_store::PgEventStore;
use prism_projections::feed::{Feed, StreamLimits};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::pct;

pub struct SseRun {
    pub streams: usize,
    pub deliveries: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Database transactions per second in the database during the window (writes included).
    pub db_tps: f64,
}

/// One run against a fresh database at `db_url`.
pub async fn fan_out(db_url: &str, streams: usize, rate: u64, seconds: u64) -> anyhow::Result<SseRun> {
    let db = crate::kernel::pool(db_url, 20).await?;
    prism_event_store::db::migrate(&db).await?;
    let store = PgEventStore::new(db.clone(), 100).with_group_commit(2, 64);
    let jwt = Jwt::new(b"bench-sse-secret-bench-sse-secret-bench!", Jwt::DEFAULT_TTL);
    let commands = Commands::new(
        store,
        jwt.clone(),
        PasswordHasherId::new(1024, 1).map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    let reg = commands
        .register("listener@example.com", "correct horse battery", "Listener", None)
        .await?;
    let owner = CommandContext::new(reg.user_id);
    let ws = commands.create_workspace(&owner, "Live").await?.id;
    let channel = commands.create_channel(&owner, WorkspaceId(ws), "live").await?.id;

    let limits = StreamLimits {
        per_user: streams + 16,
        per_node: streams + 16,
    };
    let state = prism_read_api::AppState::new(db.clone(), jwt.clone()).with_feed(Feed::with_limits(db.clone(), limits));
    let edge = prism_telemetry::edge::EdgeConfig::default();
    let app = prism_read_api::app(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let stop = async {
            let _ = stop_rx.await;
        };
        prism_telemetry::edge::serve(listener, app, &edge, stop, Duration::from_secs(1)).await
    });

    let token = jwt.issue(reg.user_id, vec![]).map_err(|e| anyhow::anyhow!("{e}"))?;
    let request = format!(
        "GET /v1/workspaces/{ws}/stream HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    );
    // Each stream notes when each event id reached it.
    let received: Arc<Mutex<Vec<(i64, Instant)>>> = Arc::default();
    let mut readers = Vec::with_capacity(streams);
    for _ in 0..streams {
        let mut sock = tokio::net::TcpStream::connect(addr).await?;
        sock.write_all(request.as_bytes()).await?;
        let mut lines = BufReader::new(sock).lines();
        let status = lines.next_line().await?.unwrap_or_default();
        anyhow::ensure!(status.contains(" 200 "), "a stream was refused: {status}");
        let received = received.clone();
        readers.push(tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(id) = line.strip_prefix("id: ") {
                    if let Ok(p) = id.trim().parse::<i64>() {
                        let now = Instant::now();
                        received.lock().unwrap_or_else(|e| e.into_inner()).push((p, now));
                    }
                }
            }
        }));
    }

    let transactions = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT (xact_commit + xact_rollback)::bigint FROM pg_stat_database WHERE datname = current_database()",
        )
        .fetch_one(&db)
        .await
    };
    // Statistics reach pg_stat_database within a second or so: read them settled.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = transactions().await?;
    let appended: Arc<Mutex<HashMap<i64, Instant>>> = Arc::default();
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    let window = Instant::now();
    let mut writers = tokio::task::JoinSet::new();
    while window.elapsed() < Duration::from_secs(seconds) {
        ticker.tick().await;
        let (c, owner, appended) = (commands.clone(), owner.clone(), appended.clone());
        writers.spawn(async move {
            if let Ok(Some(position)) = c.post_message(&owner, channel, "live", None).await.map(|o| o.position) {
                appended
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(position, Instant::now());
            }
        });
        while writers.try_join_next().is_some() {}
    }
    while writers.join_next().await.is_some() {}
    let elapsed = window.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = transactions().await?;

    let _ = stop_tx.send(());
    for r in &readers {
        r.abort();
    }
    server.abort();
    let appended = appended.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let received = std::mem::take(&mut *received.lock().unwrap_or_else(|e| e.into_inner()));
    // An event can reach a stream before its command has returned to the writer: that is a
    // delivery of 0 ms, not a negative one.
    let mut lat: Vec<f64> = received
        .iter()
        .filter_map(|(p, at)| {
            appended
                .get(p)
                .map(|t| at.saturating_duration_since(*t).as_secs_f64() * 1000.0)
        })
        .collect();
    lat.sort_by(|a, b| a.total_cmp(b));
    Ok(SseRun {
        streams,
        deliveries: lat.len(),
        p50_ms: pct(&lat, 0.5),
        p99_ms: pct(&lat, 0.99),
        db_tps: (after - before) as f64 / (elapsed + 2.0),
    })
}
