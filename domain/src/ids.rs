//! Typed ids: a `ChannelId` can never be passed where a `WorkspaceId` is expected.
//! All are UUIDv7, so they sort by creation time and index well.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! typed_id {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self(Uuid::nil())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    )*};
}

typed_id!(
    /// A registered person.
    UserId,
    /// A workspace: the tenant.
    WorkspaceId,
    /// A channel inside a workspace.
    ChannelId,
    /// A message in a channel or conversation.
    MessageId,
    /// A direct conversation between two members.
    ConversationId,
    /// A collaborative document.
    DocId,
    /// An uploaded file (its bytes are content-addressed in the object store).
    FileId,
    /// One event in the log.
    EventId,
    /// A private reflection session (its owner's alone).
    MirrorSessionId,
    /// One reframing turn (its owner's alone).
    TurnId,
    /// A goal with small actions (its owner's alone).
    LensGoalId,
);
