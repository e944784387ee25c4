//! `prism`: the one binary. `prism serve` runs everything in one process for local use; the
//! other subcommands run one part each, as `compose.yaml` does.

mod config;

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
    /// Run the relay (Postgres log → NATS JetStream); one is active, others stand by.
    Relay,
    /// Run the projectors (NATS JetStream → read models).
    Project,
    /// Migrate, then run every part of Prism in this one process.
    Serve,
    /// Inspect or rebuild projections.
    #[command(subcommand)]
    Projections(ProjectionsCommand),
}

#[derive(Subcommand)]
enum ProjectionsCommand {
    /// Every projection with its position, lag and last error.
    Status,
    /// Write a fresh copy of a projection's tables from the log, then swap it in.
    Rebuild {
        /// The projection (`read_models`).
        name: String,
    },
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")))
        // Colours only for a person at a terminal; plain text for pipes and log collectors.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    if let Err(e) = run(Cli::parse()).await {
        // One clear line, not a backtrace.
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let cfg = Config::from_env()?;
    let pool = cfg.connect().await?;
    if matches!(cli.command, Command::Migrate | Command::Serve) {
        prism_event_store::db::migrate(&pool)
            .await
            .context("migrating the database")?;
        tracing::info!("migrations applied");
    }
    if let Command::Projections(cmd) = cli.command {
        return projections(cmd, pool, &cfg).await;
    }
    let (stop, stopped) = watch::channel(false);
    let mut parts: JoinSet<anyhow::Result<()>> = JoinSet::new();
    let (write, read, relay, project) = match cli.command {
        Command::Migrate => return Ok(()),
        Command::WriteApi => (true, false, false, false),
        Command::ReadApi => (false, true, false, false),
        Command::Relay => (false, false, true, false),
        Command::Project => (false, false, false, true),
        Command::Serve => (true, true, true, true),
        Command::Projections(_) => unreachable!("handled above"),
    };
    let store = prism_event_store::PgEventStore::new(pool.clone(), cfg.snapshot_every);
    if write {
        let store = store.clone().with_group_commit(cfg.group_commit_flushers, 64);
        let hasher = prism_auth::PasswordHasherId::owasp().map_err(|e| anyhow::anyhow!("{e}"))?;
        let app = prism_write_api::app(prism_write_api::AppState::new(prism_commands::Commands::new(
            store,
            cfg.jwt(),
            hasher,
        )));
        parts.spawn(serve_http("write api", cfg.write_addr.clone(), app, stopped.clone()));
    }
    if read {
        let state =
            prism_read_api::AppState::new(pool.clone(), cfg.jwt()).with_metrics(prism_telemetry::metrics_handle());
        let app = prism_read_api::app(state);
        parts.spawn(serve_http("read api", cfg.read_addr.clone(), app, stopped.clone()));
    }
    if relay {
        let (store, url, rc, s) = (store.clone(), cfg.nats_url.clone(), cfg.relay(), stopped.clone());
        parts.spawn(async move { prism_event_store::relay::run(store, url, rc, s).await.context("relay") });
    }
    if project {
        let projector = prism_projections::Projector::new(
            store.clone(),
            Arc::new(prism_projections::read_models::ReadModels),
            cfg.projector(),
        );
        let s = stopped.clone();
        parts.spawn(async move { projector.run(s).await.context("projector") });
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

async fn projections(cmd: ProjectionsCommand, pool: sqlx::PgPool, cfg: &Config) -> anyhow::Result<()> {
    match cmd {
        ProjectionsCommand::Status => {
            println!(
                "{:<16} {:>12} {:>10}  {:<25} last error",
                "projection", "position", "lag", "updated"
            );
            for (s, lag) in prism_projections::status::all(&pool).await? {
                let err = s.last_error.unwrap_or_default();
                println!(
                    "{:<16} {:>12} {:>10}  {:<25} {err}",
                    s.name,
                    s.position,
                    lag,
                    s.updated_at.format("%Y-%m-%d %H:%M:%S UTC")
                );
            }
            Ok(())
        }
        ProjectionsCommand::Rebuild { name } => {
            anyhow::ensure!(
                name == prism_projections::read_models::NAME,
                "unknown projection {name:?} (known: read_models)"
            );
            let store = prism_event_store::PgEventStore::new(pool, cfg.snapshot_every);
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} positions  {msg}  eta {eta}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let report = prism_projections::rebuild::rebuild(
                &store,
                &prism_projections::read_models::ReadModels,
                prism_projections::read_models::TABLES,
                5_000,
                |p| {
                    bar.set_length(p.head as u64);
                    bar.set_position(p.position as u64);
                    bar.set_message(format!("{:.0} events/s", p.events_per_s));
                },
            )
            .await?;
            bar.finish_and_clear();
            println!(
                "rebuilt {name}: {} events in {:.1} s ({:.0} events/s), now at position {}",
                report.applied,
                report.seconds,
                report.applied as f64 / report.seconds.max(1e-9),
                report.position
            );
            Ok(())
        }
    }
}

async fn serve_http(
    what: &'static str,
    addr: String,
    app: axum::Router,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr} for the {what}"))?;
    tracing::info!(addr = %listener.local_addr()?, "{what} listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await?;
    tracing::info!("{what} stopped");
    Ok(())
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
