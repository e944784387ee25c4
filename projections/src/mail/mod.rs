//! Mail: a consumer of the log that sends what the log asks for: password-reset links and
//! workspace invitations (address checks will use the same road).
//!
//! Two halves, as for every effect that calls out:
//! - [`Outbox`], a projection: an event that asks for mail becomes one `mail_outbox` row, written
//!   in the same transaction as its checkpoint, keyed by the event's id — exactly once, however
//!   often the event is delivered. Nothing secret is copied: the row points at the event.
//! - [`Deliverer`] ([`deliver`]), a worker: it takes due rows (`FOR UPDATE SKIP LOCKED`, so
//!   several may run), renders each message from its event (opening the sealed address and
//!   token with the owner's key at the last moment), and sends it through a [`Transport`]
//!   (SMTP, or `.eml` files when no relay is configured). A failure is retried with backoff; after
//!   the last attempt the row is a dead letter (`prism outbox list`, `prism outbox retry`).
//!
//! The outbox is not in `crate::all()`: a rebuild would send every message again. And a request
//! older than the link it carries ([`RESET_LINK_TTL`]) is not queued: after a restore or on a
//! first start over an old log, nobody gets a dead link.

pub mod deliver;
pub mod transport;

use futures::future::BoxFuture;
use prism_domain::aggregates::WorkspaceEvent;
use prism_domain::auth_events::AuthEvent;
use prism_event_store::StoredEvent;
use sqlx::PgConnection;

pub use deliver::{Deliverer, MailConfig};
pub use transport::{FileTransport, SmtpTransport, Transport};

use crate::{Projection, ProjectionError};

pub const NAME: &str = "mail";
pub const TABLES: &[&str] = &["mail_outbox"];

/// How long a password-reset link works (the command side spends tokens older than this).
pub const RESET_LINK_TTL: chrono::Duration = chrono::Duration::hours(1);

/// How long an email-verification link works.
pub const VERIFY_LINK_TTL: chrono::Duration = chrono::Duration::hours(48);

/// What kind of message an event asks for.
pub(crate) fn kind_of(e: &StoredEvent) -> Option<&'static str> {
    match e.event_type.as_str() {
        "auth.password_reset_requested" => Some("password_reset"),
        "auth.email_verification_requested" => Some("email_verification"),
        "invitation.created" => Some("invitation"),
        _ => None,
    }
}

pub struct Outbox;

impl Projection for Outbox {
    fn name(&self) -> &'static str {
        NAME
    }

    fn apply<'a>(&'a self, tx: &'a mut PgConnection, e: &'a StoredEvent) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move {
            let Some(kind) = kind_of(e) else { return Ok(()) };
            // Readable, or the projection halts (as every projection does on an unreadable event);
            // a link that no longer works is not sent.
            let expires = match kind {
                "invitation" => match crate::read_models::typed::<WorkspaceEvent>(e)? {
                    WorkspaceEvent::InvitationCreated { expires_at, .. } => {
                        chrono::DateTime::from_timestamp(expires_at, 0).unwrap_or_default()
                    }
                    _ => return Ok(()),
                },
                "email_verification" => {
                    let _: AuthEvent = crate::read_models::typed(e)?;
                    e.recorded_at + VERIFY_LINK_TTL
                }
                _ => {
                    let _: AuthEvent = crate::read_models::typed(e)?;
                    e.recorded_at + RESET_LINK_TTL
                }
            };
            if expires < chrono::Utc::now() {
                return Ok(());
            }
            sqlx::query(
                "INSERT INTO mail_outbox (event_id, position, kind) VALUES ($1, $2, $3) ON CONFLICT (event_id) DO NOTHING",
            )
            .bind(e.event_id)
            .bind(e.global_position)
            .bind(kind)
            .execute(&mut *tx)
            .await?;
            Ok(())
        })
    }
}
