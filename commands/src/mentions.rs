//! Mentions: `@handle` (a member's display name, lowercased, without spaces) or `@<user id>`,
//! resolved when a message or doc is written against the workspace's members *then*, and
//! recorded in the event — so notifications follow from the log alone, and a replay notifies
//! the same people whoever joins, leaves or is renamed later.
//!
//! Handles live in `credentials.handle` (this crate's table, written with the registration and
//! every rename, gone with the erasure): display names are sealed in the log, and a command
//! must not open every member's name to read one message.

use prism_domain::aggregates::Workspace;
use prism_domain::values::mentioned_handles;
use prism_domain::{UserId, WorkspaceId};
use uuid::Uuid;

use crate::{CommandError, Commands};

impl Commands {
    /// The members of `ws` that `text` mentions, its author excepted, in a stable order.
    /// Costs nothing for a text without an `@`.
    pub(crate) async fn mentions(
        &self,
        ws: WorkspaceId,
        text: &str,
        author: UserId,
    ) -> Result<Vec<UserId>, CommandError> {
        let handles = mentioned_handles(text);
        if handles.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = handles.iter().filter_map(|h| h.parse().ok()).collect();
        let named: Vec<Uuid> =
            sqlx::query_scalar("SELECT user_id FROM credentials WHERE handle = ANY($1) OR user_id = ANY($2)")
                .bind(&handles)
                .bind(&ids)
                .fetch_all(self.store.pool())
                .await?;
        if named.is_empty() {
            return Ok(Vec::new());
        }
        let members = self.load::<Workspace>(ws.0).await?;
        let mut out: Vec<UserId> = named
            .into_iter()
            .map(UserId)
            .filter(|u| *u != author && members.state.members.contains_key(u))
            .collect();
        out.sort_unstable_by_key(|u| u.0);
        out.dedup();
        Ok(out)
    }
}
