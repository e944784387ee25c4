//! The delivery worker: due outbox rows → rendered messages → the transport.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::Body;
use lettre::Message;
use prism_domain::aggregates::WorkspaceEvent;
use prism_domain::auth_events::AuthEvent;
use prism_event_store::PgEventStore;
use prism_vault::{Scope, Vault, VaultError};
use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

use super::Transport;
use crate::ProjectionError;

/// What every message needs besides its event.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `From:` (`PRISM_MAIL_FROM`).
    pub from: String,
    /// Links start here (`PRISM_PUBLIC_URL`).
    pub public_url: String,
    /// Attempts before a message becomes a dead letter.
    pub max_attempts: i32,
}

impl MailConfig {
    /// Refuses a `From:` that is not an address, or links that are not http(s).
    pub fn check(&self) -> Result<(), String> {
        self.from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| format!("PRISM_MAIL_FROM: {e}"))?;
        if !(self.public_url.starts_with("http://") || self.public_url.starts_with("https://")) {
            return Err("PRISM_PUBLIC_URL must start with http:// or https://".into());
        }
        Ok(())
    }
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            from: "Prism <no-reply@localhost>".into(),
            public_url: "http://127.0.0.1:8080".into(),
            max_attempts: 8,
        }
    }
}

pub struct Deliverer {
    store: PgEventStore,
    vault: Vault,
    transport: Arc<dyn Transport>,
    cfg: MailConfig,
}

/// How one message went.
enum Delivery {
    Sent,
    /// Never to be sent (the account was erased: its address and link are unreadable).
    Dropped(String),
    Failed(String),
}

impl Deliverer {
    pub fn new(store: PgEventStore, vault: Vault, transport: Arc<dyn Transport>, cfg: MailConfig) -> Self {
        Self {
            store,
            vault,
            transport,
            cfg,
        }
    }

    fn pool(&self) -> &PgPool {
        self.store.pool()
    }

