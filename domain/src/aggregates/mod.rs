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
    Hook, KeyGrant, KeyScope, WebhookSpec, Workspace, WorkspaceCommand, WorkspaceEvent, MAX_WEBHOOKS,
    WEBHOOK_EVENT_TYPES,
};
