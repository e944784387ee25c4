//! The write side's application layer: every command Prism accepts, one file each, grouped by
//! aggregate (`workspace/`, `channel/`, `message/`, `conversation/`, `doc/`, `auth/`,
//! `reflection/`).
//!
//! Each command follows [`pipeline`]: load the aggregate (snapshot + tail, or the hot cache),
//! authorize on the aggregate's own state (a workspace's member list, never a read model),
//! handle, append with the expected version; retry a bounded number of times on a conflict;
//! honor `Idempotency-Key` (stored in the same transaction as the events) and `If-Match`.
//!
//! It may import `prism-domain`, `prism-event-store`, `prism-auth`, `prism-vault` (sealing
//! personal text before it is appended) and `prism-ai-gateway` (the one way out to a model). It
//! knows nothing of HTTP.

pub mod auth;
pub mod cache;
pub mod channel;
pub mod context;
pub mod conversation;
pub mod doc;
pub mod error;
pub mod file;
pub mod locks;
mod mentions;
pub mod message;
pub mod outcome;
pub mod pipeline;
pub mod reflection;
pub mod workspace;

use std::sync::Arc;

use prism_auth::{Jwt, PasswordHasherId};
use prism_event_store::PgEventStore;

pub use context::{Actor, ActorKind, CommandContext, Expected};
pub use error::CommandError;
pub use outcome::{Happened, Outcome};

/// Everything commands need; cheap to clone.
#[derive(Clone)]
pub struct Commands {
    pub(crate) store: PgEventStore,
    pub(crate) cache: Arc<cache::AggregateCache>,
    pub(crate) locks: Arc<locks::StripedLocks>,
    pub(crate) jwt: Jwt,
    pub(crate) hasher: PasswordHasherId,
    pub(crate) refresh_ttl: chrono::Duration,
    /// How long an invitation link works (seven days unless told otherwise).
    pub(crate) invitation_ttl: chrono::Duration,
    /// Whether webhooks may target private, loopback and link-local addresses
    /// (`PRISM_WEBHOOK_ALLOW_PRIVATE=1`; tests and closed networks).
    pub(crate) webhook_allow_private: bool,
    /// The AI gateway: a model provider if configured, the built-in one behind it.
    pub(crate) gateway: Arc<prism_ai_gateway::http::Fallback>,
    /// The safety gate's semantic stage, when its model is installed.
    pub(crate) semantic: Option<Arc<prism_safety_model::Semantic>>,
    /// Token budgets and the month's spend (see `reflection::spend`).
    pub(crate) spend: Arc<reflection::Spend>,
    /// What a crisis answer carries.
    pub(crate) crisis_resources: Arc<Vec<String>>,
    /// Seals journal text with its owner's key before it enters an event.
    pub(crate) vault: prism_vault::Vault,
    /// Daily allowances of the reflection features per plan.
    pub(crate) allowances: Arc<reflection::Allowances>,
    /// Connections for the quota counters, with `synchronous_commit = off` (see
    /// `reflection::quota`).
    pub(crate) counters: sqlx::PgPool,
    /// How long a stored first answer (`Idempotency-Key`) is kept.
    pub(crate) idempotency_ttl: std::time::Duration,
    /// Slots for argon2 work: each takes 19 MiB and a core for tens of milliseconds, so at
    /// most about two per core run at once; the rest wait briefly, then get 503 `busy`.
    pub(crate) hashing: Arc<tokio::sync::Semaphore>,
    /// Keys the per-account failed sign-in records (`login_failures`).
    pub(crate) login_key: Arc<Vec<u8>>,
    /// Where uploaded files' bytes go (none: uploads answer 503).
    pub(crate) blobs: Option<prism_blobs::Blobs>,
}

