//! Outgoing webhooks: a consumer of the log that POSTs a workspace's events to the endpoints its
//! owners and admins registered, signed the Standard Webhooks way.
//!
//! Two halves, as for mail:
//! - [`WebhookOutbox`], a projection: it keeps the endpoints (`webhook_endpoints`, from the
//!   `webhook.*` events) and turns each event an enabled endpoint asked for into one
//!   `webhook_deliveries` row, in the same transaction as its checkpoint, keyed by
//!   (endpoint, event) — exactly once however often the event arrives. What an endpoint may get
//!   is what a plain member sees ([`crate::visibility`]): never a direct message, a join code
//!   or a key; reflection has no workspace, so never reaches here.
//! - [`WebhookDeliverer`] ([`deliver`]), a worker: at most one delivery in flight per endpoint
//!   (so one slow endpoint delays no other), each signed and sent with a timeout, retried on a
//!   fixed exponential schedule with jitter, then parked as `dead`; [`replay`] puts dead ones
//!   back in line.
//!
//! The outbox is not in `crate::all()`: a rebuild would deliver everything again.

pub mod deliver;

use futures::future::BoxFuture;
use prism_domain::aggregates::{WorkspaceEvent, WEBHOOK_EVENT_TYPES};
use prism_domain::policy::Role;
use prism_event_store::StoredEvent;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub use deliver::{WebhookConfig, WebhookDeliverer};

use crate::visibility::{Facts, Shown, Viewer};
use crate::{Projection, ProjectionError};

pub const NAME: &str = "webhooks";
pub const TABLES: &[&str] = &["webhook_endpoints", "webhook_deliveries"];

/// Whom a webhook is shown as: a plain member of the workspace, no participant of anything.
pub(crate) const AUDIENCE: Viewer = Viewer {
    user: Uuid::nil(),
    role: Some(Role::Member),
    auditor: false,
    impersonated: false,
};

pub struct WebhookOutbox;

impl Projection for WebhookOutbox {
    fn name(&self) -> &'static str {
        NAME
    }

    fn apply<'a>(&'a self, tx: &'a mut PgConnection, e: &'a StoredEvent) -> BoxFuture<'a, Result<(), ProjectionError>> {
        self.apply_many(tx, std::slice::from_ref(e))
    }

    fn apply_many<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        events: &'a [StoredEvent],
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move {
            let wanted: Vec<StoredEvent> = events
                .iter()
                .filter(|e| e.tenant_id.is_some() && WEBHOOK_EVENT_TYPES.contains(&e.event_type.as_str()))
                .cloned()
                .collect();
            // The facts the visibility rules need (which messages are direct ones), for the lot.
            let facts = if wanted.is_empty() {
                Facts::default()
            } else {
                Facts::gather_on(&mut *tx, &wanted, false).await?
            };
            for e in events {
                if e.aggregate_type == "workspace" && e.event_type.starts_with("webhook.") {
                    endpoint(tx, e).await?;
                    continue;
                }
                if !WEBHOOK_EVENT_TYPES.contains(&e.event_type.as_str()) {
                    continue;
                }
                let Some(ws) = e.tenant_id else { continue };
                if matches!(facts.show(e, &AUDIENCE), Shown::Hidden) {
                    continue;
                }
                sqlx::query(
                    "INSERT INTO webhook_deliveries (delivery_id, webhook_id, event_id, position, event_type)
                     SELECT gen_random_uuid(), webhook_id, $2, $3, $4 FROM webhook_endpoints
                      WHERE workspace_id = $1 AND enabled AND NOT deleted AND $4 = ANY(events)
                     ON CONFLICT (webhook_id, event_id) DO NOTHING",
                )
                .bind(ws)
                .bind(e.event_id)
                .bind(e.global_position)
                .bind(&e.event_type)
                .execute(&mut *tx)
                .await?;
            }
            Ok(())
        })
    }
}

