//! Who is asking, and how: what every command carries besides its own input.

use prism_domain::UserId;
use uuid::Uuid;

/// The authenticated caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub user_id: UserId,
    /// The session (refresh-token family) the caller's token belongs to, when it has one.
    pub session: Option<Uuid>,
}

/// A command's circumstances.
#[derive(Debug, Clone)]
pub struct CommandContext {
    pub actor: Actor,
    pub request_id: Option<String>,
    pub correlation_id: Uuid,
    /// `Idempotency-Key`, with a fingerprint of the request it came with.
    pub idempotency: Option<(String, String)>,
    /// Which version of the aggregate the command may apply to.
    pub expected: Expected,
}

/// Which version of its aggregate a command may apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Expected {
    /// The current one, whatever it is: the pipeline reads it, decides, and decides again if
    /// another writer got there first.
    #[default]
    Current,
    /// Exactly this version (`If-Match`): the client decided on it, so a race is not retried
    /// but refused ([`CommandError::PreconditionFailed`](crate::CommandError)).
    Exactly(i64),
}

impl CommandContext {
    pub fn new(user: UserId) -> Self {
        Self {
            actor: Actor {
                user_id: user,
                session: None,
            },
            request_id: None,
            correlation_id: Uuid::now_v7(),
            idempotency: None,
            expected: Expected::Current,
        }
    }
}
