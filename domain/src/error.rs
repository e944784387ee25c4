//! The one error type of the domain. Each variant maps to exactly one HTTP status, in the
//! write API's single `status_code()` function.

/// Why a command was refused by the domain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// A value failed validation (bad email, empty name, body too long). → 422
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    /// The thing does not exist, or the caller may not know it exists. → 404
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The caller is known to the resource but lacks the role. → 403
    #[error("{0}")]
    Forbidden(&'static str),
    /// A domain rule refused the command (the last owner cannot leave, …). → 422
    #[error("{message}")]
    Rule { code: &'static str, message: String },
    /// The command clashes with the current state (already a member, …). → 409
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
}

impl DomainError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }
    pub fn rule(code: &'static str, message: impl Into<String>) -> Self {
        Self::Rule {
            code,
            message: message.into(),
        }
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }
}
