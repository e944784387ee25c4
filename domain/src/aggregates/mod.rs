//! The kernel aggregates, one file each. Each owns its command enum, its event enum and its
//! rules; commands that need a caller's workspace role carry it, decided by the application
//! layer from the `Workspace` aggregate's own state (never from a read model).

pub mod ai_month;
pub mod channel;
pub mod conversation;
pub mod doc;
pub mod file;
pub mod lens_goal;
pub mod message;
pub mod mirror_session;
pub mod turn;
pub mod user;
pub mod workspace;

pub use ai_month::{AiMonth, AiMonthCommand, AiMonthEvent};
pub use channel::{Channel, ChannelCommand, ChannelEvent};
pub use conversation::{Conversation, ConversationCommand, ConversationEvent};
pub use doc::{Doc, DocCommand, DocEvent};
pub use file::{File, FileCommand, FileEvent};
pub use lens_goal::{LensGoal, LensGoalCommand, LensGoalEvent};
pub use message::{Message, MessageCommand, MessageEvent};
pub use mirror_session::{MirrorSession, MirrorSessionCommand, MirrorSessionEvent};
pub use turn::{Turn, TurnCommand, TurnEvent};
pub use user::{User, UserCommand, UserEvent};
pub use workspace::{
    Grant, Hook, KeyGrant, KeyScope, WebhookSpec, Workspace, WorkspaceCommand, WorkspaceEvent, GRANTOR_LOST_AUTHORITY,
    MAX_WEBHOOKS, WEBHOOK_EVENT_TYPES,
};

/// Every event type the domain writes, with the aggregate type that writes it, read off the
/// event enums' own serde definitions (so a new variant is listed without anyone remembering).
/// A new event enum is added here; the policies that must name every event type (visibility)
/// walk this list in their tests.
pub fn catalog() -> Vec<(&'static str, String)> {
    use cqrs_es::Aggregate;
    fn of<A: Aggregate>() -> impl Iterator<Item = (&'static str, String)>
    where
        A::Event: serde::de::DeserializeOwned,
    {
        variants::<A::Event>().into_iter().map(|t| (A::TYPE, t))
    }
    let auth = variants::<crate::auth_events::AuthEvent>()
        .into_iter()
        .map(|t| (crate::auth_events::AUTH_STREAM, t));
    of::<AiMonth>()
        .chain(of::<Channel>())
        .chain(of::<Conversation>())
        .chain(of::<Doc>())
        .chain(of::<File>())
        .chain(of::<LensGoal>())
        .chain(of::<Message>())
        .chain(of::<MirrorSession>())
        .chain(of::<Turn>())
        .chain(of::<User>())
        .chain(of::<Workspace>())
        .chain(auth)
        .collect()
}

/// The `type` names an adjacently tagged event enum accepts: serde lists them when it is handed
/// one it does not know.
fn variants<E: serde::de::DeserializeOwned>() -> Vec<String> {
    let unknown = serde_json::json!({"type": "\u{1}", "data": {}});
    let Err(e) = serde_json::from_value::<E>(unknown) else {
        return Vec::new();
    };
    let message = e.to_string();
    let expected = message.split_once("expected").map_or("", |(_, rest)| rest);
    expected.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_catalog_lists_every_event_type_once_per_writer() {
        let all = super::catalog();
        assert!(all.len() > 60, "{all:?}");
        for (ty, name) in [
            ("workspace", "invitation.created"),
            ("message", "reaction.toggled"),
            ("auth", "impersonation.started"),
            ("turn", "safety.crisis_detected"),
            ("mirror_session", "safety.crisis_detected"),
        ] {
            assert!(all.iter().any(|(t, n)| *t == ty && n == name), "{ty} {name}");
        }
        assert!(all.iter().all(|(_, n)| n.contains('.')), "{all:?}");
    }
}
