//! `webhook_deliveries_per_s`: how fast the webhook worker empties its outbox into 32
//! endpoints on a local receiver (every delivery read from the log, shown as to a member,
//! signed, POSTed and settled).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prism_commands::{CommandContext, Commands};
use prism_domain::{ChannelId, WorkspaceId};
use prism_projections::webhooks::{WebhookConfig, WebhookDeliverer, WebhookOutbox};

/// Endpoints on the receiver.
pub const ENDPOINTS: usize = 32;

/// What a run measured.
pub struct Run {
    pub deliveries: u64,
    pub per_sec: f64,
}

/// `messages` messages to a workspace with [`ENDPOINTS`] webhooks, then the worker until every
/// delivery is made.
pub async fn run(url: &str, messages: usize) -> anyhow::Result<Run> {
    let pool = crate::kernel::pool(url, 16).await?;
    let store = prism_event_store::PgEventStore::new(pool.clone(), 0).with_group_commit(2, 64);
    let commands = Commands::new(
        store.clone(),
        prism_auth::Jwt::new(b"bench-webhooks-bench-webhooks-bench!!!!", prism_auth::Jwt::DEFAULT_TTL),
        prism_auth::PasswordHasherId::new(1024, 1).map_err(|e| anyhow::anyhow!("{e}"))?,
    )
    .with_webhook_private_targets(true);

    // The receiver: counts what it gets, answers 204.
    let got = Arc::new(AtomicU64::new(0));
    let counter = got.clone();
    let app = axum::Router::new().route(
        "/hook/{n}",
        axum::routing::post(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });

    let owner = commands
        .register("bench-hooks@example.com", "correct horse battery", "Bench", None)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let ctx = CommandContext::new(owner.user_id);
    // Two workspaces of 16 endpoints each (a workspace has at most 20), the same messages in each.
    let mut channels = Vec::new();
    for w in 0..2 {
        let name = format!("Hooks {w}");
        let ws = WorkspaceId(
            commands
                .create_workspace(&ctx, &name)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .id,
        );
        let ch = ChannelId(
            commands
                .create_channel(&ctx, ws, "general")
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .id,
        );
        for n in 0..ENDPOINTS / 2 {
            let url = format!("http://{addr}/hook/{w}-{n}");
            commands
                .create_webhook(&ctx, ws, &url, &["message.created".to_owned()], None)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        channels.push(ch);
    }
    for i in 0..messages {
        for ch in &channels {
            commands
                .post_message(&ctx, ch.0, &format!("message {i}"), None)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    }
    let cfg = prism_projections::ProjectorConfig::new(Arc::new(prism_bus::local::LocalBus::new()), 1000);
    prism_projections::Projector::new(store.clone(), Arc::new(WebhookOutbox), cfg)
        .catch_up()
        .await?;
    let want = (messages * ENDPOINTS) as u64;

    let deliverer = WebhookDeliverer::new(
        store,
        commands.vault().clone(),
        WebhookConfig {
            allow_private: true,
            ..Default::default()
        },
    )
    .map_err(|e| anyhow::anyhow!(e))?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let worker = tokio::spawn(deliverer.run(Duration::from_millis(5), stopped));
    loop {
        let delivered: i64 = sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'")
            .fetch_one(&pool)
            .await?;
        if delivered as u64 >= want {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(300),
            "only {delivered} of {want} delivered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let _ = stop.send(true);
    let _ = worker.await;
    anyhow::ensure!(
        got.load(Ordering::Relaxed) >= want,
        "the receiver got fewer than were delivered"
    );
    Ok(Run {
        deliveries: want,
        per_sec: want as f64 / elapsed,
    })
}
