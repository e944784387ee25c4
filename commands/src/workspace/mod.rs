//! Workspace commands: the tenant and its members. Each authorizes on the `Workspace`
//! aggregate itself.

mod change_role;
mod create;
mod delete;
mod invitations;
mod join;
mod remove_member;
mod rename;
mod rotate_join_code;