    /// Sends what is due now; answers how many rows it settled (sent, retried later or dead).
    pub async fn deliver_due(&self) -> Result<usize, ProjectionError> {
        let mut settled = 0;
        loop {
            let mut tx = self.pool().begin().await?;
            // One at a time, locked while it is sent: another worker skips it, and a crash
            // mid-send leaves it due (at least once).
            let row: Option<(Uuid, i64, i32)> = sqlx::query_as(
                "SELECT event_id, position, attempts FROM mail_outbox
                  WHERE status = 'pending' AND next_attempt_at <= now()
                  -- A reset link lives an hour: it goes before a pile of invitations.
                  ORDER BY kind <> 'password_reset', next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED",
            )
            .fetch_optional(&mut *tx)
            .await?;
            let Some((event_id, position, attempts)) = row else {
                return Ok(settled);
            };
            let outcome = match self.send_one(position).await {
                // A relay's refusal often quotes the recipient: keep its gist, not the address.
                Delivery::Failed(why) => Delivery::Failed(brief(&why)),
                other => other,
            };
            let attempts = attempts + 1;
            match outcome {
                Delivery::Sent => {
                    sqlx::query(
                        "UPDATE mail_outbox SET status = 'sent', attempts = $2, sent_at = now(), last_error = NULL WHERE event_id = $1",
                    )
                    .bind(event_id)
                    .bind(attempts)
                    .execute(&mut *tx)
                    .await?;
                }
                Delivery::Dropped(why) => {
                    sqlx::query(
                        "UPDATE mail_outbox SET status = 'dead', attempts = $2, last_error = $3 WHERE event_id = $1",
                    )
                    .bind(event_id)
                    .bind(attempts)
                    .bind(why)
                    .execute(&mut *tx)
                    .await?;
                }
                Delivery::Failed(why) => {
                    let dead = attempts >= self.cfg.max_attempts;
                    tracing::warn!(%event_id, attempts, dead, error = %why, "mail not sent");
                    // 2, 4, 8 … seconds, at most an hour.
                    let backoff = 2f64.powi(attempts.min(11)).min(3600.0);
                    sqlx::query(
                        "UPDATE mail_outbox SET status = CASE WHEN $4 THEN 'dead' ELSE 'pending' END, attempts = $2,
                                last_error = $3, next_attempt_at = now() + make_interval(secs => $5)
                          WHERE event_id = $1",
                    )
                    .bind(event_id)
                    .bind(attempts)
                    .bind(why)
                    .bind(dead)
                    .bind(backoff)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
            settled += 1;
        }
    }

    async fn send_one(&self, position: i64) -> Delivery {
        let message = match self.render(position).await {
            Ok(Some(m)) => m,
            Ok(None) => return Delivery::Dropped("the event asks for no mail".into()),
            Err(Render::Erased) => {
                return Delivery::Dropped("the account was erased (or the invitation spent): its key is gone".into())
            }
            Err(Render::Failed(e)) => return Delivery::Failed(e),
        };
        match self.transport.send(message).await {
            Ok(()) => Delivery::Sent,
            Err(e) => Delivery::Failed(e),
        }
    }

    async fn render(&self, position: i64) -> Result<Option<Message>, Render> {
        let events = self
            .store
            .read_all(position - 1, 1)
            .await
            .map_err(|e| Render::Failed(e.to_string()))?;
        let Some(e) = events.into_iter().find(|e| e.global_position == position) else {
            return Err(Render::Failed(format!("no event at position {position}")));
        };
        let base = self.cfg.public_url.trim_end_matches('/').to_owned();
        let (scope, to, token, subject, body): Template = match e.event_type.as_str() {
            "invitation.created" => {
                let event: WorkspaceEvent = crate::read_models::typed(&e).map_err(|e| Render::Failed(e.to_string()))?;
                let WorkspaceEvent::InvitationCreated {
                    invitation_id,
                    email,
                    token,
                    invited_by,
                    ..
                } = event
                else {
                    return Ok(None);
                };
                let body: fn(&str, &str) -> String = |base, token| {
                    format!(
                            "You are invited to join a workspace on Prism.\n\n\
                             To accept, sign in (or register) with this address and open this link within seven days:\n\n\
                             {base}/invitations/accept?token={token}\n\n\
                             If you do not know why you got this, ignore it.\n"
                        )
                };
                (
                    Scope::of(invited_by, invitation_id),
                    email,
                    token,
                    "You are invited to Prism",
                    body,
                )
            }
            _ => {
                let event: AuthEvent = crate::read_models::typed(&e).map_err(|e| Render::Failed(e.to_string()))?;
                match event {
                    AuthEvent::PasswordResetRequested { user_id, to, token } => {
                        let body: fn(&str, &str) -> String = |base, token| {
                            format!(
                                "Someone asked to reset the password of your Prism account.\n\n\
                                 To choose a new one, open this link within the hour (it works once):\n\n\
                                 {base}/reset-password?token={token}\n\n\
                                 If it was not you, ignore this message: your password stays as it is.\n"
                            )
                        };
                        (Scope::user(user_id), to, token, "Reset your Prism password", body)
                    }
                    AuthEvent::EmailVerificationRequested { user_id, to, token } => {
                        let body: fn(&str, &str) -> String = |base, token| {
                            format!(
                                "Welcome to Prism.\n\n\
                                 To confirm that this address is yours, open this link within 48 hours:\n\n\
                                 {base}/verify-email?token={token}\n\n\
                                 If you did not make an account, ignore this message.\n"
                            )
                        };
                        (Scope::user(user_id), to, token, "Confirm your Prism address", body)
                    }
                    _ => return Ok(None),
                }
            }
        };
        let opener = self.vault.opener(scope).await.map_err(Render::from)?;
        let (to, token) = (
            opener.open(&to).map_err(Render::from)?,
            opener.open(&token).map_err(Render::from)?,
        );
        // An erased account's key (or a spent invitation's) is gone: what opens is the
        // placeholder, and no mail goes.
        if to == prism_vault::SHREDDED || token == prism_vault::SHREDDED {
            return Err(Render::Erased);
        }
        let body = body(&base, &token);
        let message = Message::builder()
            .from(
                self.cfg
                    .from
                    .parse()
                    .map_err(|e| Render::Failed(format!("PRISM_MAIL_FROM: {e}")))?,
            )
            .to(to.parse().map_err(|e| Render::Failed(format!("the recipient: {e}")))?)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(seven_bit(&body)?)
            .map_err(|e| Render::Failed(e.to_string()))?;
        Ok(Some(message))
    }

    /// Delivers due mail until `shutdown`, looking again every `every` (and at once after a
    /// round that settled something).
    pub async fn run(self, every: Duration, mut shutdown: watch::Receiver<bool>) {
        loop {
            match self.deliver_due().await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "mail delivery round failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

enum Render {
    Erased,
    Failed(String),
}

/// An error's gist: up to its first colon (lettre puts the SMTP code first and the relay's
/// text, which may name the recipient, after it), without anything that looks like an address.
fn brief(error: &str) -> String {
    let head = error.split(':').next().unwrap_or(error);
    head.split_whitespace()
        .filter(|w| !w.contains('@'))
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(120)
        .collect()
}

/// What a message is made of: whose key opens it, the sealed address and token, the subject,
/// and the text around the token (given the public URL).
type Template = (Scope, String, String, &'static str, fn(&str, &str) -> String);

/// The text as a plain 7-bit body, so a link stays one line a person (or `grep`) can copy:
/// lettre would otherwise quote-print any line past 76 characters (`token=` becoming
/// `token=3D`). Allowed up to RFC 5322's 998 characters a line; the text is ours (templates,
/// the configured public URL, a base64url token), checked here all the same.
fn seven_bit(text: &str) -> Result<Body, Render> {
    if !text.is_ascii() || text.lines().any(|l| l.len() > 998) || text.contains('\0') {
        return Err(Render::Failed("the message is not 7-bit text".into()));
    }
    let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
    Ok(Body::dangerous_pre_encoded(
        crlf.into_bytes(),
        ContentTransferEncoding::SevenBit,
    ))
}

impl From<VaultError> for Render {
    fn from(e: VaultError) -> Self {
        match e {
            VaultError::Destroyed => Render::Erased,
            other => Render::Failed(other.to_string()),
        }
    }
}

/// An outbox row, as operators see it (`prism outbox list`).
#[derive(Debug, sqlx::FromRow, serde::Serialize)]
pub struct OutboxRow {
    pub event_id: Uuid,
    pub kind: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: chrono::DateTime<chrono::Utc>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// The messages not sent yet: dead letters first, then pending ones, oldest first.
pub async fn unsent(pool: &PgPool) -> Result<Vec<OutboxRow>, ProjectionError> {
    Ok(sqlx::query_as(
        "SELECT event_id, kind, status, attempts, last_error, next_attempt_at, created_at FROM mail_outbox
          WHERE status <> 'sent' ORDER BY status = 'pending', created_at LIMIT 1000",
    )
    .fetch_all(pool)
    .await?)
}

/// Dead letters back to pending, due now (one, or all of them); answers how many.
pub async fn retry(pool: &PgPool, one: Option<Uuid>) -> Result<u64, ProjectionError> {
    Ok(sqlx::query(
        "UPDATE mail_outbox SET status = 'pending', attempts = 0, next_attempt_at = now()
          WHERE status = 'dead' AND ($1::uuid IS NULL OR event_id = $1)",
    )
    .bind(one)
    .execute(pool)
    .await?
    .rows_affected())
}
