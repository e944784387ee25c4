//! Connecting to Postgres and migrating it.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

use crate::StoreError;

/// The embedded migrations (`migrations/` at the repository root).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Connects a pool; if the database does not exist yet, creates it first (local runs start
/// from nothing).
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, StoreError> {
    let opts = PgConnectOptions::from_str(url)?;
    ensure_database(&opts).await?;
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(opts)
        .await?;
    Ok(pool)
}

/// A pool on a read replica: made without connecting (a replica that is down at start is no
/// reason not to start: reads go to the primary until it answers), and quick to give up: a
/// read waits at most a quarter of a second for a connection (a replica that has just died
/// keeps a waiting caller retrying to connect until then; the read API's watcher sends the
/// next reads to the primary meanwhile). A read node that waits longer than that for one is
/// overloaded, and says so with a 503 and `Retry-After`.
pub fn connect_replica(url: &str, max_connections: u32) -> Result<PgPool, StoreError> {
    let opts = PgConnectOptions::from_str(url)?;
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_millis(250))
        .connect_lazy_with(opts))
}

async fn ensure_database(opts: &PgConnectOptions) -> Result<(), StoreError> {
    let Some(name) = opts.get_database().map(str::to_owned) else {
        return Ok(());
    };
    let admin = opts.clone().database("postgres");
    let mut conn = match admin.connect().await {
        Ok(c) => c,
        // No access to the maintenance database: assume the target exists, and let the real
        // connection say otherwise.
        Err(sqlx::Error::Database(_)) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(&name)
        .fetch_one(&mut conn)
        .await?;
    if !exists {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        if let Err(e) = sqlx::query(&format!("CREATE DATABASE {quoted}"))
            .execute(&mut conn)
            .await
        {
            // Another process may have created it at the same moment.
            if !matches!(&e, sqlx::Error::Database(d) if d.code().as_deref() == Some("42P04")) {
                return Err(e.into());
            }
        }
        tracing::info!(database = %name, "created database");
    }
    conn.close().await?;
    Ok(())
}

/// Applies every pending migration.
pub async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    MIGRATOR.run(pool).await?;
    Ok(())
}