/// Keeps `webhook_endpoints` as the `webhook.*` events say.
async fn endpoint(tx: &mut PgConnection, e: &StoredEvent) -> Result<(), ProjectionError> {
    let ws = e.aggregate_id;
    match crate::read_models::typed::<WorkspaceEvent>(e)? {
        WorkspaceEvent::WebhookCreated {
            webhook_id,
            url,
            events,
            description,
            secret,
            ..
        } => {
            sqlx::query(
                "INSERT INTO webhook_endpoints (webhook_id, workspace_id, url, events, description, secret, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            )
            .bind(webhook_id)
            .bind(ws)
            .bind(url)
            .bind(events)
            .bind(description)
            .bind(secret)
            .bind(e.recorded_at)
            .execute(&mut *tx)
            .await?;
        }
        WorkspaceEvent::WebhookUpdated {
            webhook_id,
            url,
            events,
            enabled,
            ..
        } => {
            sqlx::query(
                "UPDATE webhook_endpoints SET url = $2, events = $3, enabled = $4,
                        disabled_reason = CASE WHEN $4 THEN NULL ELSE disabled_reason END,
                        slow_in_a_row = CASE WHEN $4 THEN 0 ELSE slow_in_a_row END
                  WHERE webhook_id = $1",
            )
            .bind(webhook_id)
            .bind(url)
            .bind(events)
            .bind(enabled)
            .execute(&mut *tx)
            .await?;
        }
        WorkspaceEvent::WebhookSecretRotated { webhook_id, secret, .. } => {
            sqlx::query("UPDATE webhook_endpoints SET secret = $2 WHERE webhook_id = $1")
                .bind(webhook_id)
                .bind(secret)
                .execute(&mut *tx)
                .await?;
        }
        WorkspaceEvent::WebhookDisabled { webhook_id, reason } => {
            sqlx::query("UPDATE webhook_endpoints SET enabled = false, disabled_reason = $2 WHERE webhook_id = $1")
                .bind(webhook_id)
                .bind(reason)
                .execute(&mut *tx)
                .await?;
        }
        WorkspaceEvent::WebhookDeleted { webhook_id, .. } => {
            sqlx::query("UPDATE webhook_endpoints SET deleted = true, enabled = false WHERE webhook_id = $1")
                .bind(webhook_id)
                .execute(&mut *tx)
                .await?;
            // What was still waiting goes nowhere.
            sqlx::query(
                "UPDATE webhook_deliveries SET status = 'dead', last_error = 'endpoint deleted'
                  WHERE webhook_id = $1 AND status = 'pending'",
            )
            .bind(webhook_id)
            .execute(&mut *tx)
            .await?;
        }
        _ => {}
    }
    Ok(())
}

/// An endpoint as its workspace's admins list it (never its secret).
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Endpoint {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub enabled: bool,
    /// Why Prism turned it off (`grantor_lost_authority`, or what its deliveries did); none when
    /// enabled or turned off by hand.
    pub disabled_reason: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// The live endpoints of `workspace`, newest first.
pub async fn endpoints(pool: &PgPool, workspace: Uuid) -> Result<Vec<Endpoint>, ProjectionError> {
    Ok(sqlx::query_as(
        "SELECT webhook_id AS id, url, events, description, enabled, disabled_reason, created_at FROM webhook_endpoints
          WHERE workspace_id = $1 AND NOT deleted ORDER BY webhook_id DESC LIMIT 100",
    )
    .bind(workspace)
    .fetch_all(pool)
    .await?)
}

/// The workspace of a live endpoint.
pub async fn workspace_of(pool: &PgPool, webhook: Uuid) -> Result<Option<Uuid>, ProjectionError> {
    Ok(
        sqlx::query_scalar("SELECT workspace_id FROM webhook_endpoints WHERE webhook_id = $1 AND NOT deleted")
            .bind(webhook)
            .fetch_optional(pool)
            .await?,
    )
}

/// One delivery, as the deliveries route shows it.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Delivery {
    pub id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    pub attempts: i32,
    /// The receiver's last HTTP status, if it answered.
    pub last_status: Option<i32>,
    pub next_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// `webhook`'s deliveries, newest first, of `status` if given, before `before` (a delivery id).
pub async fn deliveries(
    pool: &PgPool,
    webhook: Uuid,
    status: Option<&str>,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Delivery>, ProjectionError> {
    Ok(sqlx::query_as(
        "SELECT delivery_id AS id, event_id, event_type, status, attempts, last_status,
                CASE WHEN status = 'pending' THEN next_attempt_at END AS next_attempt_at
           FROM webhook_deliveries
          WHERE webhook_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::uuid IS NULL OR delivery_id < $3)
          ORDER BY position DESC, delivery_id DESC LIMIT $4",
    )
    .bind(webhook)
    .bind(status)
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// Puts `webhook`'s dead deliveries (one, or all) back in line, from a fresh count of
/// attempts; answers how many. (An operator's act: the command side logs
/// `webhook.replay_requested` for the audit, this does it.)
pub async fn replay(pool: &PgPool, webhook: Uuid, delivery: Option<Uuid>) -> Result<u64, ProjectionError> {
    Ok(sqlx::query(
        "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(), last_error = NULL
          WHERE webhook_id = $1 AND status = 'dead' AND ($2::uuid IS NULL OR delivery_id = $2)
            AND EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.webhook_id = $1 AND NOT w.deleted)",
    )
    .bind(webhook)
    .bind(delivery)
    .execute(pool)
    .await?
    .rows_affected())
}

/// Enabled endpoints whose last `n` settled deliveries all died: the write side disables them
/// (`webhook.disabled`) rather than keep knocking.
/// Live endpoints whose last `n` answers were all slow (see `deliver`), to be disabled.
pub async fn slow(pool: &PgPool, n: i32) -> Result<Vec<Uuid>, ProjectionError> {
    Ok(sqlx::query_scalar(
        "SELECT webhook_id FROM webhook_endpoints WHERE enabled AND NOT deleted AND slow_in_a_row >= $1",
    )
    .bind(n)
    .fetch_all(pool)
    .await?)
}

pub async fn failing(pool: &PgPool, n: i64) -> Result<Vec<Uuid>, ProjectionError> {
    Ok(sqlx::query_scalar(
        "SELECT e.webhook_id FROM webhook_endpoints e
          WHERE e.enabled AND NOT e.deleted
            AND (SELECT count(*) FILTER (WHERE t.status = 'dead') FROM (
                    SELECT d.status FROM webhook_deliveries d
                     WHERE d.webhook_id = e.webhook_id AND d.status <> 'pending'
                     ORDER BY d.position DESC LIMIT $1) t) = $1",
    )
    .bind(n)
    .fetch_all(pool)
    .await?)
}
