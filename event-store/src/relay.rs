//! The relay: tails the log below the safe horizon and publishes every event to NATS
//! JetStream, in global order, each exactly once as far as the stream is concerned.
//!
//! - Subject `<prefix>.events.<tenant|_>.<aggregate_type>.<event_type>`, body the envelope
//!   JSON, headers `Nats-Msg-Id` (the event id: a re-publish after a crash is dropped by the
//!   server's duplicate window), `Prism-Store-Id` (projectors refuse another deployment's
//!   events), `Prism-Position` and `Prism-Prev-Position` (the position published just before,
//!   so a consumer can prove it missed nothing and otherwise catch up from Postgres).
//! - Publishes are pipelined: a batch is sent, then its acks are awaited together; the
//!   checkpoint moves only past acknowledged events.
//! - One active relay per log: a session advisory lock. Others wait and take over when the
//!   holder's connection goes away.
//! - NATS down: commands are unaffected (Postgres is the source of truth); the relay retries
//!   with backoff and catches up. While it cannot publish, its row in `relay_checkpoints` says
//!   since when and why (`prism projections status`, `/readyz`), and `/metrics` counts it.
//! - Every message is signed ([`crate::signing`]): `Prism-Key-Id`, `Prism-Signature`.
//! - An event too large for the server's `max_payload` (the log bounds events well below
//!   NATS's default, but a server may be configured smaller) is published as a *reference*:
//!   its envelope without the payload and `Prism-Payload: reference`; projectors read the
//!   event itself from Postgres. The stream never stops on one event.

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use async_nats::HeaderMap;
use sqlx::Connection;
use tokio::sync::watch;
use uuid::Uuid;

use crate::signing::{BusKeys, NatsAuth};
use crate::{PgEventStore, StoreError, StoredEvent};

const MIN_IDLE: Duration = Duration::from_millis(1);
const MAX_IDLE: Duration = Duration::from_millis(5);

/// The advisory lock that makes one relay active (second key 2; appenders use key 1).
const RELAY_LOCK: (i32, i32) = (1_347_569_997, 2);

#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// `PRISM_NATS_PREFIX`: stream `<PREFIX>_EVENTS`, subjects `<prefix>.events.>`.
    pub prefix: String,
    /// How long the stream keeps events (projectors older than that catch up from Postgres).
    pub max_age: Duration,
    /// Events per publish batch.
    pub batch: i64,
    /// Signs what the relay publishes; verifies what projectors consume.
    pub keys: BusKeys,
    /// Credentials for NATS.
    pub auth: NatsAuth,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            prefix: "prism".into(),
            max_age: Duration::from_secs(7 * 24 * 3600),
            batch: 512,
            keys: BusKeys::development(),
            auth: NatsAuth::None,
        }
    }
}

impl RelayConfig {
    pub fn stream_name(&self) -> String {
        format!("{}_EVENTS", self.prefix.to_uppercase())
    }
    pub fn subject(&self, e: &StoredEvent) -> String {
        let tenant = e.tenant_id.map(|t| t.to_string()).unwrap_or_else(|| "_".into());
        format!("{}.events.{tenant}.{}.{}", self.prefix, e.aggregate_type, e.event_type)
    }
    pub fn checkpoint_name(&self) -> String {
        format!("relay:{}", self.prefix)
    }

    /// A NATS client with this configuration's credentials.
    pub async fn connect(&self, url: &str) -> Result<async_nats::Client, RelayError> {
        self.auth
            .options()
            .connection_timeout(Duration::from_secs(2))
            .connect(url)
            .await
            .map_err(|e| RelayError::Nats(e.to_string()))
    }
}

/// `Prism-Payload: reference`: the message carries the envelope without its payload; read the
/// event from the log.
pub const REFERENCE: &str = "reference";

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("nats: {0}")]
    Nats(String),
}

impl From<sqlx::Error> for RelayError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

/// Creates the stream, or updates its settings.
pub async fn ensure_stream(js: &jetstream::Context, cfg: &RelayConfig) -> Result<stream::Stream, RelayError> {
    let config = stream::Config {
        name: cfg.stream_name(),
        subjects: vec![format!("{}.events.>", cfg.prefix)],
        storage: stream::StorageType::File,
        duplicate_window: Duration::from_secs(120),
        max_age: cfg.max_age,
        ..Default::default()
    };
    match js.get_stream(&config.name).await {
        Ok(_) => {
            js.update_stream(&config)
                .await
                .map_err(|e| RelayError::Nats(e.to_string()))?;
        }
        Err(_) => {
            js.create_stream(config.clone())
                .await
                .map_err(|e| RelayError::Nats(e.to_string()))?;
        }
    }
    js.get_stream(&config.name)
        .await
        .map_err(|e| RelayError::Nats(e.to_string()))
}

