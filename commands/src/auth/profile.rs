//! `PATCH /v1/me`: the caller's display name, sealed with their key like the rest of the
//! profile (an erasure makes every name they ever had unreadable in the log).

use prism_domain::aggregates::{User, UserCommand};
use prism_domain::values::DisplayName;
use prism_vault::Scope;

use crate::{valid, CommandContext, CommandError, Commands, Outcome};

impl Commands {
    pub async fn rename_me(&self, ctx: &CommandContext, name: &str) -> Result<Outcome, CommandError> {
        let name = valid(DisplayName::parse(name))?;
        let me = ctx.actor.user_id;
        self.idempotent(ctx, || async {
            let sealed = self.vault.seal(Scope::user(me), name.as_str()).await?;
            let out = self
                .execute::<User>(ctx, me.0, None, UserCommand::Rename { name: sealed })
                .await?;
            // The handle mentions resolve against (`crate::mentions`) follows the name.
            sqlx::query("UPDATE credentials SET handle = $2 WHERE user_id = $1")
                .bind(me.0)
                .bind(prism_domain::values::handle_of(name.as_str()))
                .execute(self.store.pool())
                .await?;
            Ok(out)
        })
        .await
    }

    /// `POST /v1/notifications/read`: the caller's notifications `ids`, or `all` of them so far.
    pub async fn read_notifications(
        &self,
        ctx: &CommandContext,
        ids: Vec<uuid::Uuid>,
        all: bool,
    ) -> Result<Outcome, CommandError> {
        let me = ctx.actor.user_id;
        self.execute::<User>(ctx, me.0, None, UserCommand::ReadNotifications { ids, all })
            .await
    }
}
