//! The projections' one error type.

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Store(#[from] prism_event_store::StoreError),
    /// An event this projection cannot read: the projection halts rather than skip it.
    #[error("event {position} ({event_type}) cannot be applied: {reason}")]
    Unreadable {
        position: i64,
        event_type: String,
        reason: String,
    },
    #[error("{0}")]
    Io(String),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("search index: {0}")]
    Search(String),
    #[error("nats: {0}")]
    Nats(String),
    /// The stream carries another deployment's events.
    #[error("event from another store ({0}); refusing to mix deployments")]
    ForeignStore(String),
}
