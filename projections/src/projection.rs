//! What a projection is to the runtime.

use futures::future::BoxFuture;
use prism_event_store::StoredEvent;
use sqlx::PgConnection;

use crate::ProjectionError;

/// A projection applies events, in global order, inside the runtime's transaction (which also
/// stores its checkpoint): an event is applied exactly once or not at all.
pub trait Projection: Send + Sync + 'static {
    /// Its name: the checkpoint's key and the durable consumer's name.
    fn name(&self) -> &'static str;

    fn apply<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a StoredEvent,
    ) -> BoxFuture<'a, Result<(), ProjectionError>>;

    /// Applies several events in order. The default applies them one by one; a projection may
    /// do better (set-based statements for runs of one event type), as long as the result is
    /// the same as applying them one by one.
    fn apply_many<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        events: &'a [StoredEvent],
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move {
            for e in events {
                self.apply(tx, e).await?;
            }
            Ok(())
        })
    }
}
