//! `prism`: the one binary. `prism serve` runs everything in one process for local use; the
//! other subcommands run one part each, as `compose.yaml` does.

mod config;
mod tools;

/// mimalloc: Prism's hot paths allocate many small JSON values from many threads at once, where
/// the system allocator's arena locks showed up in profiles.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing_subscriber::EnvFilter;

use config::Config;

#[derive(Parser)]
#[command(
    name = "prism",
    version,
    about = "Event-sourced CQRS backend: commands in, projections out"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the database if needed and apply migrations.
    Migrate,
    /// Run the write API (commands and auth).
    WriteApi,
    /// Run the read API (queries over the projections).
    ReadApi,
    /// Run the relay (Postgres log → NATS JetStream); one is active, others stand by. Needs
    /// `PRISM_NATS_URL` (on one node the relay runs inside each process).
    Relay,
    /// Run the projectors (the bus → read models).
    Project,
    /// Migrate, then run every part of Prism in this one process.
    Serve,
    /// Inspect or rebuild projections.
    #[command(subcommand)]
    Projections(tools::ProjectionsCommand),
    /// For auditors: verify the log's hash chains.
    #[command(subcommand)]
    Audit(tools::AuditCommand),
    /// For analysts: write the log (or one workspace's events) to an NDJSON file.
    Export {
        /// The file; zstd-compressed NDJSON when its name ends in `.zst`.
        #[arg(long)]
        out: std::path::PathBuf,
        /// `ndjson` or `parquet` (typed columns, zstd row groups); by default what the file's
        /// name says (`.parquet`), else NDJSON.
        #[arg(long, value_parser = ["ndjson", "parquet"])]
        format: Option<String>,
        /// Only this workspace's events.
        #[arg(long)]
        workspace: Option<uuid::Uuid>,
        /// Only events after this position.
        #[arg(long, default_value_t = 0)]
        after: i64,
    },
    /// For analysts: rebuild projections from an export or a database into another database,
    /// with no NATS and no running service.
    Rebuild {
        /// An export file (`.ndjson`, `.ndjson.zst`) or a postgres:// URL.
        #[arg(long)]
        from: String,
        /// The postgres:// URL to rebuild into (created and migrated if needed).
        #[arg(long)]
        into: String,
        /// Projections to rebuild (read_models, audit, spectrum, search); all by default.
        #[arg(long = "projection")]
        projections: Vec<String>,
        /// Where to build the search index (needed for `search`).
        #[arg(long)]
        index_dir: Option<std::path::PathBuf>,
    },
    /// For auditors: print an aggregate's state, now or as of a position.
    Replay {
        /// TYPE/ID, e.g. `workspace/01929…`.
        #[arg(long)]
        aggregate: String,
        /// The position to replay up to.
        #[arg(long)]
        at: Option<i64>,
    },
    /// Platform roles.
    #[command(subcommand)]
    Roles(tools::RolesCommand),
    /// Plans (daily allowances of the reflection features).
    #[command(subcommand)]
    Plans(tools::PlansCommand),
    /// The safety gate: evaluate it on a corpus, or count its escalations.
    #[command(subcommand)]
    Safety(tools::SafetyCommand),
    /// Mail waiting to be sent, and the dead letters.
    #[command(subcommand)]
    Outbox(tools::OutboxCommand),
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")))
        // Colours only for a person at a terminal; plain text for pipes and log collectors.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let out = runtime.block_on(run(Cli::parse()));
    // Work on a blocking thread cannot be aborted, and a runtime dropped the default way waits
    // for all of it: after the drain, whatever is left (a search being cancelled, a stuck
    // file read) gets two seconds, then the process exits regardless.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    if let Err(e) = out {
        // One clear line, not a backtrace.
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let cfg = Config::from_env()?;
    // The offline rebuild needs no Prism database of its own.
    if let Command::Rebuild {
        from,
        into,
        projections,
        index_dir,
    } = cli.command
    {
        return tools::rebuild(&cfg, from, into, projections, index_dir).await;
    }
    // Nor does the evaluation of the safety gate.
    if let Command::Safety(tools::SafetyCommand::Eval { corpus, classifier }) = cli.command {
        return tools::safety_eval(&cfg, corpus, classifier).await;
    }
    if let Command::Safety(tools::SafetyCommand::Train {
        corpora,
        out,
        precision,
    }) = cli.command
    {
        return tools::safety_train(&cfg, corpora, out, precision);
    }
    // Before anything is reached: a service never runs on the public development secrets.
    // The bus key signs what crosses NATS; the in-process bus crosses nothing.
    let nats = cfg.nats_url.is_some();
    if matches!(cli.command, Command::Relay) && !nats {
        anyhow::bail!("prism relay publishes to NATS: set PRISM_NATS_URL (one node needs no separate relay)");
    }
    match cli.command {
        Command::Serve | Command::ReadApi => cfg.require_secrets(true, nats)?,
        Command::WriteApi => cfg.require_secrets(true, false)?,
        Command::Relay | Command::Project => cfg.require_secrets(false, nats)?,
        _ => {}
    }
    let pool = cfg.connect().await?;
    if matches!(cli.command, Command::Migrate | Command::Serve) {
        prism_event_store::db::migrate(&pool)
            .await
            .context("migrating the database")?;
        tracing::info!("migrations applied");
    }
    let command = match cli.command {
        Command::Projections(cmd) => return tools::projections(cmd, pool, &cfg).await,
        Command::Audit(tools::AuditCommand::Verify { workspace }) => return tools::audit_verify(pool, workspace).await,
        Command::Export {
            out,
            format,
            workspace,
            after,
        } => return tools::export(pool, out, format.as_deref(), workspace, after).await,
        Command::Replay { aggregate, at } => return tools::replay(pool, aggregate, at).await,
        Command::Roles(cmd) => return tools::roles(&cfg, pool, cmd).await,
        Command::Plans(cmd) => return tools::plans(&cfg, pool, cmd).await,
        Command::Outbox(cmd) => return tools::outbox(pool, cmd).await,
        Command::Safety(tools::SafetyCommand::Stats { since }) => return tools::safety_stats(pool, since).await,
        other => other,
    };
    let (stop, stopped) = watch::channel(false);
    let mut parts: JoinSet<anyhow::Result<()>> = JoinSet::new();
    let (write, read, relay, project) = match command {
        Command::WriteApi => (true, false, false, false),
        Command::ReadApi => (false, true, false, false),
        Command::Relay => (false, false, true, false),
        Command::Project => (false, false, false, true),
        Command::Serve => (true, true, true, true),
        _ => return Ok(()),
    };
    let store = prism_event_store::PgEventStore::new(pool.clone(), cfg.snapshot_every);
    let bus = cfg.prepared_bus().await?;
    // On the in-process bus nothing crosses processes: a process with projectors relays for
    // itself; on NATS the relay is its own part (one active per log).
    let relay = if bus.durable() { relay } else { read || project };
    tracing::info!(bus = %bus.name(), "bus");
    // Where this process's write API listens, for its own console's sign-in.
    let (mut write_local, mut write_app) = (None, None);
    if write {
        let store = store.clone().with_group_commit(cfg.group_commit_flushers, 64);
        let commands = cfg.commands(store)?;
        let limits = prism_write_api::limits::Limits::parse(&cfg.rate_limits)
            .and_then(|l| l.with_trusted_proxies(&cfg.trusted_proxies))
            .map_err(|e| anyhow::anyhow!(e))?;
        parts.spawn(sweep(commands.clone(), limits.clone(), stopped.clone()));
        parts.spawn(prism::writers::run(
            commands.clone(),
            pool.clone(),
            cfg.writers_every,
            stopped.clone(),
        ));
        let app = prism_write_api::app(
            prism_write_api::AppState::new(commands)
                .with_dead_letters(Arc::new(prism::wiring::WebhookDeadLetters(pool.clone())))
                .with_limits(limits)
                .with_max_upload(cfg.max_upload)
                .with_edge(cfg.edge.clone()),
        );
        let listener = listen("write api", &cfg.write_addr).await?;
        write_local = Some(listener.local_addr()?);
        write_app = Some(app.clone());
        parts.spawn(serve_http(
            "write api",
            listener,
            app,
            cfg.edge.clone(),
            stopped.clone(),
        ));
    }
    if read {
        // The per-key allowance is configured with the write API's limits (`api_key=N/S`).
        let (per_key, per) = prism_write_api::limits::Limits::parse(&cfg.rate_limits)
            .map_err(|e| anyhow::anyhow!(e))?
            .quota(prism_write_api::limits::Limit::ApiKey);
        let mut state = prism_read_api::AppState::new(pool.clone(), cfg.jwt())
            .with_api_key_quota(per_key, per)
            .with_master_key(cfg.master_key.clone())
            .with_blobs(cfg.blobs()?)
            .with_presence(prism_read_api::presence::Presence::new(bus.clone(), &cfg.node_id))
            .with_edge(cfg.edge.clone())
            .with_feed(prism_projections::feed::Feed::with_limits(
                pool.clone(),
                cfg.stream_limits,
            ))
            .with_metrics(prism_telemetry::metrics_handle());
        if let Some(url) = &cfg.read_database_url {
            state = state.with_replica(prism_event_store::db::connect_replica(url, cfg.db_pool)?);
            tracing::info!("the read API reads from a replica (PRISM_READ_DATABASE_URL)");
        }
        // Each read node keeps its own search index, fed by its own projector.
        let dir = cfg.data_dir.join("search");
        let index = Arc::new(
            prism_projections::search::SearchIndex::open(&dir)
                .with_context(|| format!("opening the search index in {}", dir.display()))?,
        );
        let indexer = prism_projections::search::SearchIndexer::new(index.clone(), store.store_id().await?, 50_000_000)
            .context("opening the search index for writing (is another process using it?)")?
            .for_node(&cfg.node_id);
        let projector =
            prism_projections::Projector::with_target(store.clone(), Arc::new(indexer), cfg.projector(&bus));
        let s = stopped.clone();
        parts.spawn(async move { projector.run(s).await.context("search projector") });
        // Shutdown never waits on a search: stopping cancels every one in flight.
        let (ix, mut s) = (index.clone(), stopped.clone());
        parts.spawn(async move {
            let _ = s.wait_for(|v| *v).await;
            ix.close();
            Ok(())
        });
        state = state.with_search(index);
        // Each read node keeps its own hot pages, kept current by its own consumer of the bus.
        let hot =
            prism_projections::read_models::hot::HotPages::new(store.safe_horizon().await?).for_node(&cfg.node_id);
        let projector =
            prism_projections::Projector::with_target(store.clone(), Arc::new(hot.clone()), cfg.projector(&bus));
        let s = stopped.clone();
        parts.spawn(async move { projector.run(s).await.context("hot pages") });
        state = state.with_hot_pages(hot);
        // The console forwards sign-in to the write API: the configured one, or this process's.
        let write_url = cfg.write_url.clone().or_else(|| {
            write_local.map(|mut a| {
                if a.ip().is_unspecified() {
                    a.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                }
                format!("http://{a}")
            })
        });
        if let Some(url) = write_url {
            state = state.with_write_url(url);
        }
        if let Some(app) = write_app.take() {
            state = state.with_write_app(app);
        }
        let app = prism_read_api::app(state);
        parts.spawn(serve_http(
            "read api",
            listen("read api", &cfg.read_addr).await?,
            app,
            cfg.edge.clone(),
            stopped.clone(),
        ));
    }
    if relay {
        let (store, bus, s) = (store.clone(), bus.clone(), stopped.clone());
        let relay_cfg = prism_bus::relay::RelayConfig {
            lease: cfg.lease.clone(),
            ..Default::default()
        };
        parts.spawn(async move { prism_bus::relay::run(store, bus, relay_cfg, s).await.context("relay") });
    }
    if let Some(addr) = &cfg.metrics_addr {
        // A relay or a projector has no API to be seen by: its own listener, for a scraper.
        let handle = prism_telemetry::metrics_handle();
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let handle = handle.clone();
                async move { handle.render() }
            }),
        );
        parts.spawn(serve_http(
            "metrics",
            listen("metrics", addr).await?,
            app,
            cfg.edge.clone(),
            stopped.clone(),
        ));
    }
    if project {
        for (p, _) in prism_projections::all() {
            let name = p.name();
            let projector = prism_projections::Projector::new(store.clone(), p, cfg.projector(&bus));
            let s = stopped.clone();
            parts.spawn(async move { projector.run(s).await.with_context(|| format!("{name} projector")) });
        }
        // Mail: the outbox is filled like a projection (never rebuilt: that would send it all
        // again) and emptied by the delivery worker.
        let outbox = prism_projections::Projector::new(
            store.clone(),
            Arc::new(prism_projections::mail::Outbox),
            cfg.projector(&bus),
        );
        let s = stopped.clone();
        parts.spawn(async move { outbox.run(s).await.context("mail outbox") });
        let deliverer = cfg.mail(store.clone())?;
        let s = stopped.clone();
        parts.spawn(async move {
            deliverer.run(std::time::Duration::from_secs(1), s).await;
            Ok(())
        });
        // Webhooks: the same two halves.
        let outbox = prism_projections::Projector::new(
            store.clone(),
            Arc::new(prism_projections::webhooks::WebhookOutbox),
            cfg.projector(&bus),
        );
        let s = stopped.clone();
        parts.spawn(async move { outbox.run(s).await.context("webhook outbox") });
        let webhooks = cfg.webhooks(store.clone())?;
        let s = stopped.clone();
        parts.spawn(async move {
            webhooks.run(std::time::Duration::from_millis(250), s).await;
            Ok(())
        });
    }
    tokio::select! {
        _ = shutdown_signal() => {}
        Some(done) = parts.join_next() => {
            // A part that ends on its own is an error: take the rest down and say why.
            let _ = stop.send(true);
            done.context("a part panicked")??;
        }
    }
    let _ = stop.send(true);
    while let Some(done) = parts.join_next().await {
        done.context("a part panicked")??;
    }
    tracing::info!("stopped");
    Ok(())
}

async fn listen(what: &str, addr: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} for the {what}"))
}

async fn serve_http(
    what: &'static str,
    listener: tokio::net::TcpListener,
    app: axum::Router,
    edge: prism_telemetry::edge::EdgeConfig,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    tracing::info!(addr = %listener.local_addr()?, "{what} listening");
    // Header and idle timeouts, graceful drain, the peer's address for rate limits.
    let stopping = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    prism_telemetry::edge::serve(listener, app, &edge, stopping, std::time::Duration::from_secs(20)).await?;
    tracing::info!("{what} stopped");
    Ok(())
}

/// Every minute until shutdown: deletes expired stored answers (`Idempotency-Key`) and
/// failed sign-in records, and forgets rate-limit keys back at a full allowance.
async fn sweep(
    commands: prism_commands::Commands,
    limits: prism_write_api::limits::Limits,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    loop {
        limits.shrink();
        match commands.sweep_idempotency().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(expired = n, "stored idempotent answers expired"),
            Err(e) => tracing::warn!(error = %e, "expiring stored idempotent answers failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(60)) => {}
            _ = stop.wait_for(|s| *s) => return Ok(()),
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM: in-flight requests finish, new connections are refused.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested; draining");
}
