//! The application layer's one error type. The write API turns it into HTTP in one place.

use prism_domain::DomainError;
use prism_event_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The aggregate was not at the version the command was decided on (`expected`): another
    /// writer kept winning; the client may try again. `actual` when the store knows it. → 409
    #[error("the resource was changed concurrently; try again")]
    Conflict { expected: Option<i64>, actual: Option<i64> },
    /// `If-Match` named version `expected`; the resource is at `actual` (when known). → 412
    #[error("the resource is not at the version given in If-Match")]
    PreconditionFailed { expected: i64, actual: Option<i64> },
    /// A set rule refused the command (`email`, `channel_name`). → 409
    #[error("{0}")]
    Taken(String),
    /// The same `Idempotency-Key` was sent with a different request. → 422
    #[error("this Idempotency-Key was used for a different request")]
    IdempotencyKeyReused,
    /// A concurrent request with the same `Idempotency-Key` committed first. → 409 if it
    /// escapes (the idempotency layer answers with the stored response instead).
    #[error("a request with this Idempotency-Key is already being processed")]
    DuplicateRequest,
    /// A single-use token (a password-reset link) that is unknown, spent or expired. → 400
    #[error("{0}")]
    InvalidToken(&'static str),
    /// Bad credentials or a bad refresh token. → 401
    #[error("{0}")]
    Unauthorized(&'static str),
    /// Over the plan's daily allowance for a reflection feature. → 429 `quota_exceeded`
    #[error("the {plan} plan allows {allowance} {feature} requests a day; the allowance resets at {resets_at}")]
    QuotaExceeded {
        feature: &'static str,
        allowance: u32,
        plan: &'static str,
        resets_at: chrono::DateTime<chrono::Utc>,
    },
    /// The caller's account was erased (its data key is gone). → 401
    #[error("this account was erased")]
    Erased,
    /// The command's event would be larger than the log takes. → 413
    #[error("{0}")]
    TooLarge(String),
    /// Too many failed sign-ins for this account: locked for `retry_after` seconds. → 429
    #[error("too many failed attempts; try again later")]
    TooManyAttempts { retry_after: i64 },
    /// Every password-hashing slot is taken (argon2's memory is bounded). → 503
    #[error("the service is busy; try again shortly")]
    Busy,
    /// A dependency (the database) is unavailable. → 503
    #[error("a dependency is unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected failure. → 500 (never for bad input)
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for CommandError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::VersionConflict { expected } => CommandError::Conflict { expected, actual: None },
            // A guard is another aggregate's version: this one's is not known to have moved.
            StoreError::GuardMoved => CommandError::Conflict {
                expected: None,
                actual: None,
            },
            StoreError::Taken { scope } => CommandError::Taken(match scope.as_str() {
                "email" => "an account with this email already exists".into(),
                s if s.starts_with("channel_name") => "a channel with this name already exists in the workspace".into(),
                s => format!("{s} is already taken"),
            }),
            StoreError::DuplicateIdempotencyKey => CommandError::DuplicateRequest,
            StoreError::EventTooLarge { max, .. } => CommandError::TooLarge(format!(
                "the change is too large to record (at most {} KiB an event)",
                max / 1024
            )),
            e if e.is_unavailable() => CommandError::Unavailable(e.to_string()),
            other => CommandError::Internal(other.to_string()),
        }
    }
}

impl From<sqlx::Error> for CommandError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::from(e).into()
    }
}

impl From<prism_vault::VaultError> for CommandError {
    fn from(e: prism_vault::VaultError) -> Self {
        match e {
            prism_vault::VaultError::Destroyed => CommandError::Erased,
            prism_vault::VaultError::Db(e) => e.into(),
            other => CommandError::Internal(other.to_string()),
        }
    }
}
