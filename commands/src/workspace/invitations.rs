//! Invitations by email: owners and admins invite an address with a role; the invitee gets a
//! single-use link (seven days) by mail; accepting it, signed in with that address, joins the
//! workspace with that role. The token is stored only as its digest; the log holds it sealed
//! (for the mail worker) with a key of its own that accepting or revoking destroys.

use prism_domain::aggregates::{User, UserCommand, Workspace, WorkspaceCommand};
use prism_domain::values::Email;
use prism_domain::{DomainError, Role, WorkspaceId};
use prism_vault::Scope;
use serde_json::json;
use uuid::Uuid;

use crate::pipeline::{Decision, Effects};
use crate::{valid, CommandContext, CommandError, Commands, Outcome};

impl Commands {
    /// `POST /v1/workspaces/{id}/invitations`: 201 with the invitation's id.
    pub async fn invite(
        &self,
        ctx: &CommandContext,
        ws: WorkspaceId,
        email: &str,
        role: &str,
    ) -> Result<Outcome, CommandError> {
        let email = valid(Email::parse(email))?;
        let role = valid(Role::parse(role))?;
        self.idempotent(ctx, || async {
            let me = ctx.actor.user_id;
            let id = Uuid::now_v7();
            let token = prism_auth::random_token(32);
            let expires_at = chrono::Utc::now() + self.invitation_ttl;
            // An invitee who already has an account (with this address confirmed) is notified in
            // Prism too, on their own stream.
            let invitee: Option<Uuid> = sqlx::query_scalar(
                "SELECT user_id FROM credentials WHERE email = $1 AND email_verified_at IS NOT NULL",
            )
            .bind(email.as_str())
            .fetch_optional(self.store.pool())
            .await?;
            let invitee = invitee.map(prism_domain::UserId);
            let [sealed_email, sealed_token] = self
                .vault
                .seal_all(Scope::of(me, id), [email.as_str(), token.as_str()])
                .await?;
            let cmd = WorkspaceCommand::Invite {
                actor: me,
                invitation_id: id,
                email: sealed_email,
                token: sealed_token,
                role,
                expires_at: expires_at.timestamp(),
            };
            let out = self
                .run(ctx, Some(ws.0), || async {
                    let loaded = self.load::<Workspace>(ws.0).await?;
                    let effects = Effects::created().answering(id).with("role", json!(role));
                    self.decide(ctx, Decision::new(ws.0, Some(ws.0), loaded, cmd.clone()).with(effects))
                        .await
                })
                .await?;
            if let Some(invitee) = invitee {
                // Not under the invitation's Idempotency-Key or If-Match: those answer the invitation.
                let mut sub = ctx.clone();
                sub.idempotency = None;
                sub.expected = crate::Expected::Current;
                let note = UserCommand::NoteInvitation {
                    workspace_id: ws,
                    invitation_id: id,
                    invited_by: me,
                };
                self.execute::<User>(&sub, invitee.0, None, note).await?;
            }
            // The token opens nothing until the invitation is in the log.
            sqlx::query(
                "INSERT INTO invitation_tokens (token_hash, invitation_id, workspace_id, email, expires_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (invitation_id) DO NOTHING",
            )
            .bind(prism_auth::token_digest(&token))
            .bind(id)
            .bind(ws.0)
            .bind(email.as_str())
            .bind(expires_at)
            .execute(self.store.pool())
            .await?;
            Ok(out)
        })
        .await
    }

