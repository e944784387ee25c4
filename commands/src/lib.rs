//! The write side's application layer: every command Prism accepts, one file each, grouped by
//! aggregate (`workspace/`, `channel/`, `message/`, `conversation/`, `doc/`, `auth/`).
//!
//! Each command follows [`pipeline`]: load the aggregate (snapshot + tail, or the hot cache),
//! authorize on the aggregate's own state (a workspace's member list, never a read model),
//! handle, append with the expected version; retry a bounded number of times on a conflict;
//! honor `Idempotency-Key` (stored in the same transaction as the events) and `If-Match`.
//!
//! It may import `prism-domain`, `prism-event-store` and `prism-auth`. It knows nothing of HTTP.

pub mod auth;
pub mod cache;
pub mod channel;
pub mod context;
pub mod conversation;
pub mod doc;
pub mod error;
pub mod locks;
pub mod message;
pub mod outcome;
pub mod pipeline;
pub mod workspace;

use std::sync::Arc;

use prism_auth::{Jwt, PasswordHasherId};
use prism_event_store::PgEventStore;

pub use context::{Actor, CommandContext};
pub use error::CommandError;
pub use outcome::Outcome;

/// Everything commands need; cheap to clone.
#[derive(Clone)]
pub struct Commands {
    pub(crate) store: PgEventStore,
    pub(crate) cache: Arc<cache::AggregateCache>,
    pub(crate) locks: Arc<locks::StripedLocks>,
    pub(crate) jwt: Jwt,
    pub(crate) hasher: PasswordHasherId,
    pub(crate) refresh_ttl: chrono::Duration,
}

impl Commands {
    pub fn new(store: PgEventStore, jwt: Jwt, hasher: PasswordHasherId) -> Self {
        Self {
            store,
            cache: Arc::new(cache::AggregateCache::new(100_000)),
            locks: Arc::new(locks::StripedLocks::new(4096)),
            jwt,
            hasher,
            refresh_ttl: chrono::Duration::days(30),
        }
    }

    pub fn store(&self) -> &PgEventStore {
        &self.store
    }

    pub fn jwt(&self) -> &Jwt {
        &self.jwt
    }
}

/// Turns a domain validation result into a command error (for `?` on value-object parsing).
pub(crate) fn valid<T>(r: Result<T, prism_domain::DomainError>) -> Result<T, CommandError> {
    r.map_err(CommandError::Domain)
}

impl Commands {
    /// Is the event store reachable? (for `/readyz`)
    pub async fn ping(&self) -> Result<(), CommandError> {
        sqlx::query("SELECT 1").execute(self.store.pool()).await?;
        Ok(())
    }
}
