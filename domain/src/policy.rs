//! The permission matrix, as one function. Every command that needs a role asks [`authorize`];
//! nothing else in Prism decides who may do what.
//!
//! | action                         | member | admin | owner |
//! |--------------------------------|--------|-------|-------|
//! | view, post, edit own, react, docs, conversations | ✓ | ✓ | ✓ |
//! | delete any message or doc, manage channels, members, API keys and webhooks, rename, rotate join code | | ✓ | ✓ |
//! | delete the workspace, grant or revoke owner | | | ✓ |
//!
//! A caller with no role (not a member) gets `NotFound`, not `Forbidden`: a workspace's
//! existence is itself private to its members.

use serde::{Deserialize, Serialize};

use crate::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Member,
    Admin,
    Owner,
}

impl Role {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        match raw {
            "member" => Ok(Self::Member),
            "admin" => Ok(Self::Admin),
            "owner" => Ok(Self::Owner),
            _ => Err(DomainError::invalid("role", "must be one of owner, admin, member")),
        }
    }
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }
}

/// A role as stored (read models keep it as text).
impl TryFrom<String> for Role {
    type Error = DomainError;
    fn try_from(raw: String) -> Result<Self, DomainError> {
        Self::parse(&raw)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    View,
    PostMessage,
    React,
    WriteDocs,
    StartConversation,
    DeleteAnyMessage,
    DeleteAnyDoc,
    ManageChannels,
    ManageMembers,
    ManageApiKeys,
    ManageIntegrations,
    RenameWorkspace,
    RotateJoinCode,
    ViewAudit,
    DeleteWorkspace,
    GrantOwner,
}

impl Action {
    fn least_role(self) -> Role {
        use Action::*;
        match self {
            View | PostMessage | React | WriteDocs | StartConversation => Role::Member,
            DeleteAnyMessage | DeleteAnyDoc | ManageChannels | ManageMembers | ManageApiKeys | ManageIntegrations
            | RenameWorkspace | RotateJoinCode | ViewAudit => Role::Admin,
            DeleteWorkspace | GrantOwner => Role::Owner,
        }
    }
}

/// May a caller with `role` in a workspace (None: not a member) do `action`?
pub fn authorize(role: Option<Role>, action: Action) -> Result<(), DomainError> {
    match role {
        None => Err(DomainError::NotFound("workspace")),
        Some(r) if r >= action.least_role() => Ok(()),
        Some(_) => Err(DomainError::Forbidden(match action.least_role() {
            Role::Owner => "only an owner may do this",
            _ => "only an admin or owner may do this",
        })),
    }
}

/// True when `role` may do `action` (for code that chooses between paths, not refuses).
pub fn allows(role: Option<Role>, action: Action) -> bool {
    authorize(role, action).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix() {
        use Action::*;
        let all = [
            View,
            PostMessage,
            React,
            WriteDocs,
            StartConversation,
            DeleteAnyMessage,
            DeleteAnyDoc,
            ManageChannels,
            ManageMembers,
            ManageApiKeys,
            ManageIntegrations,
            RenameWorkspace,
            RotateJoinCode,
            ViewAudit,
            DeleteWorkspace,
            GrantOwner,
        ];
        for a in all {
            assert_eq!(authorize(None, a), Err(DomainError::NotFound("workspace")));
            assert!(allows(Some(Role::Owner), a));
        }
        assert!(allows(Some(Role::Member), PostMessage));
        assert!(!allows(Some(Role::Member), DeleteAnyMessage));
        assert!(allows(Some(Role::Admin), ManageChannels));
        assert!(!allows(Some(Role::Admin), DeleteWorkspace));
        assert!(!allows(Some(Role::Admin), GrantOwner));
    }
}
