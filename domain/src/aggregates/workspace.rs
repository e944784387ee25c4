//! A workspace: the tenant. It owns its member list and roles, so every authorization in a
//! workspace is decided on this aggregate's own state.

use std::collections::BTreeMap;

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use crate::policy::{authorize, Action, Role};
use crate::values::{JoinCode, WorkspaceName};
use crate::{DomainError, UserId, WorkspaceId};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Workspace {
    pub id: Option<WorkspaceId>,
    pub name: String,
    pub members: BTreeMap<UserId, Role>,
    pub join_code: String,
    pub deleted: bool,
    /// Each member's place in the order they joined (for "longest-standing"). State from a
    /// snapshot taken before it existed lacks it; such members rank by id (UUIDv7: sign-up time).
    #[serde(default)]
    pub joined: BTreeMap<UserId, u64>,
    #[serde(default)]
    pub joins: u64,
    /// Invitations not accepted or revoked yet.
    #[serde(default)]
    pub invitations: BTreeMap<uuid::Uuid, Pending>,
    /// Live API keys (created, not revoked): workspace-scoped principals acting as members.
    #[serde(default)]
    pub api_keys: BTreeMap<uuid::Uuid, KeyGrant>,
    /// Webhook endpoints (not deleted).
    #[serde(default)]
    pub webhooks: BTreeMap<uuid::Uuid, Hook>,
}

/// A webhook endpoint as the workspace knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hook {
    pub spec: WebhookSpec,
    pub enabled: bool,
    /// Who vouches for it: whoever created it or last changed it. No default: a snapshot from
    /// before grantors were kept fails to load and the state is replayed from the log.
    pub grantor: UserId,
}

/// The events a webhook may ask for: a workspace's content and membership. Never direct
/// conversations, reflection, or what is an admin's secret (join codes, keys, invitations,
/// webhooks themselves).
pub const WEBHOOK_EVENT_TYPES: &[&str] = &[
    "workspace.renamed",
    "workspace.deleted",
    "member.joined",
    "member.role_changed",
    "member.left",
    "channel.created",
    "channel.updated",
    "channel.deleted",
    "message.created",
    "message.updated",
    "message.deleted",
    "reaction.toggled",
    "doc.created",
    "doc.updated",
    "doc.archived",
    "doc.restored",
    "doc.deleted",
];

/// The most webhook endpoints one workspace may have.
pub const MAX_WEBHOOKS: usize = 20;

/// What a webhook endpoint asks for, checked (`url` parsed by the caller).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookSpec {
    pub url: String,
    pub events: Vec<String>,
}

/// What an API key may do in its workspace.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KeyGrant {
    pub scopes: Vec<KeyScope>,
    /// Unix seconds; none: until revoked.
    pub expires_at: Option<i64>,
    /// Who made it (no default, as [`Hook::grantor`]).
    pub grantor: UserId,
}

/// What a grant needs of its grantor: when made, and for as long as it lives.
///
/// A grant (an invitation, an API key, a webhook) is worth what its grantor may still grant.
/// One who is removed, demoted or erased takes their grants' force along, in the same append
/// as the change of role ([`Workspace::lapse_grants`]), each closed by an event that says why
/// ([`GRANTOR_LOST_AUTHORITY`]); an owner sees it and makes the grant again if it is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    Invitation(Role),
    ApiKey,
    Webhook,
}

/// The reason on an `api_key.revoked`, `invitation.revoked` or `webhook.disabled` written
/// because the grantor lost the right to make the grant.
pub const GRANTOR_LOST_AUTHORITY: &str = "grantor_lost_authority";

/// An API key's scope: reading (the read API) or writing (member-level commands).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyScope {
    Read,
    Write,
}

impl KeyScope {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        match raw {
            "read" => Ok(Self::Read),
            "write" => Ok(Self::Write),
            _ => Err(DomainError::invalid("scopes", "each scope must be read or write")),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }
}

/// An invitation waiting for an answer.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Pending {
    pub role: Role,
    /// Unix seconds.
    pub expires_at: i64,
    pub invited_by: UserId,
}

impl Workspace {
    /// The caller's role; `None` for non-members and for every caller once it is deleted.
    pub fn role_of(&self, user: UserId) -> Option<Role> {
        if self.deleted || self.id.is_none() {
            return None;
        }
        self.members.get(&user).copied()
    }

    /// An API key's role: a live key of this workspace acts as a member (never more: keys
    /// cannot manage anything), within its scopes, which the edge checks.
    pub fn key_role(&self, key: uuid::Uuid) -> Option<Role> {
        if self.deleted || self.id.is_none() {
            return None;
        }
        self.api_keys.contains_key(&key).then_some(Role::Member)
    }

    /// Who takes over from `leaving`: the longest-standing admin, else member.
    fn successor(&self, leaving: UserId) -> Option<(UserId, Role)> {
        let rank = |u: &UserId| (self.joined.get(u).copied().unwrap_or(u64::MAX), *u);
        [Role::Admin, Role::Member].into_iter().find_map(|wanted| {
            self.members
                .iter()
                .filter(|(u, r)| **u != leaving && **r == wanted)
                .min_by_key(|(u, _)| rank(u))
                .map(|(u, r)| (*u, *r))
        })
    }

    /// Whether `grantor` may make (or keep alive) `grant` now: the one rule for invitations,
    /// API keys and webhooks.
    pub fn may_grant(&self, grantor: UserId, grant: Grant) -> bool {
        let role = self.role_of(grantor);
        match grant {
            Grant::Invitation(invited) => {
                authorize(role, Action::ManageMembers).is_ok()
                    && (invited != Role::Owner || authorize(role, Action::GrantOwner).is_ok())
            }
            Grant::ApiKey => authorize(role, Action::ManageApiKeys).is_ok(),
            Grant::Webhook => authorize(role, Action::ManageIntegrations).is_ok(),
        }
    }

    /// After a change of roles (`by` made it): closes every grant whose grantor may no longer
    /// make it, in the same append. Keys are revoked, invitations revoked, webhooks disabled.
    async fn lapse_grants(&mut self, by: UserId, sink: &EventSink<Self>) {
        use WorkspaceEvent as E;
        let reason = || Some(GRANTOR_LOST_AUTHORITY.to_owned());
        let keys: Vec<_> = (self.api_keys.iter())
            .filter(|(_, k)| !self.may_grant(k.grantor, Grant::ApiKey))
            .map(|(id, _)| *id)
            .collect();
        let invitations: Vec<_> = (self.invitations.iter())
            .filter(|(_, p)| !self.may_grant(p.invited_by, Grant::Invitation(p.role)))
            .map(|(id, _)| *id)
            .collect();
        let hooks: Vec<_> = (self.webhooks.iter())
            .filter(|(_, h)| h.enabled && !self.may_grant(h.grantor, Grant::Webhook))
            .map(|(id, _)| *id)
            .collect();
        for key_id in keys {
            let e = E::ApiKeyRevoked {
                key_id,
                revoked_by: by,
                reason: reason(),
            };
            sink.write(e, self).await;
        }
        for invitation_id in invitations {
            let e = E::InvitationRevoked {
                invitation_id,
                revoked_by: by,
                reason: reason(),
            };
            sink.write(e, self).await;
        }
        for webhook_id in hooks {
            let e = E::WebhookDisabled {
                webhook_id,
                reason: GRANTOR_LOST_AUTHORITY.to_owned(),
            };
            sink.write(e, self).await;
        }
    }

