//! Conversation commands: one direct conversation per pair of members in a workspace.

mod start;
