//! The caller's say over their spectrum: leave a mirror session out of it, or start it over.
//! Both are events on the user's stream, so a rebuilt spectrum honours them too.

use prism_domain::aggregates::{User, UserCommand};
use prism_domain::MirrorSessionId;

use crate::{CommandContext, CommandError, Commands, Outcome};

impl Commands {
    /// `POST /v1/spectrum/exclusions {session_id}`: 200; another user's session → 404.
    pub async fn exclude_session(
        &self,
        ctx: &CommandContext,
        session: MirrorSessionId,
    ) -> Result<Outcome, CommandError> {
        // The ownership check is inside: a repeat is answered before it.
        self.idempotent(ctx, || async {
            self.my_session(ctx, session.0).await?;
            let me = ctx.actor.user_id;
            let cmd = UserCommand::ExcludeSession { session_id: session.0 };
            self.execute::<User>(ctx, me.0, None, cmd).await
        })
        .await
    }

    /// `POST /v1/spectrum/reset`: 200; the caller's spectrum counts from now on.
    pub async fn reset_spectrum(&self, ctx: &CommandContext) -> Result<Outcome, CommandError> {
        let me = ctx.actor.user_id;
        self.execute::<User>(ctx, me.0, None, UserCommand::ResetSpectrum).await
    }
}
