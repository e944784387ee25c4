//! `prism`: the one binary. `prism serve` runs everything for local use; the other
//! subcommands run one part each, as `compose.yaml` does.

mod config;

use anyhow::Context;
use clap::{Parser, Subcommand};
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
    /// Migrate, then run every part of Prism in this one process.
    Serve,
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
    match cli.command {
        Command::Migrate => {
            let pool = cfg.connect().await?;
            prism_event_store::db::migrate(&pool)
                .await
                .context("migrating the database")?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::WriteApi => {
            let pool = cfg.connect().await?;
            serve_write_api(&cfg, pool).await
        }
        Command::Serve => {
            let pool = cfg.connect().await?;
            prism_event_store::db::migrate(&pool)
                .await
                .context("migrating the database")?;
            serve_write_api(&cfg, pool).await
        }
    }
}

async fn serve_write_api(cfg: &Config, pool: sqlx::PgPool) -> anyhow::Result<()> {
    let store =
        prism_event_store::PgEventStore::new(pool, cfg.snapshot_every).with_group_commit(cfg.group_commit_flushers, 64);
    let hasher = prism_auth::PasswordHasherId::owasp().map_err(|e| anyhow::anyhow!("{e}"))?;
    let commands = prism_commands::Commands::new(store, cfg.jwt(), hasher);
    let app = prism_write_api::app(prism_write_api::AppState::new(commands));
    let listener = tokio::net::TcpListener::bind(&cfg.write_addr)
        .await
        .with_context(|| format!("cannot listen on {} (PRISM_WRITE_ADDR)", cfg.write_addr))?;
    tracing::info!(addr = %listener.local_addr()?, "write api listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("write api stopped");
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