    /// `POST /v1/invitations/accept`: the signed-in user whose address was invited joins.
    pub async fn accept_invitation(&self, ctx: &CommandContext, token: &str) -> Result<Outcome, CommandError> {
        const INVALID: &str = "this invitation is not valid: it expired, was used or revoked, or was never issued";
        let me = ctx.actor.user_id;
        let row: Option<(Uuid, Uuid, String)> = sqlx::query_as(
            "SELECT invitation_id, workspace_id, email FROM invitation_tokens
              WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()",
        )
        .bind(prism_auth::token_digest(token))
        .fetch_optional(self.store.pool())
        .await?;
        let (invitation, ws, invited) = row.ok_or(CommandError::InvalidToken(INVALID))?;
        let mine: Option<String> = sqlx::query_scalar("SELECT email FROM credentials WHERE user_id = $1")
            .bind(me.0)
            .fetch_optional(self.store.pool())
            .await?;
        if mine.as_deref() != Some(invited.as_str()) {
            return Err(DomainError::Forbidden("this invitation is for another address; sign in with it").into());
        }
        let out = self
            .run(ctx, Some(ws), || async {
                let loaded = self.load::<Workspace>(ws).await?;
                // A member who accepts keeps the role they have: say that one, not the invited.
                let invited = loaded.state.invitations.get(&invitation).map(|p| p.role);
                let role = loaded.state.role_of(me).or(invited);
                let cmd = WorkspaceCommand::AcceptInvitation {
                    invitation_id: invitation,
                    user: me,
                    now: chrono::Utc::now().timestamp(),
                };
                let effects = Effects::default()
                    .with("workspace_id", json!(ws))
                    .with("role", json!(role));
                self.decide(ctx, Decision::new(ws, Some(ws), loaded, cmd).with(effects))
                    .await
            })
            .await
            .map_err(|e| match e {
                CommandError::Domain(DomainError::NotFound("invitation")) => CommandError::InvalidToken(INVALID),
                other => other,
            })?;
        self.spend_invitation(invitation).await?;
        Ok(out)
    }

    /// `DELETE /v1/invitations/{id}`: owners and admins of its workspace.
    pub async fn revoke_invitation(&self, ctx: &CommandContext, invitation: Uuid) -> Result<Outcome, CommandError> {
        let ws: Option<Uuid> =
            sqlx::query_scalar("SELECT workspace_id FROM invitation_tokens WHERE invitation_id = $1")
                .bind(invitation)
                .fetch_optional(self.store.pool())
                .await?;
        let ws = ws.ok_or(DomainError::NotFound("invitation"))?;
        let out = self
            .run(ctx, Some(ws), || async {
                let loaded = self.load::<Workspace>(ws).await?;
                let cmd = WorkspaceCommand::RevokeInvitation {
                    actor: ctx.actor.user_id,
                    invitation_id: invitation,
                };
                self.decide(ctx, Decision::new(ws, Some(ws), loaded, cmd)).await
            })
            .await?;
        self.spend_invitation(invitation).await?;
        Ok(out)
    }

    /// Closes every pending invitation past its time with `invitation.expired` (and spends its
    /// token): what the clock decides is in the log like the rest. Answers how many it closed
    /// (an invitation deleted with its workspace is just spent).
    pub async fn expire_invitations(&self) -> Result<usize, CommandError> {
        let due: Vec<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT invitation_id, workspace_id FROM invitation_tokens
              WHERE used_at IS NULL AND expires_at <= now() ORDER BY expires_at LIMIT 500",
        )
        .fetch_all(self.store.pool())
        .await?;
        let mut ctx = CommandContext::new(prism_domain::UserId(Uuid::nil()));
        ctx.actor = crate::Actor::system();
        let mut closed = 0;
        for (invitation, ws) in due {
            let out = self
                .run(&ctx, Some(ws), || async {
                    let loaded = self.load::<Workspace>(ws).await?;
                    let cmd = WorkspaceCommand::ExpireInvitation {
                        invitation_id: invitation,
                        now: chrono::Utc::now().timestamp(),
                    };
                    self.decide(&ctx, Decision::new(ws, Some(ws), loaded, cmd)).await
                })
                .await;
            if let Err(e) = out {
                tracing::warn!(error = %e, invitation_id = %invitation, "expiring an invitation failed");
                continue;
            }
            self.spend_invitation(invitation).await?;
            closed += 1;
        }
        Ok(closed)
    }

    /// The token stops working, and the key that sealed it in the log is destroyed.
    async fn spend_invitation(&self, invitation: Uuid) -> Result<(), CommandError> {
        // The address is not needed any more: it is not kept.
        sqlx::query(
            "UPDATE invitation_tokens SET used_at = coalesce(used_at, now()), email = '' WHERE invitation_id = $1",
        )
        .bind(invitation)
        .execute(self.store.pool())
        .await?;
        let inviter: Option<Uuid> = sqlx::query_scalar("SELECT user_id FROM data_keys WHERE scope_id = $1")
            .bind(invitation)
            .fetch_optional(self.store.pool())
            .await?;
        if let Some(inviter) = inviter {
            self.vault
                .destroy(Scope::of(prism_domain::UserId(inviter), invitation))
                .await?;
        }
        Ok(())
    }
}
