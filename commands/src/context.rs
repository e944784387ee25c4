//! Who is asking, and how: what every command carries besides its own input.

use prism_domain::UserId;
use uuid::Uuid;

/// The authenticated caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub user_id: UserId,
}

/// A command's circumstances.
#[derive(Debug, Clone)]
pub struct CommandContext {
    pub actor: Actor,
    pub request_id: Option<String>,
    pub correlation_id: Uuid,
    /// `Idempotency-Key`, with a fingerprint of the request it came with.
    pub idempotency: Option<(String, String)>,
    /// `If-Match`: the version the client decided on.
    pub if_match: Option<i64>,
}

impl CommandContext {
    pub fn new(user: UserId) -> Self {
        Self {
            actor: Actor { user_id: user },
            request_id: None,
            correlation_id: Uuid::now_v7(),
            idempotency: None,
            if_match: None,
        }
    }
}
