//! Sign-in facts for the audit trail: logins that succeeded or failed, a refresh token used
//! twice, a logout. They decide nothing, so they belong to no aggregate: each is recorded as a
//! one-event stream of type [`AUTH_STREAM`] (its own id, sequence 1), which never contends with
//! the user's own stream.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::UserId;

/// The aggregate type under which sign-in facts are recorded.
pub const AUTH_STREAM: &str = "auth";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum AuthEvent {
    #[serde(rename = "auth.login_succeeded")]
    LoginSucceeded { user_id: UserId },
    /// No longer written (failed sign-ins are counted in `login_failures`, and only a lockout
    /// is logged); kept so older logs still read.
    #[serde(rename = "auth.login_failed")]
    LoginFailed {
        user_id: Option<UserId>,
        email_digest: String,
    },
    /// An account's failed sign-ins reached the limit: it is locked for a while. `user_id` is
    /// known when the address belongs to an account; the address itself is never logged.
    #[serde(rename = "auth.login_locked")]
    LoginLocked {
        user_id: Option<UserId>,
        failures: u32,
        locked_seconds: u32,
    },
    #[serde(rename = "auth.refresh_reuse_detected")]
    RefreshReuseDetected { user_id: UserId, family_id: Uuid },
    #[serde(rename = "auth.logged_out")]
    LoggedOut { user_id: UserId, family_id: Uuid },
    /// A platform role (`auditor`) granted by an operator.
    #[serde(rename = "auth.platform_role_granted")]
    PlatformRoleGranted { user_id: UserId, role: String },
    /// Someone asked to reset the account's password: the mail worker sends the link. The
    /// address and the single-use token are sealed with the user's key (the log never holds a
    /// usable token; an erased account's link can no longer be opened, so is never sent).
    #[serde(rename = "auth.password_reset_requested")]
    PasswordResetRequested { user_id: UserId, to: String, token: String },
    /// The password was set anew. By a reset (`kept_session` null) every session of the
    /// account ends; by its owner, signed in, the session they changed it from stays (the others
    /// end, each with its own `auth.session_revoked`).
    #[serde(rename = "auth.password_changed")]
    PasswordChanged {
        user_id: UserId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kept_session: Option<Uuid>,
    },
    /// A session began (a sign-in or a registration); `user_agent` sealed with the user's key.
    #[serde(rename = "auth.session_started")]
    SessionStarted {
        user_id: UserId,
        session_id: Uuid,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_agent: Option<String>,
    },
    /// A session's refresh token was used (its "last used").
    #[serde(rename = "auth.session_refreshed")]
    SessionRefreshed { user_id: UserId, session_id: Uuid },
    /// A session was ended by its owner (or by a password change): its tokens stop working.
    #[serde(rename = "auth.session_revoked")]
    SessionRevoked { user_id: UserId, session_id: Uuid },
    /// A new account's address is to be confirmed: the mail worker sends the link. Address and
    /// single-use token sealed with the user's key, as for a reset.
    #[serde(rename = "auth.email_verification_requested")]
    EmailVerificationRequested { user_id: UserId, to: String, token: String },
    /// The account's owner followed the link: the address is theirs.
    #[serde(rename = "auth.email_verified")]
    EmailVerified { user_id: UserId },
    /// A platform admin began acting as `user_id`, for `reason` (sealed with the user's key: it
    /// is about them, and goes with their erasure). Its token's session is `impersonation_id`.
    #[serde(rename = "impersonation.started")]
    ImpersonationStarted {
        impersonation_id: Uuid,
        admin_id: UserId,
        user_id: UserId,
        reason: String,
        /// Unix seconds: when its token stops working at the latest.
        expires_at: i64,
    },
    /// The impersonation ended (by the admin, by its own token, or another admin): its token
    /// stops working on every node.
    #[serde(rename = "impersonation.ended")]
    ImpersonationEnded {
        impersonation_id: Uuid,
        admin_id: UserId,
        user_id: UserId,
        ended_by: UserId,
    },
}

/// The platform roles there are: `auditor` reads every workspace's history and audit trail;
/// `admin` may impersonate a user (`POST /v1/admin/impersonations`).
pub const PLATFORM_ROLES: &[&str] = &["auditor", "admin"];
crate::kernel_event!(AuthEvent);

impl AuthEvent {
    /// The user the fact is about, if known.
    pub fn user(&self) -> Option<UserId> {
        match self {
            Self::LoginSucceeded { user_id }
            | Self::RefreshReuseDetected { user_id, .. }
            | Self::LoggedOut { user_id, .. }
            | Self::PlatformRoleGranted { user_id, .. }
            | Self::PasswordResetRequested { user_id, .. }
            | Self::PasswordChanged { user_id, .. }
            | Self::SessionStarted { user_id, .. }
            | Self::SessionRefreshed { user_id, .. }
            | Self::SessionRevoked { user_id, .. }
            | Self::EmailVerificationRequested { user_id, .. }
            | Self::EmailVerified { user_id }
            | Self::ImpersonationStarted { user_id, .. }
            | Self::ImpersonationEnded { user_id, .. } => Some(*user_id),
            Self::LoginFailed { user_id, .. } | Self::LoginLocked { user_id, .. } => *user_id,
        }
    }

    /// Who brought the fact about: the user it is about, except for an impersonation, which
    /// the admin starts and someone ends.
    pub fn actor(&self) -> Option<UserId> {
        match self {
            Self::ImpersonationStarted { admin_id, .. } => Some(*admin_id),
            Self::ImpersonationEnded { ended_by, .. } => Some(*ended_by),
            other => other.user(),
        }
    }
}
