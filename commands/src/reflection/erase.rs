//! `DELETE /v1/me`: the right to be forgotten in an append-only log.
//!
//! 1. Every data key of the user is destroyed (crypto-shredding): their journal text, session
//!    messages, reflections, reframes and goals are unreadable from that instant, in the log, in
//!    exports and in any copy a projection kept.
//! 2. In one transaction: their credentials, refresh tokens, platform roles, plan, usage
//!    counters, stored idempotent answers (which may quote reframes) and uniqueness claims (the
//!    email) are deleted, and `user.erased` is appended.
//! 3. The projections react to `user.erased`: reflection rows and analytics dropped, the user
//!    shown as "erased user" next to their workspace messages.
//!
//! 0. First, the user leaves every workspace (each decided on the workspace aggregate): a sole
//!    owner's workspace passes to its longest-standing admin, else member, else it is deleted —
//!    each with the events that say so.
//!
//! The log itself is never rewritten, so its hash chains verify as before. A retry after a
//! failure between steps finishes the job; erasing twice answers as the first time did.

use prism_domain::aggregates::{User, UserCommand, Workspace, WorkspaceCommand};
use prism_domain::UserId;
use serde_json::json;
use uuid::Uuid;

use crate::pipeline::{Decision, Effects};
use crate::{CommandContext, CommandError, Commands, Expected, Happened, Outcome};

impl Commands {
    pub async fn erase_me(&self, ctx: &CommandContext) -> Result<Outcome, CommandError> {
        let me: UserId = ctx.actor.user_id;
        let loaded = self.store.load::<User>(me.0).await?;
        if loaded.state.erased {
            return Ok(Outcome {
                extra: erased(),
                ..Outcome::new(Happened::Accepted, me.0, loaded.last_position, loaded.version)
            });
        }
        self.depart_everywhere(ctx).await?;
        // Files they uploaded that nothing shows are theirs alone: deleted, bytes and all.
        self.erase_files(ctx, me).await?;
        self.vault.destroy_owner(me).await?;
        let mut tx = self.store.pool().begin().await?;
        // Failed sign-ins are kept under a keyed hash of the address: computable only while
        // the address is known, so before the credentials go.
        let email: Option<String> = sqlx::query_scalar("SELECT email FROM credentials WHERE user_id = $1")
            .bind(me.0)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(email) = email {
            sqlx::query("DELETE FROM login_failures WHERE account = $1")
                .bind(self.account_key(&email))
                .execute(&mut *tx)
                .await?;
            // Invitations to the address (the only place it is kept in the clear).
            sqlx::query("DELETE FROM invitation_tokens WHERE email = $1")
                .bind(&email)
                .execute(&mut *tx)
                .await?;
        }
        for table in [
            "credentials",
            "refresh_tokens",
            "password_resets",
            "email_verifications",
            "platform_roles",
            "entitlements",
            "usage_counters",
            // What their AI use cost: per user and day; the month's total keeps its tokens.
            "ai_usage",
        ] {
            sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
                .bind(me.0)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1")
            .bind(me.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM uniqueness WHERE owner_id = $1")
            .bind(me.0)
            .execute(&mut *tx)
            .await?;
        let effects = Effects {
            happened: Happened::Accepted,
            extra: erased(),
            ..Effects::default()
        };
        let out = self
            .decide_on(
                Some(&mut tx),
                ctx,
                Decision::<User>::new(me.0, None, loaded, UserCommand::Erase).with(effects),
            )
            .await?;
        tx.commit().await?;
        self.cache.evict::<User>(me.0);
        tracing::info!(user_id = %me, "user erased");
        Ok(out)
    }
}

impl Commands {
    /// The user leaves every workspace they belong to (see [`WorkspaceCommand::Depart`]).
    async fn depart_everywhere(&self, ctx: &CommandContext) -> Result<(), CommandError> {
        let me = ctx.actor.user_id;
        // Candidates from the log (every workspace they ever joined or created); each
        // workspace's own state decides whether they are still in it.
        let workspaces: Vec<Uuid> = sqlx::query_scalar(
            "SELECT DISTINCT aggregate_id FROM events
              WHERE aggregate_type = 'workspace' AND event_type = 'member.joined' AND payload->>'user_id' = $1",
        )
        .bind(me.to_string())
        .fetch_all(self.store.pool())
        .await?;
        // Not under the erasure's Idempotency-Key or If-Match: those answer the erasure.
        let mut sub = ctx.clone();
        sub.idempotency = None;
        sub.expected = Expected::Current;
        for ws in workspaces {
            self.execute::<Workspace>(&sub, ws, Some(ws), WorkspaceCommand::Depart { member: me })
                .await?;
        }
        Ok(())
    }
}

fn erased() -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert("erased".into(), json!(true));
    m
}
