//! API keys: workspace-scoped principals for scripts and integrations. Owners and admins
//! create them (`api_key.created`, naming only the SHA-256 of the secret) and revoke them
//! (`api_key.revoked`). Every node verifies a key from the log alone ([`prism_auth::ApiKeys`]),
//! so nothing here keeps a table of its own beyond which workspace a key belongs to.

use prism_domain::aggregates::{KeyScope, Workspace, WorkspaceCommand};
use prism_domain::{DomainError, WorkspaceId};
use serde_json::json;
use uuid::Uuid;

use crate::pipeline::{Decision, Effects};
use crate::{CommandContext, CommandError, Commands, Outcome};

/// A key's name, as shown in the key list.
const NAME_MAX: usize = 100;

/// What `POST /v1/workspaces/{id}/api-keys` asks for, checked.
pub struct NewApiKey {
    name: String,
    scopes: Vec<KeyScope>,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl NewApiKey {
    pub fn parse(
        name: &str,
        scopes: &[String],
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Self, CommandError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > NAME_MAX || name.chars().any(char::is_control) {
            return Err(DomainError::invalid("name", "1–100 characters, no control characters").into());
        }
        if scopes.is_empty() {
            return Err(DomainError::invalid("scopes", "name at least one scope: read, write").into());
        }
        let mut parsed = scopes
            .iter()
            .map(|s| KeyScope::parse(s))
            .collect::<Result<Vec<_>, _>>()?;
        parsed.sort();
        parsed.dedup();
        if let Some(at) = expires_at {
            if at <= chrono::Utc::now() {
                return Err(DomainError::invalid("expires_at", "must be in the future").into());
            }
        }
        Ok(Self {
            name: name.to_owned(),
            scopes: parsed,
            expires_at,
        })
    }
}

impl Commands {
    /// `POST /v1/workspaces/{id}/api-keys`: 201 `{id, key}`. The key is in this answer only: it
    /// is stored nowhere, so a replay of the request (same `Idempotency-Key`) answers without it.
    pub async fn create_api_key(
        &self,
        ctx: &CommandContext,
        ws: WorkspaceId,
        new: NewApiKey,
    ) -> Result<Outcome, CommandError> {
        self.idempotent(ctx, || async {
            let id = Uuid::now_v7();
            let key = format!("{}{}", prism_auth::API_KEY_PREFIX, prism_auth::random_token(32));
            let cmd = WorkspaceCommand::CreateApiKey {
                actor: ctx.actor.user_id,
                key_id: id,
                name: new.name.clone(),
                scopes: new.scopes.clone(),
                expires_at: new.expires_at.map(|t| t.timestamp()),
                secret_sha256: prism_auth::token_digest(&key),
            };
            let mut out = self
                .run(ctx, Some(ws.0), || async {
                    let loaded = self.load::<Workspace>(ws.0).await?;
                    let effects = Effects::created()
                        .answering(id)
                        .with("name", json!(new.name))
                        .with("scopes", json!(new.scopes));
                    // Which workspace the key is of, committed with its event: a key in the log
                    // can always be revoked.
                    let mut tx = self.store.pool().begin().await?;
                    sqlx::query("INSERT INTO api_keys (key_id, workspace_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                        .bind(id)
                        .bind(ws.0)
                        .execute(&mut *tx)
                        .await?;
                    let decision = Decision::new(ws.0, Some(ws.0), loaded, cmd.clone()).with(effects);
                    let out = self.decide_on(Some(&mut *tx), ctx, decision).await?;
                    tx.commit().await?;
                    Ok(out)
                })
                .await?;
            // Added after the append: the stored answer a replay gives has no key.
            out.extra.insert("key".into(), json!(key));
            Ok(out)
        })
        .await
    }

    /// `DELETE /v1/api-keys/{id}`: owners and admins of its workspace. Every node refuses the
    /// key within a moment of the event being logged.
    pub async fn revoke_api_key(&self, ctx: &CommandContext, key: Uuid) -> Result<Outcome, CommandError> {
        let ws: Option<Uuid> = sqlx::query_scalar("SELECT workspace_id FROM api_keys WHERE key_id = $1")
            .bind(key)
            .fetch_optional(self.store.pool())
            .await?;
        let ws = ws.ok_or(DomainError::NotFound("api key"))?;
        self.run(ctx, Some(ws), || async {
            let loaded = self.load::<Workspace>(ws).await?;
            let cmd = WorkspaceCommand::RevokeApiKey {
                actor: ctx.actor.user_id,
                key_id: key,
            };
            self.decide(ctx, Decision::new(ws, Some(ws), loaded, cmd)).await
        })
        .await
    }
}
