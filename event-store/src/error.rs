//! The event store's one error type, and the one place SQLSTATE codes are mapped.

/// SQLSTATE codes the store reacts to, by name.
pub mod sqlstate {
    /// unique_violation: a concurrent append took this aggregate's next sequence (or key).
    pub const UNIQUE_VIOLATION: &str = "23505";
    /// Raised by `prism_append` when a uniqueness claim belongs to another aggregate.
    pub const UNIQUENESS_CLAIM_REFUSED: &str = "PR001";
    /// Raised by `prism_append` when the expected version is not the log's last event.
    pub const EXPECTED_VERSION_MISMATCH: &str = "PR002";
    /// cardinality_violation: two commands of one group claimed the same value (`ON CONFLICT`
    /// cannot touch a row twice in one statement).
    pub const CARDINALITY_VIOLATION: &str = "21000";
    /// Raised by `prism_append` when a guard aggregate has changed since it was read.
    pub const GUARD_MOVED: &str = "PR003";
    /// serialization_failure / deadlock_detected: safe to retry.
    pub const SERIALIZATION_FAILURE: &str = "40001";
    pub const DEADLOCK_DETECTED: &str = "40P01";
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer appended to this aggregate first: reload and decide again, or answer 409.
    /// `expected` is the version the append expected, when the append was one aggregate's.
    #[error("the aggregate was changed concurrently (expected version {expected:?})")]
    VersionConflict { expected: Option<i64> },
    /// Two commands grouped into one append collide (e.g. claim the same value): the group is
    /// retried command by command, where one of them gets `Taken`.
    #[error("commands of one group collide")]
    GroupCollision,
    /// An aggregate the command was decided on (a guard) has changed: decide again.
    #[error("an aggregate the command was decided on has changed")]
    GuardMoved,
    /// A set rule refused a claim (e.g. `email` or `channel_name`).
    #[error("{scope} is already taken")]
    Taken { scope: String },
    /// This idempotency key was already used; its first answer is stored.
    #[error("idempotency key already used")]
    DuplicateIdempotencyKey,
    /// An event would be larger than the bus carries: refused before anything is written.
    #[error("an event of {bytes} bytes is over the limit of {max}")]
    EventTooLarge { bytes: usize, max: usize },
    /// An event could not be turned into (or back from) JSON.
    #[error("event serialisation: {0}")]
    Serde(#[from] serde_json::Error),
    /// The database is unreachable or failed.
    #[error("database: {0}")]
    Database(sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database was unreachable for a grouped append.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else that went wrong, as text (shared by every command of a failed group).
    #[error("{0}")]
    Failed(String),
}

impl StoreError {
    /// True for a database that could not be reached (answer 503), as opposed to a bug.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Database(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed)
                | StoreError::Unavailable(_)
        )
    }

    /// True for a failure caused by one command's content rather than by the database.
    pub fn belongs_to_one_command(&self) -> bool {
        matches!(
            self,
            StoreError::VersionConflict { .. }
                | StoreError::GuardMoved
                | StoreError::GroupCollision
                | StoreError::Taken { .. }
                | StoreError::DuplicateIdempotencyKey
        )
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            match db.code().as_deref() {
                Some(sqlstate::UNIQUE_VIOLATION) => match db.constraint() {
                    Some("events_aggregate_sequence_key") => return StoreError::VersionConflict { expected: None },
                    Some("idempotency_keys_pkey") => return StoreError::DuplicateIdempotencyKey,
                    Some("uniqueness_pkey") => return StoreError::Taken { scope: "value".into() },
                    _ => {}
                },
                Some(sqlstate::UNIQUENESS_CLAIM_REFUSED) => {
                    let scope = db
                        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                        .and_then(|pg| pg.detail())
                        .unwrap_or("value")
                        .to_owned();
                    return StoreError::Taken { scope };
                }
                Some(sqlstate::GUARD_MOVED) => return StoreError::GuardMoved,
                Some(sqlstate::CARDINALITY_VIOLATION) => return StoreError::GroupCollision,
                Some(sqlstate::EXPECTED_VERSION_MISMATCH) => return StoreError::VersionConflict { expected: None },
                _ => {}
            }
        }
        StoreError::Database(e)
    }
}