impl Commands {
    pub fn new(store: PgEventStore, jwt: Jwt, hasher: PasswordHasherId) -> Self {
        let vault = prism_vault::Vault::caching(store.pool().clone(), prism_vault::MasterKey::development());
        let counters = reflection::counters_pool(store.pool());
        Self {
            vault,
            counters,
            allowances: Arc::new(reflection::Allowances::default()),
            idempotency_ttl: Self::IDEMPOTENCY_TTL,
            hashing: Arc::new(tokio::sync::Semaphore::new(
                2 * std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
            login_key: Arc::new(b"prism-development-login-failure-key".to_vec()),
            blobs: None,
            store,
            cache: Arc::new(cache::AggregateCache::new(100_000)),
            locks: Arc::new(locks::StripedLocks::new(4096)),
            jwt,
            hasher,
            refresh_ttl: chrono::Duration::days(30),
            invitation_ttl: chrono::Duration::days(7),
            webhook_allow_private: false,
            gateway: Arc::new(prism_ai_gateway::http::Fallback::new(None)),
            semantic: None,
            spend: Arc::new(reflection::Spend::new(Default::default())),
            crisis_resources: Arc::new(
                reflection::DEFAULT_CRISIS_RESOURCES
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            ),
        }
    }

    /// Where uploaded files' bytes are stored.
    pub fn with_blobs(mut self, blobs: prism_blobs::Blobs) -> Self {
        self.blobs = Some(blobs);
        self
    }

    /// Puts a model provider in front of the built-in one.
    pub fn with_model(mut self, provider: prism_ai_gateway::http::HttpProvider) -> Self {
        let economy = Arc::get_mut(&mut self.gateway).and_then(|g| g.economy.take());
        let budget = self.gateway.budget;
        let mut gateway = prism_ai_gateway::http::Fallback::new(Some(provider));
        gateway.economy = economy;
        gateway.budget = budget;
        self.gateway = Arc::new(gateway);
        self
    }

    /// A cheaper model for Lens and Spectrum (`PRISM_AI_MODEL_ECONOMY`).
    pub fn with_economy_model(mut self, provider: prism_ai_gateway::http::HttpProvider) -> Self {
        let mut gateway = prism_ai_gateway::http::Fallback::new(None);
        gateway.budget = self.gateway.budget;
        if let Some(g) = Arc::get_mut(&mut self.gateway) {
            gateway.primary = g.primary.take();
        }
        gateway.economy = Some(provider);
        self.gateway = Arc::new(gateway);
        self
    }

    /// The safety gate's semantic stage (`PRISM_SAFETY_MODEL_DIR`).
    pub fn with_semantic(mut self, semantic: Arc<prism_safety_model::Semantic>) -> Self {
        self.semantic = Some(semantic);
        self
    }

    /// What one request may spend waiting on models, all calls together (`PRISM_AI_BUDGET_MS`);
    /// past it the built-in provider answers.
    pub fn with_ai_budget(mut self, budget: std::time::Duration) -> Self {
        match Arc::get_mut(&mut self.gateway) {
            Some(g) => g.budget = budget,
            None => {
                let mut g = prism_ai_gateway::http::Fallback::new(None);
                g.budget = budget;
                self.gateway = Arc::new(g);
            }
        }
        self
    }

    /// Token budgets (`PRISM_AI_USER_DAILY_TOKENS`, `PRISM_AI_MONTHLY_TOKENS`).
    pub fn with_spend_limits(mut self, limits: reflection::SpendLimits) -> Self {
        self.spend = Arc::new(reflection::Spend::new(limits));
        self
    }

    /// The lines a crisis answer shows (from configuration).
    pub fn with_crisis_resources(mut self, lines: Vec<String>) -> Self {
        self.crisis_resources = Arc::new(lines);
        self
    }

    /// The master key that wraps users' data keys (`PRISM_MASTER_KEY`; without it, a fixed
    /// development key).
    pub fn with_master_key(mut self, key: prism_vault::MasterKey) -> Self {
        self.vault = prism_vault::Vault::caching(self.store.pool().clone(), key);
        self
    }

    /// The plans' daily allowances (`PRISM_QUOTAS`).
    /// Stored first answers are kept a day unless told otherwise.
    pub const IDEMPOTENCY_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

    /// How long a session (its refresh token) lives (`PRISM_REFRESH_TTL_SECS`); the access
    /// tokens' lifetime is the `Jwt`'s.
    /// Lets webhooks target private, loopback and link-local addresses.
    pub fn with_webhook_private_targets(mut self, allow: bool) -> Self {
        self.webhook_allow_private = allow;
        self
    }

    /// How long invitation links work (`PRISM_INVITATION_TTL_SECS`).
    pub fn with_invitation_ttl(mut self, ttl: std::time::Duration) -> Self {
        self.invitation_ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(7));
        self
    }

    pub fn with_refresh_ttl(mut self, ttl: std::time::Duration) -> Self {
        self.refresh_ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(30));
        self
    }

    /// How long a stored first answer is kept (`PRISM_IDEMPOTENCY_TTL_SECS`).
    pub fn with_idempotency_ttl(mut self, ttl: std::time::Duration) -> Self {
        self.idempotency_ttl = ttl;
        self
    }

    /// Deletes stored first answers older than their time to live, and failed sign-in records
    /// no longer counting; answers how many.
    pub async fn sweep_idempotency(&self) -> Result<u64, CommandError> {
        let answers = self.store.expire_idempotency(self.idempotency_ttl).await?;
        let failures = sqlx::query(
            "DELETE FROM login_failures
              WHERE window_start < now() - interval '1 hour' AND (locked_until IS NULL OR locked_until < now())",
        )
        .execute(self.store.pool())
        .await?
        .rows_affected();
        Ok(answers + failures)
    }

    /// The secret keying failed sign-in records (from `PRISM_JWT_SECRET` in the binary).
    pub fn with_login_key(mut self, key: &[u8]) -> Self {
        self.login_key = Arc::new(key.to_vec());
        self
    }

    /// At most `n` argon2 computations at once.
    pub fn with_hashing_slots(mut self, n: usize) -> Self {
        self.hashing = Arc::new(tokio::sync::Semaphore::new(n.max(1)));
        self
    }

    pub fn with_allowances(mut self, allowances: reflection::Allowances) -> Self {
        self.allowances = Arc::new(allowances);
        self
    }

    pub fn vault(&self) -> &prism_vault::Vault {
        &self.vault
    }

    pub fn store(&self) -> &PgEventStore {
        &self.store
    }

    pub fn jwt(&self) -> &Jwt {
        &self.jwt
    }
}

/// Turns a domain validation result into a command error (for `?` on value-object parsing).
pub(crate) fn valid<T>(r: Result<T, prism_domain::DomainError>) -> Result<T, CommandError> {
    r.map_err(CommandError::Domain)
}

impl Commands {
    /// Is the event store reachable? (for `/readyz`)
    pub async fn ping(&self) -> Result<(), CommandError> {
        sqlx::query("SELECT 1").execute(self.store.pool()).await?;
        Ok(())
    }
}