/// Runs a relay until `shutdown` turns true. Waits (standing by) while another relay is active.
pub async fn run(
    store: PgEventStore,
    nats_url: String,
    cfg: RelayConfig,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), RelayError> {
    // The lock lives on its own connection: if this process dies, Postgres frees it.
    let mut lock_conn = store.pool().acquire().await?.detach();
    loop {
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
            .bind(RELAY_LOCK.0)
            .bind(RELAY_LOCK.1)
            .fetch_one(&mut lock_conn)
            .await?;
        if got {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = shutdown.changed() => return Ok(()),
        }
    }
    tracing::info!(prefix = %cfg.prefix, "relay active");
    let store_id = store.store_id().await?;
    let mut backoff = Duration::from_millis(100);
    loop {
        if *shutdown.borrow() {
            break;
        }
        match publish_loop(&store, &nats_url, &cfg, store_id, &mut shutdown, &mut lock_conn).await {
            Ok(()) => break,
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "relay interrupted; retrying");
                metrics::counter!("prism_relay_errors_total").increment(1);
                if let Err(e) = record_failure(&store, &cfg, &e.to_string()).await {
                    tracing::warn!(error = %e, "relay could not record its failure");
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => break,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
    let _ = lock_conn.close().await;
    tracing::info!("relay stopped");
    Ok(())
}

async fn publish_loop(
    store: &PgEventStore,
    nats_url: &str,
    cfg: &RelayConfig,
    store_id: Uuid,
    shutdown: &mut watch::Receiver<bool>,
    lock_conn: &mut sqlx::PgConnection,
) -> Result<(), RelayError> {
    let client = cfg.connect(nats_url).await?;
    // Room for the headers below the server's limit.
    let max_body = client.server_info().max_payload.saturating_sub(4096);
    let js = jetstream::new(client);
    ensure_stream(&js, cfg).await?;
    let mut checkpoint = checkpoint(store, cfg).await?;
    let mut idle = MIN_IDLE;
    loop {
        let events = store.read_all(checkpoint, cfg.batch).await?;
        if events.is_empty() {
            // Prove we still hold the lock's connection, then wait a little longer each time
            // the log is quiet: 1 ms while events flow, up to 5 ms when idle. (A NOTIFY from
            // every append would wake us sooner when idle, but it serialises commits.)
            sqlx::query("SELECT 1").execute(&mut *lock_conn).await?;
            tokio::select! {
                _ = tokio::time::sleep(idle) => {}
                _ = shutdown.changed() => return Ok(()),
            }
            idle = (idle * 2).min(MAX_IDLE);
            continue;
        }
        idle = MIN_IDLE;
        let mut acks = Vec::with_capacity(events.len());
        let mut prev = checkpoint;
        for e in &events {
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", e.event_id.to_string().as_str());
            headers.insert("Prism-Store-Id", store_id.to_string().as_str());
            headers.insert("Prism-Position", e.global_position.to_string().as_str());
            headers.insert("Prism-Prev-Position", prev.to_string().as_str());
            let mut body = serde_json::to_vec(e).map_err(StoreError::from)?;
            let reference = body.len() > max_body;
            if reference {
                let mut reference = e.clone();
                reference.payload = serde_json::Value::Null;
                body = serde_json::to_vec(&reference).map_err(StoreError::from)?;
                headers.insert("Prism-Payload", REFERENCE);
                metrics::counter!("prism_relay_references_total").increment(1);
                tracing::info!(
                    position = e.global_position,
                    bytes = body.len(),
                    "event over the bus's max payload: published as a reference"
                );
            }
            headers.insert("Prism-Key-Id", cfg.keys.key_id());
            let signature = cfg.keys.sign(&crate::signing::Signed {
                store: store_id,
                position: e.global_position,
                prev,
                reference,
                body: &body,
            });
            headers.insert("Prism-Signature", signature.as_str());
            let ack = js
                .publish_with_headers(cfg.subject(e), headers, body.into())
                .await
                .map_err(|e| RelayError::Nats(e.to_string()))?;
            acks.push(ack);
            prev = e.global_position;
        }
        for ack in acks {
            ack.await.map_err(|e| RelayError::Nats(e.to_string()))?;
        }
        checkpoint = prev;
        save_checkpoint(store, cfg, checkpoint).await?;
        metrics::gauge!("prism_relay_position").set(checkpoint as f64);
        tracing::trace!(events = events.len(), position = checkpoint, "relay published");
    }
}

/// The relay's checkpoint for this prefix (0 before the first publish).
pub async fn checkpoint(store: &PgEventStore, cfg: &RelayConfig) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT position FROM relay_checkpoints WHERE name = $1")
            .bind(cfg.checkpoint_name())
            .fetch_optional(store.pool())
            .await?
            .unwrap_or(0),
    )
}

async fn save_checkpoint(store: &PgEventStore, cfg: &RelayConfig, position: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO relay_checkpoints (name, position) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = now(),
                                          last_error = NULL, failing_since = NULL",
    )
    .bind(cfg.checkpoint_name())
    .bind(position)
    .execute(store.pool())
    .await?;
    Ok(())
}

/// Says, in the relay's row, that it cannot publish (and since when).
async fn record_failure(store: &PgEventStore, cfg: &RelayConfig, error: &str) -> Result<(), StoreError> {
    let error: String = error.chars().take(500).collect();
    sqlx::query(
        "INSERT INTO relay_checkpoints (name, position, last_error, failing_since) VALUES ($1, 0, $2, now())
         ON CONFLICT (name) DO UPDATE SET last_error = EXCLUDED.last_error,
                                          failing_since = coalesce(relay_checkpoints.failing_since, now())",
    )
    .bind(cfg.checkpoint_name())
    .bind(error)
    .execute(store.pool())
    .await?;
    Ok(())
}
