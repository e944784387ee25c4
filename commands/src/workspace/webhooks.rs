//! Outgoing webhooks, the command side: owners and admins register endpoints (a URL, the event
//! types wanted, a signing secret shown once), change, disable, rotate and delete them, and ask
//! for dead deliveries to be tried again. Each is an event on the `Workspace` aggregate; the
//! secret is sealed in the log (the delivery worker opens it to sign). Delivering is the
//! `prism_projections::webhooks` worker's.

use std::net::IpAddr;

use prism_domain::net::private_address;

use base64::Engine;
use prism_domain::aggregates::{WebhookSpec, Workspace, WorkspaceCommand, WEBHOOK_EVENT_TYPES};
use prism_domain::{DomainError, UserId, WorkspaceId};
use prism_vault::Scope;
use serde_json::json;
use uuid::Uuid;

use crate::pipeline::{Decision, Effects};
use crate::{CommandContext, CommandError, Commands, Outcome};

/// A new signing secret, the Standard Webhooks way: `whsec_` and 32 random bytes in base64.
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// A URL and event list, checked: `http(s)`, a host, no credentials, and (unless private
/// targets are allowed) not a private, loopback or link-local address written out.
pub fn parse_spec(url: &str, events: &[String], allow_private: bool) -> Result<WebhookSpec, CommandError> {
    let bad = |m: &str| CommandError::from(DomainError::invalid("url", m));
    if url.len() > 2000 {
        return Err(bad("at most 2000 characters"));
    }
    let parsed = url::Url::parse(url.trim()).map_err(|_| bad("not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("must be http or https"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad("must not carry credentials"));
    }
    let private = match parsed.host() {
        None => return Err(bad("must name a host")),
        Some(url::Host::Ipv4(ip)) => private_address(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => private_address(IpAddr::V6(ip)),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost"),
    };
    if private && !allow_private {
        return Err(bad("private, loopback and link-local targets are refused"));
    }
    if events.is_empty() || events.len() > WEBHOOK_EVENT_TYPES.len() {
        return Err(DomainError::invalid("events", "name the event types wanted").into());
    }
    let mut wanted = Vec::with_capacity(events.len());
    for e in events {
        if !WEBHOOK_EVENT_TYPES.contains(&e.as_str()) {
            let message = format!("unknown event type {e:?} (known: {})", WEBHOOK_EVENT_TYPES.join(", "));
            return Err(DomainError::Invalid {
                field: "events",
                message,
            }
            .into());
        }
        wanted.push(e.clone());
    }
    wanted.sort();
    wanted.dedup();
    Ok(WebhookSpec {
        url: parsed.to_string(),
        events: wanted,
    })
}

impl Commands {
    async fn webhook_workspace(&self, webhook: Uuid) -> Result<WorkspaceId, CommandError> {
        let ws: Option<Uuid> = sqlx::query_scalar("SELECT workspace_id FROM webhook_workspaces WHERE webhook_id = $1")
            .bind(webhook)
            .fetch_optional(self.store.pool())
            .await?;
        ws.map(WorkspaceId)
            .ok_or_else(|| DomainError::NotFound("webhook").into())
    }

    /// `POST /v1/workspaces/{id}/webhooks`: 201 `{id, secret}`; the secret is in this answer
    /// only (a replay of the request answers without it).
    pub async fn create_webhook(
        &self,
        ctx: &CommandContext,
        ws: WorkspaceId,
        url: &str,
        events: &[String],
        description: Option<&str>,
    ) -> Result<Outcome, CommandError> {
        let spec = parse_spec(url, events, self.webhook_allow_private)?;
        let description = description.map(str::trim).filter(|d| !d.is_empty()).map(str::to_owned);
        if description.as_ref().is_some_and(|d| d.chars().count() > 500) {
            return Err(DomainError::invalid("description", "at most 500 characters").into());
        }
        self.idempotent(ctx, || async {
            let id = Uuid::now_v7();
            let secret = new_secret();
            let sealed = self.vault.seal(Scope::workspace(ws, id), &secret).await?;
            let cmd = WorkspaceCommand::CreateWebhook {
                actor: ctx.actor.user_id,
                webhook_id: id,
                spec: spec.clone(),
                description: description.clone(),
                secret: sealed,
            };
            let mut out = self
                .run(ctx, Some(ws.0), || async {
                    let loaded = self.load::<Workspace>(ws.0).await?;
                    let mut tx = self.store.pool().begin().await?;
                    sqlx::query(
                        "INSERT INTO webhook_workspaces (webhook_id, workspace_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    )
                    .bind(id)
                    .bind(ws.0)
                    .execute(&mut *tx)
                    .await?;
                    let effects = Effects::created().answering(id);
                    let decision = Decision::new(ws.0, Some(ws.0), loaded, cmd.clone()).with(effects);
                    let out = self.decide_on(Some(&mut *tx), ctx, decision).await?;
                    tx.commit().await?;
                    Ok(out)
                })
                .await?;
            // After the append: the stored answer a replay gives has no secret.
            out.extra.insert("secret".into(), json!(secret));
            Ok(out)
        })
        .await
    }

    /// `PATCH /v1/webhooks/{id}`: a new URL, event list or enabled state.
    pub async fn update_webhook(
        &self,
        ctx: &CommandContext,
        webhook: Uuid,
        url: Option<&str>,
        events: Option<&[String]>,
        enabled: Option<bool>,
    ) -> Result<Outcome, CommandError> {
        let ws = self.webhook_workspace(webhook).await?;
        self.run(ctx, Some(ws.0), || async {
            let loaded = self.load::<Workspace>(ws.0).await?;
            let current = loaded.state.webhooks.get(&webhook).map(|h| h.spec.clone());
            let spec = match (url, events, current) {
                (None, None, _) => None,
                (u, e, Some(cur)) => Some(parse_spec(
                    u.unwrap_or(&cur.url),
                    e.unwrap_or(&cur.events),
                    self.webhook_allow_private,
                )?),
                (_, _, None) => return Err(DomainError::NotFound("webhook").into()),
            };
            let cmd = WorkspaceCommand::UpdateWebhook {
                actor: ctx.actor.user_id,
                webhook_id: webhook,
                spec,
                enabled,
            };
            self.decide(ctx, Decision::new(ws.0, Some(ws.0), loaded, cmd)).await
        })
        .await
    }

    /// `POST /v1/webhooks/{id}/rotate-secret`: 200 `{secret}` (the old one stops signing).
    pub async fn rotate_webhook_secret(&self, ctx: &CommandContext, webhook: Uuid) -> Result<Outcome, CommandError> {
        let ws = self.webhook_workspace(webhook).await?;
        self.idempotent(ctx, || async {
            let secret = new_secret();
            let sealed = self.vault.seal(Scope::workspace(ws, webhook), &secret).await?;
            let cmd = WorkspaceCommand::RotateWebhookSecret {
                actor: ctx.actor.user_id,
                webhook_id: webhook,
                secret: sealed,
            };
            let mut out = self
                .run(ctx, Some(ws.0), || async {
                    let loaded = self.load::<Workspace>(ws.0).await?;
                    self.decide(ctx, Decision::new(ws.0, Some(ws.0), loaded, cmd.clone()))
                        .await
                })
                .await?;
            out.extra.insert("secret".into(), json!(secret));
            Ok(out)
        })
        .await
    }

    /// `DELETE /v1/webhooks/{id}`.
    pub async fn delete_webhook(&self, ctx: &CommandContext, webhook: Uuid) -> Result<Outcome, CommandError> {
        let ws = self.webhook_workspace(webhook).await?;
        self.run(ctx, Some(ws.0), || async {
            let loaded = self.load::<Workspace>(ws.0).await?;
            let cmd = WorkspaceCommand::DeleteWebhook {
                actor: ctx.actor.user_id,
                webhook_id: webhook,
            };
            self.decide(ctx, Decision::new(ws.0, Some(ws.0), loaded, cmd)).await
        })
        .await
    }

    /// Records that owners or admins asked for `delivery` (or every dead delivery) of
    /// `webhook` to be tried again; the delivery worker's dead letters do the rest.
    pub async fn replay_webhook(
        &self,
        ctx: &CommandContext,
        webhook: Uuid,
        delivery: Option<Uuid>,
    ) -> Result<Outcome, CommandError> {
        let ws = self.webhook_workspace(webhook).await?;
        self.run(ctx, Some(ws.0), || async {
            let loaded = self.load::<Workspace>(ws.0).await?;
            let cmd = WorkspaceCommand::ReplayWebhook {
                actor: ctx.actor.user_id,
                webhook_id: webhook,
                delivery_id: delivery,
            };
            self.decide(ctx, Decision::new(ws.0, Some(ws.0), loaded, cmd)).await
        })
        .await
    }

    /// Prism gives up on an endpoint that kept failing (`webhook.disabled`).
    pub async fn disable_webhook(&self, webhook: Uuid, reason: &str) -> Result<(), CommandError> {
        let ws = self.webhook_workspace(webhook).await?;
        let mut ctx = CommandContext::new(UserId(Uuid::nil()));
        ctx.actor = crate::Actor::system();
        self.run(&ctx, Some(ws.0), || async {
            let loaded = self.load::<Workspace>(ws.0).await?;
            let cmd = WorkspaceCommand::DisableWebhook {
                webhook_id: webhook,
                reason: reason.to_owned(),
            };
            self.decide(&ctx, Decision::new(ws.0, Some(ws.0), loaded, cmd)).await
        })
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_targets_are_checked() {
        let events = vec!["message.created".to_owned()];
        assert!(parse_spec("https://hooks.example.com/x", &events, false).is_ok());
        for bad in [
            "ftp://example.com/",
            "https://user:pw@example.com/",
            "http://127.0.0.1:8080/",
            "http://10.1.2.3/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://localhost/",
            "not a url",
            // Found by an attacker's probe: IPv4 inside IPv6, and the reserved IPv4 ranges.
            "http://[::127.0.0.1]/",
            "http://[::ffff:0:7f00:1]/",
            "http://[64:ff9b::7f00:1]/",
            "http://[2002:7f00:1::]/",
            "http://[fec0::1]/",
            "http://198.18.0.1/",
            "http://240.0.0.1/",
            "http://192.0.0.1/",
        ] {
            assert!(parse_spec(bad, &events, false).is_err(), "{bad}");
        }
        assert!(parse_spec("http://127.0.0.1:8080/", &events, true).is_ok());
        assert!(parse_spec("https://example.com/", &["conversation.created".to_owned()], false).is_err());
        assert!(parse_spec("https://example.com/", &[], false).is_err());
    }
}
