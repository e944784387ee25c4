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
    /// Something that should not happen (a sealed secret that does not open, a task that died).
    #[error("{0}")]
    Internal(String),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("search index: {0}")]
    Search(String),
    /// The bus cannot be reached: the projector follows the Postgres log meanwhile.
    #[error("bus: {0}")]
    Bus(String),
    /// The stream carries another deployment's events.
    #[error("event from another store ({0}); refusing to mix deployments")]
    ForeignStore(String),
}

impl From<prism_bus::BusError> for ProjectionError {
    fn from(e: prism_bus::BusError) -> Self {
        match e {
            prism_bus::BusError::Unavailable(m) | prism_bus::BusError::Settings(m) => Self::Bus(m),
            prism_bus::BusError::ForeignStore(s) => Self::ForeignStore(s),
            prism_bus::BusError::Store(e) => Self::Store(e),
        }
    }
}
