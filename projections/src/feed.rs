//! The live feed of a workspace's kernel events (for Server-Sent Events), read from the log
//! below the safe horizon, so a client resuming from its last event id never misses one.

use prism_event_store::{PgEventStore, StoredEvent};
use sqlx::PgPool;
use uuid::Uuid;

use crate::ProjectionError;

#[derive(Clone)]
pub struct Feed {
    store: PgEventStore,
}

impl Feed {
    pub fn new(pool: PgPool) -> Self {
        Self {
            store: PgEventStore::new(pool, 0),
        }
    }

    /// Up to `limit` events of `tenant` after `after`, in global order.
    pub async fn tail(&self, tenant: Uuid, after: i64, limit: i64) -> Result<Vec<StoredEvent>, ProjectionError> {
        Ok(self.store.read_tenant(tenant, after, limit).await?)
    }

    /// Where the log is safe to read up to now (a new subscriber starts from here).
    pub async fn horizon(&self) -> Result<i64, ProjectionError> {
        Ok(self.store.safe_horizon().await?)
    }
}
