//! Workspace commands: the tenant and its members. Each authorizes on the `Workspace`
//! aggregate itself.

mod api_keys;
mod change_role;
mod create;
mod delete;
pub use api_keys::NewApiKey;
mod invitations;
mod webhooks;
pub use webhooks::parse_spec;
mod join;
mod remove_member;
mod rename;
mod rotate_join_code;
