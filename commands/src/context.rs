//! Who is asking, and how: what every command carries besides its own input.

use prism_domain::{UserId, WorkspaceId};
use uuid::Uuid;

/// The authenticated caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    /// The person, or for an API key the key's id (its own principal; events name it).
    pub user_id: UserId,
    /// The session (refresh-token family) the caller's token belongs to, when it has one.
    pub session: Option<Uuid>,
    pub kind: ActorKind,
    /// The platform admin acting as this user, under an impersonation.
    pub impersonator: Option<UserId>,
}

/// Who the principal is: a person, or a workspace's API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ActorKind {
    #[default]
    User,
    /// A key acts only in its own workspace, as a member at most.
    ApiKey { workspace: WorkspaceId },
    /// Prism itself (the clock: expiring invitations); its `user_id` is nil.
    System,
}

impl Actor {
    /// Prism itself, acting on the clock.
    pub fn system() -> Self {
        Self {
            user_id: UserId(Uuid::nil()),
            session: None,
            kind: ActorKind::System,
            impersonator: None,
        }
    }

    /// A person signed in with their own session.
    pub fn user(user_id: UserId, session: Option<Uuid>) -> Self {
        Self {
            user_id,
            session,
            kind: ActorKind::User,
            impersonator: None,
        }
    }

    /// `actor_kind` as the event metadata records it.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            ActorKind::User => "user",
            ActorKind::ApiKey { .. } => "api_key",
            ActorKind::System => "system",
        }
    }
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
            actor: Actor::user(user, None),
            request_id: None,
            correlation_id: Uuid::now_v7(),
            idempotency: None,
            expected: Expected::Current,
        }
    }
}