    fn owners(&self) -> usize {
        self.members.values().filter(|r| **r == Role::Owner).count()
    }

    fn live(&self) -> Result<(), DomainError> {
        if self.id.is_none() || self.deleted {
            return Err(DomainError::NotFound("workspace"));
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub enum WorkspaceCommand {
    Create {
        id: WorkspaceId,
        name: WorkspaceName,
        owner: UserId,
        join_code: JoinCode,
    },
    Rename {
        actor: UserId,
        name: WorkspaceName,
    },
    Delete {
        actor: UserId,
    },
    Join {
        actor: UserId,
        code: String,
    },
    RotateJoinCode {
        actor: UserId,
        code: JoinCode,
    },
    ChangeRole {
        actor: UserId,
        member: UserId,
        role: Role,
    },
    RemoveMember {
        actor: UserId,
        member: UserId,
    },
    /// Invite someone by email (owners and admins; an owner only by an owner). The address and
    /// the single-use token come sealed: the workspace never needs them in the clear.
    Invite {
        actor: UserId,
        invitation_id: uuid::Uuid,
        email: String,
        token: String,
        role: Role,
        expires_at: i64,
    },
    /// The invitee, signed in with the invited address, accepts at `now` (unix seconds).
    AcceptInvitation {
        invitation_id: uuid::Uuid,
        user: UserId,
        now: i64,
    },
    RevokeInvitation {
        actor: UserId,
        invitation_id: uuid::Uuid,
    },
    /// The clock, not a person: a pending invitation past its time (`now`, unix seconds) is
    /// closed with `invitation.expired`; one that is not (answered, or not due) is left alone.
    ExpireInvitation {
        invitation_id: uuid::Uuid,
        now: i64,
    },
    /// An owner or admin creates an API key; only the SHA-256 of its secret is recorded.
    CreateApiKey {
        actor: UserId,
        key_id: uuid::Uuid,
        name: String,
        scopes: Vec<KeyScope>,
        expires_at: Option<i64>,
        secret_sha256: String,
    },
    RevokeApiKey {
        actor: UserId,
        key_id: uuid::Uuid,
    },
    /// Owners and admins register a webhook endpoint; `secret` comes sealed (the worker opens
    /// it to sign deliveries).
    CreateWebhook {
        actor: UserId,
        webhook_id: uuid::Uuid,
        spec: WebhookSpec,
        description: Option<String>,
        secret: String,
    },
    /// A new URL, event list or enabled state (what is `None` stays).
    UpdateWebhook {
        actor: UserId,
        webhook_id: uuid::Uuid,
        spec: Option<WebhookSpec>,
        enabled: Option<bool>,
    },
    RotateWebhookSecret {
        actor: UserId,
        webhook_id: uuid::Uuid,
        secret: String,
    },
    DeleteWebhook {
        actor: UserId,
        webhook_id: uuid::Uuid,
    },
    /// Prism gave up on an endpoint that kept failing.
    DisableWebhook {
        webhook_id: uuid::Uuid,
        reason: String,
    },
    /// Owners and admins ask for dead deliveries to be tried again (`None`: all of them).
    ReplayWebhook {
        actor: UserId,
        webhook_id: uuid::Uuid,
        delivery_id: Option<uuid::Uuid>,
    },
    /// A member's account is erased: they leave. A sole owner first hands the workspace to
    /// its longest-standing admin, else member; with no one left it is deleted.
    Depart {
        member: UserId,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum WorkspaceEvent {
    #[serde(rename = "workspace.created")]
    Created {
        workspace_id: WorkspaceId,
        name: String,
        owner_id: UserId,
        join_code: String,
    },
    #[serde(rename = "workspace.renamed")]
    Renamed { name: String },
    #[serde(rename = "workspace.deleted")]
    Deleted { deleted_by: UserId },
    #[serde(rename = "workspace.join_code_rotated")]
    JoinCodeRotated { join_code: String },
    #[serde(rename = "member.joined")]
    MemberJoined { user_id: UserId, role: Role },
    #[serde(rename = "member.role_changed")]
    MemberRoleChanged {
        user_id: UserId,
        role: Role,
        previous_role: Role,
    },
    #[serde(rename = "member.left")]
    MemberLeft {
        user_id: UserId,
        removed_by: Option<UserId>,
    },
    /// `email` and `token` sealed with the inviter's key for this invitation (`Scope::of(
    /// invited_by, invitation_id)`): the mail worker opens them to send the link; accepting or
    /// revoking destroys that key.
    #[serde(rename = "invitation.created")]
    InvitationCreated {
        invitation_id: uuid::Uuid,
        email: String,
        token: String,
        role: Role,
        invited_by: UserId,
        expires_at: i64,
    },
    #[serde(rename = "invitation.accepted")]
    InvitationAccepted { invitation_id: uuid::Uuid, user_id: UserId },
    #[serde(rename = "invitation.revoked")]
    InvitationRevoked {
        invitation_id: uuid::Uuid,
        revoked_by: UserId,
        /// None: revoked by hand; [`GRANTOR_LOST_AUTHORITY`]: the inviter may no longer invite.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    #[serde(rename = "invitation.expired")]
    InvitationExpired { invitation_id: uuid::Uuid },
    /// `secret_sha256` is the hex SHA-256 of the key's 256 random bits: it cannot be turned
    /// back into the key, and it lets every node verify keys from the log alone. It never
    /// leaves Prism (the history, audit and stream drop it).
    #[serde(rename = "api_key.created")]
    ApiKeyCreated {
        key_id: uuid::Uuid,
        name: String,
        scopes: Vec<KeyScope>,
        expires_at: Option<i64>,
        created_by: UserId,
        secret_sha256: String,
    },
    #[serde(rename = "api_key.revoked")]
    ApiKeyRevoked {
        key_id: uuid::Uuid,
        revoked_by: UserId,
        /// None: revoked by hand; [`GRANTOR_LOST_AUTHORITY`]: its creator may no longer make keys.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// `secret` sealed (`Scope::of(workspace as owner, webhook_id)`); it never leaves Prism.
    #[serde(rename = "webhook.created")]
    WebhookCreated {
        webhook_id: uuid::Uuid,
        url: String,
        events: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        created_by: UserId,
        secret: String,
    },
    /// The endpoint as it is now.
    #[serde(rename = "webhook.updated")]
    WebhookUpdated {
        webhook_id: uuid::Uuid,
        url: String,
        events: Vec<String>,
        enabled: bool,
        updated_by: UserId,
    },
    #[serde(rename = "webhook.secret_rotated")]
    WebhookSecretRotated {
        webhook_id: uuid::Uuid,
        secret: String,
        rotated_by: UserId,
    },
    #[serde(rename = "webhook.deleted")]
    WebhookDeleted { webhook_id: uuid::Uuid, deleted_by: UserId },
    #[serde(rename = "webhook.disabled")]
    WebhookDisabled { webhook_id: uuid::Uuid, reason: String },
    #[serde(rename = "webhook.replay_requested")]
    WebhookReplayRequested {
        webhook_id: uuid::Uuid,
        /// One delivery; none: every dead one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delivery_id: Option<uuid::Uuid>,
        requested_by: UserId,
    },
}
crate::kernel_event!(WorkspaceEvent);

impl Aggregate for Workspace {
    const TYPE: &'static str = "workspace";
    type Command = WorkspaceCommand;
    type Event = WorkspaceEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: WorkspaceCommand, _: &(), sink: &EventSink<Self>) -> Result<(), DomainError> {
        use WorkspaceCommand as C;
        use WorkspaceEvent as E;
        match command {
            C::Create {
                id,
                name,
                owner,
                join_code,
            } => {
                if self.id.is_some() {
                    return Err(DomainError::conflict(
                        "workspace_exists",
                        "this workspace already exists",
                    ));
                }
                let created = E::Created {
                    workspace_id: id,
                    name: name.into_inner(),
                    owner_id: owner,
                    join_code: join_code.into_inner(),
                };
                sink.write(created, self).await;
                sink.write(
                    E::MemberJoined {
                        user_id: owner,
                        role: Role::Owner,
                    },
                    self,
                )
                .await;
            }
            C::Rename { actor, name } => {
                authorize(self.role_of(actor), Action::RenameWorkspace)?;
                if self.name != name.as_str() {
                    sink.write(
                        E::Renamed {
                            name: name.into_inner(),
                        },
                        self,
                    )
                    .await;
                }
            }
            C::Delete { actor } => {
                authorize(self.role_of(actor), Action::DeleteWorkspace)?;
                sink.write(E::Deleted { deleted_by: actor }, self).await;
            }
            C::Join { actor, code } => {
                self.live()?;
                if self.members.contains_key(&actor) {
                    return Err(DomainError::conflict("already_member", "you are already a member"));
                }
                if !JoinCode::from_generated(self.join_code.clone()).matches(&code) {
                    // Exactly what an unknown workspace answers: a wrong code must not tell a
                    // guesser that the workspace exists.
                    return Err(DomainError::NotFound("workspace"));
                }
                sink.write(
                    E::MemberJoined {
                        user_id: actor,
                        role: Role::Member,
                    },
                    self,
                )
                .await;
            }
            C::Invite {
                actor,
                invitation_id,
                email,
                token,
                role,
                expires_at,
            } => {
                self.live()?;
                authorize(self.role_of(actor), Action::ManageMembers)?;
                if role == Role::Owner {
                    authorize(self.role_of(actor), Action::GrantOwner)?;
                }
                if self.invitations.contains_key(&invitation_id) {
                    return Ok(());
                }
                let event = E::InvitationCreated {
                    invitation_id,
                    email,
                    token,
                    role,
                    invited_by: actor,
                    expires_at,
                };
                sink.write(event, self).await;
            }
            C::AcceptInvitation {
                invitation_id,
                user,
                now,
            } => {
                self.live()?;
                let Some(p) = self.invitations.get(&invitation_id).copied() else {
                    return Err(DomainError::NotFound("invitation"));
                };
                // An invitation is worth what its inviter may still grant (closed when they lose
                // it; checked again here for invitations from before that rule).
                let still = self.may_grant(p.invited_by, Grant::Invitation(p.role));
                if p.expires_at <= now || !still {
                    return Err(DomainError::NotFound("invitation"));
                }
                let role = p.role;
                sink.write(
                    E::InvitationAccepted {
                        invitation_id,
                        user_id: user,
                    },
                    self,
                )
                .await;
                // Already a member: the invitation is spent, the role stays what it is.
                if !self.members.contains_key(&user) {
                    sink.write(E::MemberJoined { user_id: user, role }, self).await;
                }
            }
            C::RevokeInvitation { actor, invitation_id } => {
                self.live()?;
                authorize(self.role_of(actor), Action::ManageMembers)?;
                if !self.invitations.contains_key(&invitation_id) {
                    return Err(DomainError::NotFound("invitation"));
                }
                sink.write(
                    E::InvitationRevoked {
                        invitation_id,
                        revoked_by: actor,
                        reason: None,
                    },
                    self,
                )
                .await;
            }
            C::ExpireInvitation { invitation_id, now } => {
                if self
                    .invitations
                    .get(&invitation_id)
                    .is_some_and(|p| p.expires_at <= now)
                {
                    sink.write(E::InvitationExpired { invitation_id }, self).await;
                }
            }
            C::CreateWebhook {
                actor,
                webhook_id,
                spec,
                description,
                secret,
            } => {
                self.live()?;
                authorize(self.role_of(actor), Action::ManageIntegrations)?;
                if self.webhooks.contains_key(&webhook_id) {
                    return Ok(());
                }
                if self.webhooks.len() >= MAX_WEBHOOKS {
                    return Err(DomainError::rule(
                        "too_many_webhooks",
                        "a workspace has at most 20 webhook endpoints",
                    ));
                }
                let event = E::WebhookCreated {
                    webhook_id,
                    url: spec.url,
                    events: spec.events,
                    description,
                    created_by: actor,
                    secret,
                };
                sink.write(event, self).await;
            }
            C::UpdateWebhook {
                actor,
                webhook_id,
                spec,
                enabled,
            } => {
                self.live()?;
                authorize(self.role_of(actor), Action::ManageIntegrations)?;
                let Some(hook) = self.webhooks.get(&webhook_id).cloned() else {
                    return Err(DomainError::NotFound("webhook"));
                };
                let spec = spec.unwrap_or(hook.spec);
                let enabled = enabled.unwrap_or(hook.enabled);
                let event = E::WebhookUpdated {
                    webhook_id,
                    url: spec.url,
                    events: spec.events,
                    enabled,
                    updated_by: actor,
                };
                sink.write(event, self).await;
            }
            C::RotateWebhookSecret {
                actor,
                webhook_id,
                secret,
            } => {
                self.live()?;
                authorize(self.role_of(actor), Action::ManageIntegrations)?;
                if !self.webhooks.contains_key(&webhook_id) {
                    return Err(DomainError::NotFound("webhook"));
                }
                let event = E::WebhookSecretRotated {
                    webhook_id,
                    secret,
                    rotated_by: actor,
                };
                sink.write(event, self).await;
            }
            C::DeleteWebhook { actor, webhook_id } => {
                self.live()?;
                authorize(self.role_of(actor), Action::ManageIntegrations)?;
                if !self.webhooks.contains_key(&webhook_id) {
                    return Err(DomainError::NotFound("webhook"));
                }
                let event = E::WebhookDeleted {
                    webhook_id,
                    deleted_by: actor,
                };
                sink.write(event, self).await;
            }
            C::DisableWebhook { webhook_id, reason } => {
                if self.webhooks.get(&webhook_id).is_some_and(|h| h.enabled) {
                    sink.write(E::WebhookDisabled { webhook_id, reason }, self).await;
                }
            }
            C::ReplayWebhook {
                actor,
                webhook_id,
                delivery_id,
            } => {
                self.live()?;
                authorize(self.role_of(actor), Action::ManageIntegrations)?;
                if !self.webhooks.contains_key(&webhook_id) {
                    return Err(DomainError::NotFound("webhook"));
                }
                let event = E::WebhookReplayRequested {
                    webhook_id,
                    delivery_id,
                    requested_by: actor,
                };
                sink.write(event, self).await;
            }
            C::CreateApiKey {
                actor,
                key_id,
                name,
                scopes,
                expires_at,
                secret_sha256,
            } => {
                self.live()?;
                authorize(self.role_of(actor), Action::ManageApiKeys)?;
                if self.api_keys.contains_key(&key_id) {
                    return Ok(());
                }
                let event = E::ApiKeyCreated {
                    key_id,
                    name,
                    scopes,
                    expires_at,
                    created_by: actor,
                    secret_sha256,
                };
                sink.write(event, self).await;
            }
            C::RevokeApiKey { actor, key_id } => {
                self.live()?;
                authorize(self.role_of(actor), Action::ManageApiKeys)?;
                if !self.api_keys.contains_key(&key_id) {
                    return Err(DomainError::NotFound("api key"));
                }
                sink.write(
                    E::ApiKeyRevoked {
                        key_id,
                        revoked_by: actor,
                        reason: None,
                    },
                    self,
                )
                .await;
            }
            C::RotateJoinCode { actor, code } => {
                authorize(self.role_of(actor), Action::RotateJoinCode)?;
                sink.write(
                    E::JoinCodeRotated {
                        join_code: code.into_inner(),
                    },
                    self,
                )
                .await;
            }
            C::ChangeRole { actor, member, role } => {
                authorize(self.role_of(actor), Action::ManageMembers)?;
                let current = self.role_of(member).ok_or(DomainError::NotFound("member"))?;
                if current == role {
                    return Ok(());
                }
                if role == Role::Owner || current == Role::Owner {
                    authorize(self.role_of(actor), Action::GrantOwner)?;
                }
                if current == Role::Owner && self.owners() == 1 {
                    return Err(DomainError::rule(
                        "last_owner",
                        "a workspace must keep at least one owner",
                    ));
                }
                sink.write(
                    E::MemberRoleChanged {
                        user_id: member,
                        role,
                        previous_role: current,
                    },
                    self,
                )
                .await;
                self.lapse_grants(actor, sink).await;
            }
            C::Depart { member } => {
                let Some(role) = self.role_of(member) else {
                    return Ok(());
                };
                let left = E::MemberLeft {
                    user_id: member,
                    removed_by: None,
                };
                if role != Role::Owner || self.owners() > 1 {
                    sink.write(left, self).await;
                    self.lapse_grants(member, sink).await;
                    return Ok(());
                }
                match self.successor(member) {
                    Some((heir, previous_role)) => {
                        let promoted = E::MemberRoleChanged {
                            user_id: heir,
                            role: Role::Owner,
                            previous_role,
                        };
                        sink.write(promoted, self).await;
                        sink.write(left, self).await;
                        self.lapse_grants(member, sink).await;
                    }
                    None => {
                        sink.write(left, self).await;
                        sink.write(E::Deleted { deleted_by: member }, self).await;
                    }
                }
            }
            C::RemoveMember { actor, member } => {
                let actor_role = self.role_of(actor);
                if actor == member {
                    // Leaving: any member may, except the last owner.
                    let role = actor_role.ok_or(DomainError::NotFound("workspace"))?;
                    if role == Role::Owner && self.owners() == 1 {
                        return Err(DomainError::rule(
                            "last_owner",
                            "the last owner cannot leave; make someone else owner first",
                        ));
                    }
                    sink.write(
                        E::MemberLeft {
                            user_id: member,
                            removed_by: None,
                        },
                        self,
                    )
                    .await;
                    self.lapse_grants(member, sink).await;
                    return Ok(());
                }
                authorize(actor_role, Action::ManageMembers)?;
                let target = self.role_of(member).ok_or(DomainError::NotFound("member"))?;
                if target == Role::Owner {
                    authorize(actor_role, Action::GrantOwner)?;
                }
                sink.write(
                    E::MemberLeft {
                        user_id: member,
                        removed_by: Some(actor),
                    },
                    self,
                )
                .await;
                self.lapse_grants(actor, sink).await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: WorkspaceEvent) {
        use WorkspaceEvent as E;
        match event {
            E::Created {
                workspace_id,
                name,
                join_code,
                ..
            } => {
                self.id = Some(workspace_id);
                self.name = name;
                self.join_code = join_code;
            }
            E::Renamed { name } => self.name = name,
            E::Deleted { .. } => self.deleted = true,
            E::JoinCodeRotated { join_code } => self.join_code = join_code,
            E::MemberJoined { user_id, role } => {
                self.members.insert(user_id, role);
                self.joined.insert(user_id, self.joins);
                self.joins += 1;
            }
            E::MemberRoleChanged { user_id, role, .. } => {
                self.members.insert(user_id, role);
            }
            E::MemberLeft { user_id, .. } => {
                self.members.remove(&user_id);
                self.joined.remove(&user_id);
            }
            E::InvitationCreated {
                invitation_id,
                role,
                expires_at,
                invited_by,
                ..
            } => {
                self.invitations.insert(
                    invitation_id,
                    Pending {
                        role,
                        expires_at,
                        invited_by,
                    },
                );
            }
            E::InvitationAccepted { invitation_id, .. }
            | E::InvitationRevoked { invitation_id, .. }
            | E::InvitationExpired { invitation_id } => {
                self.invitations.remove(&invitation_id);
            }
            E::ApiKeyCreated {
                key_id,
                scopes,
                expires_at,
                created_by,
                ..
            } => {
                let grant = KeyGrant {
                    scopes,
                    expires_at,
                    grantor: created_by,
                };
                self.api_keys.insert(key_id, grant);
            }
            E::ApiKeyRevoked { key_id, .. } => {
                self.api_keys.remove(&key_id);
            }
            E::WebhookCreated {
                webhook_id,
                url,
                events,
                created_by,
                ..
            } => {
                self.webhooks.insert(
                    webhook_id,
                    Hook {
                        spec: WebhookSpec { url, events },
                        enabled: true,
                        grantor: created_by,
                    },
                );
            }
            E::WebhookUpdated {
                webhook_id,
                url,
                events,
                enabled,
                updated_by,
            } => {
                // Whoever changes an endpoint vouches for it from then on (an owner turning a
                // lapsed one back on takes it over).
                self.webhooks.insert(
                    webhook_id,
                    Hook {
                        spec: WebhookSpec { url, events },
                        enabled,
                        grantor: updated_by,
                    },
                );
            }
            E::WebhookDisabled { webhook_id, .. } => {
                if let Some(h) = self.webhooks.get_mut(&webhook_id) {
                    h.enabled = false;
                }
            }
            E::WebhookDeleted { webhook_id, .. } => {
                self.webhooks.remove(&webhook_id);
            }
            E::WebhookSecretRotated { .. } | E::WebhookReplayRequested { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    type Given = TestFramework<Workspace>;

    struct World {
        ws: WorkspaceId,
        owner: UserId,
        admin: UserId,
        member: UserId,
        stranger: UserId,
    }

    fn world() -> (World, Vec<WorkspaceEvent>) {
        let w = World {
            ws: WorkspaceId::new(),
            owner: UserId::new(),
            admin: UserId::new(),
            member: UserId::new(),
            stranger: UserId::new(),
        };
        let history = vec![
            WorkspaceEvent::Created {
                workspace_id: w.ws,
                name: "Acme".into(),
                owner_id: w.owner,
                join_code: "ABC123".into(),
            },
            WorkspaceEvent::MemberJoined {
                user_id: w.owner,
                role: Role::Owner,
            },
            WorkspaceEvent::MemberJoined {
                user_id: w.admin,
                role: Role::Admin,
            },
            WorkspaceEvent::MemberJoined {
                user_id: w.member,
                role: Role::Member,
            },
        ];
        (w, history)
    }

    fn name(s: &str) -> WorkspaceName {
        WorkspaceName::parse(s).expect("valid name")
    }

    #[test]
    fn creating_makes_the_creator_owner() {
        let (ws, owner) = (WorkspaceId::new(), UserId::new());
        Given::with(())
            .given_no_previous_events()
            .when(WorkspaceCommand::Create {
                id: ws,
                name: name("Acme"),
                owner,
                join_code: JoinCode::from_generated("XYZ".into()),
            })
            .then_expect_events(vec![
                WorkspaceEvent::Created {
                    workspace_id: ws,
                    name: "Acme".into(),
                    owner_id: owner,
                    join_code: "XYZ".into(),
                },
                WorkspaceEvent::MemberJoined {
                    user_id: owner,
                    role: Role::Owner,
                },
            ]);
    }

    #[test]
    fn only_an_owner_deletes_a_workspace() {
        let (w, h) = world();
        Given::with(())
            .given(h.clone())
            .when(WorkspaceCommand::Delete { actor: w.admin })
            .then_expect_error(DomainError::Forbidden("only an owner may do this"));
        Given::with(())
            .given(h.clone())
            .when(WorkspaceCommand::Delete { actor: w.stranger })
            .then_expect_error(DomainError::NotFound("workspace"));
        Given::with(())
            .given(h)
            .when(WorkspaceCommand::Delete { actor: w.owner })
            .then_expect_events(vec![WorkspaceEvent::Deleted { deleted_by: w.owner }]);
    }

    #[test]
    fn a_member_cannot_rename_but_an_admin_can() {
        let (w, h) = world();
        Given::with(())
            .given(h.clone())
            .when(WorkspaceCommand::Rename {
                actor: w.member,
                name: name("X"),
            })
            .then_expect_error(DomainError::Forbidden("only an admin or owner may do this"));
        Given::with(())
            .given(h)
            .when(WorkspaceCommand::Rename {
                actor: w.admin,
                name: name("X"),
            })
            .then_expect_events(vec![WorkspaceEvent::Renamed { name: "X".into() }]);
    }

    #[test]
    fn the_last_owner_cannot_leave() {
        let (w, h) = world();
        Given::with(())
            .given(h)
            .when(WorkspaceCommand::RemoveMember {
                actor: w.owner,
                member: w.owner,
            })
            .then_expect_error(DomainError::rule(
                "last_owner",
                "the last owner cannot leave; make someone else owner first",
            ));
    }

    #[test]
    fn the_last_owner_cannot_be_demoted() {
        let (w, h) = world();
        Given::with(())
            .given(h)
            .when(WorkspaceCommand::ChangeRole {
                actor: w.owner,
                member: w.owner,
                role: Role::Admin,
            })
            .then_expect_error(DomainError::rule(
                "last_owner",
                "a workspace must keep at least one owner",
            ));
    }

    #[test]
    fn an_owner_may_leave_once_there_is_another() {
        let (w, mut h) = world();
        h.push(WorkspaceEvent::MemberRoleChanged {
            user_id: w.admin,
            role: Role::Owner,
            previous_role: Role::Admin,
        });
        Given::with(())
            .given(h)
            .when(WorkspaceCommand::RemoveMember {
                actor: w.owner,
                member: w.owner,
            })
            .then_expect_events(vec![WorkspaceEvent::MemberLeft {
                user_id: w.owner,
                removed_by: None,
            }]);
    }

    #[test]
    fn a_member_may_leave() {
        let (w, h) = world();
        Given::with(())
            .given(h)
            .when(WorkspaceCommand::RemoveMember {
                actor: w.member,
                member: w.member,
            })
            .then_expect_events(vec![WorkspaceEvent::MemberLeft {
                user_id: w.member,
                removed_by: None,
            }]);
    }

    #[test]
    fn only_an_owner_grants_owner() {
        let (w, h) = world();
        Given::with(())
            .given(h.clone())
            .when(WorkspaceCommand::ChangeRole {
                actor: w.admin,
                member: w.member,
                role: Role::Owner,
            })
            .then_expect_error(DomainError::Forbidden("only an owner may do this"));
        Given::with(())
            .given(h)
            .when(WorkspaceCommand::ChangeRole {
                actor: w.owner,
                member: w.member,
                role: Role::Owner,
            })
            .then_expect_events(vec![WorkspaceEvent::MemberRoleChanged {
                user_id: w.member,
                role: Role::Owner,
                previous_role: Role::Member,
            }]);
    }

    #[test]
    fn an_admin_cannot_remove_an_owner_but_removes_a_member() {
        let (w, h) = world();
        Given::with(())
            .given(h.clone())
            .when(WorkspaceCommand::RemoveMember {
                actor: w.admin,
                member: w.owner,
            })
            .then_expect_error(DomainError::Forbidden("only an owner may do this"));
        Given::with(())
            .given(h)
            .when(WorkspaceCommand::RemoveMember {
                actor: w.admin,
                member: w.member,
            })
            .then_expect_events(vec![WorkspaceEvent::MemberLeft {
                user_id: w.member,
                removed_by: Some(w.admin),
            }]);
    }

    #[test]
    fn a_member_cannot_remove_others() {
        let (w, h) = world();
        Given::with(())
            .given(h)
            .when(WorkspaceCommand::RemoveMember {
                actor: w.member,
                member: w.admin,
            })
            .then_expect_error(DomainError::Forbidden("only an admin or owner may do this"));
    }

    #[test]
    fn joining_needs_the_right_code() {
        let (w, h) = world();
        Given::with(())
            .given(h.clone())
            .when(WorkspaceCommand::Join {
                actor: w.stranger,
                code: "nope".into(),
            })
            .then_expect_error(DomainError::NotFound("workspace"));
        Given::with(())
            .given(h.clone())
            .when(WorkspaceCommand::Join {
                actor: w.stranger,
                code: "abc123".into(),
            })
            .then_expect_events(vec![WorkspaceEvent::MemberJoined {
                user_id: w.stranger,
                role: Role::Member,
            }]);
        Given::with(())
            .given(h)
            .when(WorkspaceCommand::Join {
                actor: w.member,
                code: "ABC123".into(),
            })
            .then_expect_error(DomainError::conflict("already_member", "you are already a member"));
    }

    #[test]
    fn a_rotated_code_replaces_the_old_one() {
        let (w, mut h) = world();
        h.push(WorkspaceEvent::JoinCodeRotated {
            join_code: "NEW999".into(),
        });
        Given::with(())
            .given(h)
            .when(WorkspaceCommand::Join {
                actor: w.stranger,
                code: "ABC123".into(),
            })
            .then_expect_error(DomainError::NotFound("workspace"));
    }

    #[test]
    fn a_deleted_workspace_refuses_everything() {
        let (w, mut h) = world();
        h.push(WorkspaceEvent::Deleted { deleted_by: w.owner });
        Given::with(())
            .given(h.clone())
            .when(WorkspaceCommand::Rename {
                actor: w.owner,
                name: name("X"),
            })
            .then_expect_error(DomainError::NotFound("workspace"));
        Given::with(())
            .given(h)
            .when(WorkspaceCommand::Join {
                actor: w.stranger,
                code: "ABC123".into(),
            })
            .then_expect_error(DomainError::NotFound("workspace"));
    }

    #[test]
    fn an_erased_sole_owner_hands_over_to_the_longest_standing_admin() {
        // An admin with a smaller id who joined later: join order decides, not ids.
        let early_id = UserId::new();
        let (w, mut h) = world();
        h.push(WorkspaceEvent::MemberJoined {
            user_id: early_id,
            role: Role::Admin,
        });
        Given::with(())
            .given(h)
            .when(WorkspaceCommand::Depart { member: w.owner })
            .then_expect_events(vec![
                WorkspaceEvent::MemberRoleChanged {
                    user_id: w.admin,
                    role: Role::Owner,
                    previous_role: Role::Admin,
                },
                WorkspaceEvent::MemberLeft {
                    user_id: w.owner,
                    removed_by: None,
                },
            ]);
    }

    #[test]
    fn with_no_admin_the_longest_standing_member_takes_over() {
        let (w, mut h) = world();
        h.push(WorkspaceEvent::MemberLeft {
            user_id: w.admin,
            removed_by: None,
        });
        h.push(WorkspaceEvent::MemberJoined {
            user_id: w.stranger,
            role: Role::Member,
        });
        Given::with(())
            .given(h)
            .when(WorkspaceCommand::Depart { member: w.owner })
            .then_expect_events(vec![
                WorkspaceEvent::MemberRoleChanged {
                    user_id: w.member,
                    role: Role::Owner,
                    previous_role: Role::Member,
                },
                WorkspaceEvent::MemberLeft {
                    user_id: w.owner,
                    removed_by: None,
                },
            ]);
    }

    #[test]
    fn an_erased_owner_alone_takes_the_workspace_with_them() {
        let w = world().0;
        let h = world_alone(&w);
        Given::with(())
            .given(h)
            .when(WorkspaceCommand::Depart { member: w.owner })
            .then_expect_events(vec![
                WorkspaceEvent::MemberLeft {
                    user_id: w.owner,
                    removed_by: None,
                },
                WorkspaceEvent::Deleted { deleted_by: w.owner },
            ]);
    }

    fn world_alone(w: &World) -> Vec<WorkspaceEvent> {
        vec![
            WorkspaceEvent::Created {
                workspace_id: w.ws,
                name: "Solo".into(),
                owner_id: w.owner,
                join_code: "ABC123".into(),
            },
            WorkspaceEvent::MemberJoined {
                user_id: w.owner,
                role: Role::Owner,
            },
        ]
    }

    #[test]
    fn other_departures_are_a_plain_leave_and_strangers_change_nothing() {
        let (w, h) = world();
        Given::with(())
            .given(h.clone())
            .when(WorkspaceCommand::Depart { member: w.member })
            .then_expect_events(vec![WorkspaceEvent::MemberLeft {
                user_id: w.member,
                removed_by: None,
            }]);
        Given::with(())
            .given(h)
            .when(WorkspaceCommand::Depart { member: w.stranger })
            .then_expect_events(vec![]);
    }

    #[test]
    fn admins_manage_webhooks_members_do_not_and_the_clock_disables_only_live_ones() {
        let (w, h) = world();
        let id = uuid::Uuid::now_v7();
        let spec = WebhookSpec {
            url: "https://hooks.example.com/".into(),
            events: vec!["message.created".into()],
        };
        let create = |actor| WorkspaceCommand::CreateWebhook {
            actor,
            webhook_id: id,
            spec: spec.clone(),
            description: None,
            secret: "sealed".into(),
        };
        let created = WorkspaceEvent::WebhookCreated {
            webhook_id: id,
            url: spec.url.clone(),
            events: spec.events.clone(),
            description: None,
            created_by: w.admin,
            secret: "sealed".into(),
        };
        Given::with(())
            .given(h.clone())
            .when(create(w.admin))
            .then_expect_events(vec![created.clone()]);
        Given::with(())
            .given(h.clone())
            .when(create(w.member))
            .then_expect_error(DomainError::Forbidden("only an admin or owner may do this"));
        let mut with = h.clone();
        with.push(created);
        Given::with(())
            .given(with.clone())
            .when(WorkspaceCommand::UpdateWebhook {
                actor: w.owner,
                webhook_id: id,
                spec: None,
                enabled: Some(false),
            })
            .then_expect_events(vec![WorkspaceEvent::WebhookUpdated {
                webhook_id: id,
                url: spec.url.clone(),
                events: spec.events.clone(),
                enabled: false,
                updated_by: w.owner,
            }]);
        Given::with(())
            .given(with.clone())
            .when(WorkspaceCommand::DisableWebhook {
                webhook_id: id,
                reason: "kept failing".into(),
            })
            .then_expect_events(vec![WorkspaceEvent::WebhookDisabled {
                webhook_id: id,
                reason: "kept failing".into(),
            }]);
        with.push(WorkspaceEvent::WebhookDisabled {
            webhook_id: id,
            reason: "kept failing".into(),
        });
        Given::with(())
            .given(with.clone())
            .when(WorkspaceCommand::DisableWebhook {
                webhook_id: id,
                reason: "again".into(),
            })
            .then_expect_events(vec![]);
        Given::with(())
            .given(with)
            .when(WorkspaceCommand::DeleteWebhook {
                actor: w.member,
                webhook_id: id,
            })
            .then_expect_error(DomainError::Forbidden("only an admin or owner may do this"));
        Given::with(())
            .given(h)
            .when(WorkspaceCommand::DeleteWebhook {
                actor: w.admin,
                webhook_id: id,
            })
            .then_expect_error(DomainError::NotFound("webhook"));
    }

    fn new_key(actor: UserId, key_id: uuid::Uuid) -> WorkspaceCommand {
        WorkspaceCommand::CreateApiKey {
            actor,
            key_id,
            name: "ci".into(),
            scopes: vec![KeyScope::Read, KeyScope::Write],
            expires_at: None,
            secret_sha256: "digest".into(),
        }
    }

    #[test]
    fn admins_make_api_keys_and_members_do_not() {
        let (w, h) = world();
        let key = uuid::Uuid::now_v7();
        Given::with(())
            .given(h.clone())
            .when(new_key(w.admin, key))
            .then_expect_events(vec![WorkspaceEvent::ApiKeyCreated {
                key_id: key,
                name: "ci".into(),
                scopes: vec![KeyScope::Read, KeyScope::Write],
                expires_at: None,
                created_by: w.admin,
                secret_sha256: "digest".into(),
            }]);
        Given::with(())
            .given(h.clone())
            .when(new_key(w.member, key))
            .then_expect_error(DomainError::Forbidden("only an admin or owner may do this"));
        Given::with(())
            .given(h)
            .when(new_key(w.stranger, key))
            .then_expect_error(DomainError::NotFound("workspace"));
    }

    #[test]
    fn a_live_key_is_a_member_until_revoked_and_never_anything_more() {
        let (w, mut h) = world();
        let key = uuid::Uuid::now_v7();
        h.push(WorkspaceEvent::ApiKeyCreated {
            key_id: key,
            name: "ci".into(),
            scopes: vec![KeyScope::Write],
            expires_at: None,
            created_by: w.owner,
            secret_sha256: "digest".into(),
        });
        let mut state = Workspace::default();
        for e in h.clone() {
            state.apply(e);
        }
        assert_eq!(state.key_role(key), Some(Role::Member));
        assert_eq!(state.role_of(UserId(key)), None, "a key is no member to manage");
        assert_eq!(state.key_role(uuid::Uuid::now_v7()), None);
        // A key cannot manage keys: it is nobody on the aggregate's own checks.
        Given::with(())
            .given(h.clone())
            .when(WorkspaceCommand::RevokeApiKey {
                actor: UserId(key),
                key_id: key,
            })
            .then_expect_error(DomainError::NotFound("workspace"));
        Given::with(())
            .given(h.clone())
            .when(WorkspaceCommand::RevokeApiKey {
                actor: w.admin,
                key_id: key,
            })
            .then_expect_events(vec![WorkspaceEvent::ApiKeyRevoked {
                key_id: key,
                revoked_by: w.admin,
                reason: None,
            }]);
        h.push(WorkspaceEvent::ApiKeyRevoked {
            key_id: key,
            revoked_by: w.admin,
            reason: None,
        });
        let mut state = Workspace::default();
        for e in h.clone() {
            state.apply(e);
        }
        assert_eq!(state.key_role(key), None);
        Given::with(())
            .given(h)
            .when(WorkspaceCommand::RevokeApiKey {
                actor: w.admin,
                key_id: key,
            })
            .then_expect_error(DomainError::NotFound("api key"));
    }

    fn invite(actor: UserId, id: uuid::Uuid, role: Role) -> WorkspaceCommand {
        WorkspaceCommand::Invite {
            actor,
            invitation_id: id,
            email: "sealed-email".into(),
            token: "sealed-token".into(),
            role,
            expires_at: 1_000,
        }
    }

    #[test]
    fn an_invitation_expires_on_the_clock_and_only_once() {
        let (w, mut h) = world();
        let id = uuid::Uuid::now_v7();
        h.push(invited(&w, id, Role::Member));
        let expire = |now| WorkspaceCommand::ExpireInvitation { invitation_id: id, now };
        Given::with(())
            .given(h.clone())
            .when(expire(999))
            .then_expect_events(vec![]);
        Given::with(())
            .given(h.clone())
            .when(expire(1_000))
            .then_expect_events(vec![WorkspaceEvent::InvitationExpired { invitation_id: id }]);
        h.push(WorkspaceEvent::InvitationExpired { invitation_id: id });
        Given::with(())
            .given(h.clone())
            .when(expire(2_000))
            .then_expect_events(vec![]);
        Given::with(())
            .given(h)
            .when(WorkspaceCommand::AcceptInvitation {
                invitation_id: id,
                user: w.stranger,
                now: 500,
            })
            .then_expect_error(DomainError::NotFound("invitation"));
    }

    fn invited(w: &World, id: uuid::Uuid, role: Role) -> WorkspaceEvent {
        WorkspaceEvent::InvitationCreated {
            invitation_id: id,
            email: "sealed-email".into(),
            token: "sealed-token".into(),
            role,
            invited_by: w.admin,
            expires_at: 1_000,
        }
    }

    #[test]
    fn admins_invite_members_and_admins_only_owners_invite_owners_members_invite_no_one() {
        let (w, h) = world();
        let id = uuid::Uuid::now_v7();
        Given::with(())
            .given(h.clone())
            .when(invite(w.admin, id, Role::Member))
            .then_expect_events(vec![invited(&w, id, Role::Member)]);
        Given::with(())
            .given(h.clone())
            .when(invite(w.admin, id, Role::Owner))
            .then_expect_error(DomainError::Forbidden("only an owner may do this"));
        Given::with(())
            .given(h.clone())
            .when(invite(w.member, id, Role::Member))
            .then_expect_error(DomainError::Forbidden("only an admin or owner may do this"));
        Given::with(())
            .given(h)
            .when(invite(w.stranger, id, Role::Member))
            .then_expect_error(DomainError::NotFound("workspace"));
    }

    #[test]
    fn accepting_joins_with_the_invited_role_once_and_not_after_it_expires_or_is_revoked() {
        let (w, mut h) = world();
        let id = uuid::Uuid::now_v7();
        h.push(invited(&w, id, Role::Admin));
        let accept = |now| WorkspaceCommand::AcceptInvitation {
            invitation_id: id,
            user: w.stranger,
            now,
        };
        Given::with(())
            .given(h.clone())
            .when(accept(999))
            .then_expect_events(vec![
                WorkspaceEvent::InvitationAccepted {
                    invitation_id: id,
                    user_id: w.stranger,
                },
                WorkspaceEvent::MemberJoined {
                    user_id: w.stranger,
                    role: Role::Admin,
                },
            ]);
        Given::with(())
            .given(h.clone())
            .when(accept(1_000))
            .then_expect_error(DomainError::NotFound("invitation"));
        let mut spent = h.clone();
        spent.push(WorkspaceEvent::InvitationAccepted {
            invitation_id: id,
            user_id: w.stranger,
        });
        Given::with(())
            .given(spent)
            .when(accept(999))
            .then_expect_error(DomainError::NotFound("invitation"));
        let mut revoked = h.clone();
        revoked.push(WorkspaceEvent::InvitationRevoked {
            invitation_id: id,
            revoked_by: w.admin,
            reason: None,
        });
        Given::with(())
            .given(revoked)
            .when(accept(999))
            .then_expect_error(DomainError::NotFound("invitation"));
        let mut demoted = h.clone();
        demoted.push(WorkspaceEvent::MemberRoleChanged {
            user_id: w.admin,
            role: Role::Member,
            previous_role: Role::Admin,
        });
        Given::with(())
            .given(demoted)
            .when(accept(999))
            .then_expect_error(DomainError::NotFound("invitation"));
        Given::with(())
            .given(h)
            .when(WorkspaceCommand::RevokeInvitation {
                actor: w.member,
                invitation_id: id,
            })
            .then_expect_error(DomainError::Forbidden("only an admin or owner may do this"));
    }

    /// The admin's grants, made before anything changed: a key, a webhook, an invitation.
    fn admin_grants(w: &World) -> (Vec<WorkspaceEvent>, uuid::Uuid, uuid::Uuid, uuid::Uuid) {
        let (key, hook, invitation) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        let mut h = world().1;
        h[0] = WorkspaceEvent::Created {
            workspace_id: w.ws,
            name: "Acme".into(),
            owner_id: w.owner,
            join_code: "ABC123".into(),
        };
        for (i, who) in [w.owner, w.admin, w.member].into_iter().enumerate() {
            h[i + 1] = WorkspaceEvent::MemberJoined {
                user_id: who,
                role: [Role::Owner, Role::Admin, Role::Member][i],
            };
        }
        h.push(WorkspaceEvent::ApiKeyCreated {
            key_id: key,
            name: "ci".into(),
            scopes: vec![KeyScope::Write],
            expires_at: None,
            created_by: w.admin,
            secret_sha256: "digest".into(),
        });
        h.push(WorkspaceEvent::WebhookCreated {
            webhook_id: hook,
            url: "https://hooks.example.com/".into(),
            events: vec!["message.created".into()],
            description: None,
            created_by: w.admin,
            secret: "sealed".into(),
        });
        h.push(invited(w, invitation, Role::Member));
        (h, key, hook, invitation)
    }

    fn lapsed(by: UserId, key: uuid::Uuid, hook: uuid::Uuid, invitation: uuid::Uuid) -> Vec<WorkspaceEvent> {
        vec![
            WorkspaceEvent::ApiKeyRevoked {
                key_id: key,
                revoked_by: by,
                reason: Some(GRANTOR_LOST_AUTHORITY.into()),
            },
            WorkspaceEvent::InvitationRevoked {
                invitation_id: invitation,
                revoked_by: by,
                reason: Some(GRANTOR_LOST_AUTHORITY.into()),
            },
            WorkspaceEvent::WebhookDisabled {
                webhook_id: hook,
                reason: GRANTOR_LOST_AUTHORITY.into(),
            },
        ]
    }

    #[test]
    fn grants_die_with_their_grantors_authority_in_the_same_append() {
        let w = world().0;
        let (h, key, hook, invitation) = admin_grants(&w);
        // Removed.
        let mut expected = vec![WorkspaceEvent::MemberLeft {
            user_id: w.admin,
            removed_by: Some(w.owner),
        }];
        expected.extend(lapsed(w.owner, key, hook, invitation));
        Given::with(())
            .given(h.clone())
            .when(WorkspaceCommand::RemoveMember {
                actor: w.owner,
                member: w.admin,
            })
            .then_expect_events(expected);
        // Demoted.
        let mut expected = vec![WorkspaceEvent::MemberRoleChanged {
            user_id: w.admin,
            role: Role::Member,
            previous_role: Role::Admin,
        }];
        expected.extend(lapsed(w.owner, key, hook, invitation));
        Given::with(())
            .given(h.clone())
            .when(WorkspaceCommand::ChangeRole {
                actor: w.owner,
                member: w.admin,
                role: Role::Member,
            })
            .then_expect_events(expected);
        // Erased, or gone of their own accord.
        for when in [
            WorkspaceCommand::Depart { member: w.admin },
            WorkspaceCommand::RemoveMember {
                actor: w.admin,
                member: w.admin,
            },
        ] {
            let mut expected = vec![WorkspaceEvent::MemberLeft {
                user_id: w.admin,
                removed_by: None,
            }];
            expected.extend(lapsed(w.admin, key, hook, invitation));
            Given::with(()).given(h.clone()).when(when).then_expect_events(expected);
        }
        // Promoted, or someone else removed: the grants stand.
        Given::with(())
            .given(h.clone())
            .when(WorkspaceCommand::ChangeRole {
                actor: w.owner,
                member: w.admin,
                role: Role::Owner,
            })
            .then_expect_events(vec![WorkspaceEvent::MemberRoleChanged {
                user_id: w.admin,
                role: Role::Owner,
                previous_role: Role::Admin,
            }]);
        Given::with(())
            .given(h.clone())
            .when(WorkspaceCommand::RemoveMember {
                actor: w.owner,
                member: w.member,
            })
            .then_expect_events(vec![WorkspaceEvent::MemberLeft {
                user_id: w.member,
                removed_by: Some(w.owner),
            }]);
    }

    #[test]
    fn an_owner_who_turns_a_lapsed_webhook_back_on_vouches_for_it() {
        let w = world().0;
        let (mut h, key, hook, invitation) = admin_grants(&w);
        h.push(WorkspaceEvent::MemberLeft {
            user_id: w.admin,
            removed_by: Some(w.owner),
        });
        h.extend(lapsed(w.owner, key, hook, invitation));
        let mut state = Workspace::default();
        for e in h.clone() {
            state.apply(e);
        }
        assert_eq!(state.key_role(key), None, "the key is gone");
        assert!(!state.webhooks[&hook].enabled);
        assert!(!state.invitations.contains_key(&invitation));
        h.push(WorkspaceEvent::WebhookUpdated {
            webhook_id: hook,
            url: "https://hooks.example.com/".into(),
            events: vec!["message.created".into()],
            enabled: true,
            updated_by: w.owner,
        });
        h.push(WorkspaceEvent::MemberRoleChanged {
            user_id: w.member,
            role: Role::Admin,
            previous_role: Role::Member,
        });
        // The owner's demotion of someone else leaves the owner's endpoint alone.
        Given::with(())
            .given(h)
            .when(WorkspaceCommand::ChangeRole {
                actor: w.owner,
                member: w.member,
                role: Role::Member,
            })
            .then_expect_events(vec![WorkspaceEvent::MemberRoleChanged {
                user_id: w.member,
                role: Role::Member,
                previous_role: Role::Admin,
            }]);
    }
}
