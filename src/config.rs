//! Configuration from the environment, with local defaults where one is safe.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

const DEV_JWT_SECRET: &str = "prism-local-development-secret-do-not-use-in-production";

pub struct Config {
    pub database_url: String,
    /// `PRISM_METRICS_ADDR`: where this process serves `/metrics` on its own listener (what a
    /// relay or a projector, which have no API, are seen by; unset: none).
    pub metrics_addr: Option<String>,
    /// `PRISM_READ_DATABASE_URL`: a streaming replica the read API reads from (unset: the
    /// primary).
    pub read_database_url: Option<String>,
    pub write_addr: String,
    pub read_addr: String,
    /// The write API's base URL, where a read node's console forwards sign-in
    /// (`PRISM_WRITE_URL`; `prism serve` defaults to its own write API).
    pub write_url: Option<String>,
    /// `PRISM_NATS_URL`: set, the NATS JetStream bus (each part may run as its own process);
    /// unset, one node on the in-process bus.
    pub nats_url: Option<String>,
    pub nats_prefix: String,
    /// `PRISM_NATS_REPLICAS` (default 1): copies of the events stream and its consumers.
    pub nats_replicas: usize,
    /// `PRISM_NATS_CA`: the CA (PEM file) for `tls://` servers.
    pub nats_ca: Option<std::path::PathBuf>,
    /// `PRISM_LEASE_MS` (default 1,000): how long the active relay's and projectors' leases last
    /// without renewal, so how soon a standby takes over from one that died or hung.
    pub lease: prism_bus::lease::LeaseConfig,
    /// How long the stream keeps events (projectors further behind catch up from Postgres).
    pub nats_max_age: std::time::Duration,
    pub jwt_secret: String,
    pub snapshot_every: i64,
    pub db_pool: u32,
    /// Concurrent group-commit writers (see event-store's batcher).
    pub group_commit_flushers: usize,
    /// Local files: the search index lives in `<data_dir>/search`.
    pub data_dir: std::path::PathBuf,
    /// This node's name: its search index's durable consumer is named after it.
    pub node_id: String,
    /// An OpenAI-compatible model endpoint (vLLM, Ollama); the built-in provider without one.
    pub ai_url: Option<String>,
    pub ai_model: String,
    /// Sent as a bearer token to the model endpoint; never logged.
    pub ai_api_key: Option<String>,
    /// `PRISM_WRITERS_INTERVAL_SECS`: how often insights and affirmations are written.
    pub writers_every: Duration,
    /// `PRISM_AI_MODEL_ECONOMY`: the model for Lens and Spectrum (the standard one when unset).
    pub ai_model_economy: Option<String>,
    /// `PRISM_AI_BUDGET_MS` (100..=60000, default 3000): what one request may spend waiting on
    /// models, the safety reading, generation and retries together.
    pub ai_budget: Duration,
    /// `PRISM_SAFETY_MODEL_DIR`: the safety gate's embedding model (`config.json`,
    /// `model.safetensors`, `tokenizer.json`; `scripts/run` fetches it). Unset: rules only.
    pub safety_model_dir: Option<std::path::PathBuf>,
    /// `PRISM_AI_USER_DAILY_TOKENS`, `PRISM_AI_MONTHLY_TOKENS`.
    pub ai_limits: prism_commands::reflection::SpendLimits,
    /// Lines a crisis answer shows, separated by `|`; built-in defaults without it.
    pub crisis_resources: Option<Vec<String>>,
    /// Wraps every user's data key (`PRISM_MASTER_KEY`: 64 hex characters); never logged.
    pub master_key: prism_vault::MasterKey,
    /// Overrides of the plans' daily allowances (`PRISM_QUOTAS`, e.g. `free.turn=20`).
    pub allowances: prism_commands::reflection::Allowances,
    /// Live streams a user, and a read node, may hold open (`PRISM_STREAMS_PER_USER`,
    /// `PRISM_STREAMS_PER_NODE`).
    pub stream_limits: prism_projections::feed::StreamLimits,
    /// Timeouts and browser access at the edge (`PRISM_HEADER_TIMEOUT_SECS`,
    /// `PRISM_BODY_TIMEOUT_SECS`, `PRISM_REQUEST_TIMEOUT_SECS`, `PRISM_CORS_ORIGINS`).
    pub edge: prism_telemetry::edge::EdgeConfig,
    /// Rate limits (`PRISM_RATE_LIMITS`, e.g. `login_ip=20/60`).
    pub rate_limits: String,
    /// Proxies whose `X-Forwarded-For` is believed (`PRISM_TRUSTED_PROXIES`).
    pub trusted_proxies: String,
    /// How long stored first answers (`Idempotency-Key`) are kept (`PRISM_IDEMPOTENCY_TTL_SECS`).
    pub idempotency_ttl: Duration,
    /// The SMTP relay (`PRISM_SMTP_URL`); unset, mail is written as `.eml` files under
    /// `PRISM_DATA_DIR/outbox/`. Never logged (it may hold a password).
    pub smtp_url: Option<String>,
    /// Webhooks may target private, loopback and link-local addresses
    /// (`PRISM_WEBHOOK_ALLOW_PRIVATE=1`).
    pub webhook_allow_private: bool,
    /// Where uploaded files' bytes go (`PRISM_OBJECT_STORE_URL`, `s3://bucket`); unset, under
    /// `PRISM_DATA_DIR/files`. Never logged.
    pub object_store_url: Option<String>,
    /// The largest upload (`PRISM_MAX_UPLOAD_BYTES`, 25 MiB).
    pub max_upload: u64,
    /// `From:` of Prism's mail (`PRISM_MAIL_FROM`).
    pub mail_from: String,
    /// Where links in mail point (`PRISM_PUBLIC_URL`).
    pub public_url: String,
    /// Access-token lifetime (`PRISM_ACCESS_TTL_SECS`, default 15 minutes).
    pub access_ttl: Duration,
    /// Refresh-token (session) lifetime (`PRISM_REFRESH_TTL_SECS`, default 30 days).
    pub refresh_ttl: Duration,
    /// How long an invitation link works (`PRISM_INVITATION_TTL_SECS`, default 7 days).
    pub invitation_ttl: Duration,
    /// `PRISM_DEV=1`: the built-in development secret and key may stand in for missing ones.
    pub dev: bool,
    jwt_secret_set: bool,
    master_key_set: bool,
    /// Signs and verifies bus messages (`PRISM_BUS_KEY`, and `PRISM_BUS_KEYS_PREVIOUS` while
    /// rotating); never logged.
    pub bus_keys: prism_bus::signing::BusKeys,
    bus_key_set: bool,
    /// NATS credentials (`PRISM_NATS_USER` + `PRISM_NATS_PASSWORD`, `PRISM_NATS_TOKEN` or
    /// `PRISM_NATS_NKEY_SEED`).
    pub nats_auth: prism_bus::signing::NatsAuth,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        let var = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
        // A built-in secret or key is public (it is in this file): only a developer who says
        // so with PRISM_DEV=1 gets one. `require_secrets` refuses to start a service otherwise.
        let dev = std::env::var("PRISM_DEV").is_ok_and(|v| v == "1");
        let jwt_secret = match std::env::var("PRISM_JWT_SECRET") {
            Ok(s) if s.len() >= 32 => Some(s),
            Ok(_) => anyhow::bail!("PRISM_JWT_SECRET must be at least 32 bytes"),
            Err(_) => None,
        };
        let master_key = match std::env::var("PRISM_MASTER_KEY") {
            Ok(s) => Some(prism_vault::MasterKey::parse(&s).map_err(|e| anyhow::anyhow!("PRISM_MASTER_KEY: {e}"))?),
            Err(_) => None,
        };
        let allowances = prism_commands::reflection::Allowances::parse(&var("PRISM_QUOTAS", ""))
            .map_err(|e| anyhow::anyhow!("PRISM_QUOTAS: {e}"))?;
        let bus_key = match std::env::var("PRISM_BUS_KEY") {
            Ok(k) if k.len() >= 32 => Some(k),
            Ok(_) => anyhow::bail!("PRISM_BUS_KEY must be at least 32 bytes"),
            Err(_) => None,
        };
        let previous: Vec<Vec<u8>> = var("PRISM_BUS_KEYS_PREVIOUS", "")
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(|k| k.as_bytes().to_vec())
            .collect();
        let bus_keys = match &bus_key {
            Some(k) => prism_bus::signing::BusKeys::new(k.as_bytes(), &previous),
            None => prism_bus::signing::BusKeys::development(),
        };
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let nats_auth = match (
            env("PRISM_NATS_USER"),
            env("PRISM_NATS_PASSWORD"),
            env("PRISM_NATS_TOKEN"),
            env("PRISM_NATS_NKEY_SEED"),
        ) {
            (Some(user), Some(password), None, None) => {
                prism_bus::signing::NatsAuth::UserPassword { user, password }
            }
            (None, None, Some(t), None) => prism_bus::signing::NatsAuth::Token(t),
            (None, None, None, Some(seed)) => prism_bus::signing::NatsAuth::NKey(seed),
            (None, None, None, None) => prism_bus::signing::NatsAuth::None,
            _ => anyhow::bail!(
                "set one kind of NATS credentials: PRISM_NATS_USER with PRISM_NATS_PASSWORD, PRISM_NATS_TOKEN or PRISM_NATS_NKEY_SEED"
            ),
        };
        let defaults = prism_projections::feed::StreamLimits::default();
        let stream_limits = prism_projections::feed::StreamLimits {
            per_user: var("PRISM_STREAMS_PER_USER", &defaults.per_user.to_string())
                .parse()
                .context("PRISM_STREAMS_PER_USER must be a number")?,
            per_node: var("PRISM_STREAMS_PER_NODE", &defaults.per_node.to_string())
                .parse()
                .context("PRISM_STREAMS_PER_NODE must be a number")?,
        };
        let idempotency_ttl = Duration::from_secs(
            var("PRISM_IDEMPOTENCY_TTL_SECS", "86400")
                .parse()
                .context("PRISM_IDEMPOTENCY_TTL_SECS must be a number of seconds")?,
        );
        let secs = |k: &str, d: u64| -> anyhow::Result<Duration> {
            let n: u64 = var(k, &d.to_string())
                .parse()
                .with_context(|| format!("{k} must be a whole number of seconds"))?;
            anyhow::ensure!(n > 0, "{k} must be at least 1");
            Ok(Duration::from_secs(n))
        };
        let access_ttl = secs("PRISM_ACCESS_TTL_SECS", prism_auth::Jwt::DEFAULT_TTL.as_secs())?;
        let refresh_ttl = secs("PRISM_REFRESH_TTL_SECS", 30 * 24 * 3600)?;
        let invitation_ttl = secs("PRISM_INVITATION_TTL_SECS", 7 * 24 * 3600)?;
        // A session that ends before its first access token would make refreshing pointless.
        anyhow::ensure!(
            refresh_ttl >= access_ttl,
            "PRISM_REFRESH_TTL_SECS must be at least PRISM_ACCESS_TTL_SECS"
        );
        let edge = prism_telemetry::edge::EdgeConfig {
            header_timeout: secs("PRISM_HEADER_TIMEOUT_SECS", 10)?,
            body_timeout: secs("PRISM_BODY_TIMEOUT_SECS", 10)?,
            request_timeout: secs("PRISM_REQUEST_TIMEOUT_SECS", 30)?,
            cors_origins: var("PRISM_CORS_ORIGINS", "")
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(str::to_owned)
                .collect(),
        };
        let rate_limits = var("PRISM_RATE_LIMITS", "");
        prism_write_api::limits::Limits::parse(&rate_limits).map_err(|e| anyhow::anyhow!("PRISM_RATE_LIMITS: {e}"))?;
        let trusted_proxies = var("PRISM_TRUSTED_PROXIES", "");
        prism_write_api::limits::Limits::default()
            .with_trusted_proxies(&trusted_proxies)
            .map_err(|e| anyhow::anyhow!("PRISM_TRUSTED_PROXIES: {e}"))?;
        let node_id: String = std::env::var("PRISM_NODE_ID")
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_else(|_| "local".into())
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' })
            .collect();
        Ok(Self {
            edge,
            rate_limits,
            trusted_proxies,
            idempotency_ttl,
            access_ttl,
            refresh_ttl,
            invitation_ttl,
            smtp_url: std::env::var("PRISM_SMTP_URL").ok().filter(|s| !s.trim().is_empty()),
            webhook_allow_private: std::env::var("PRISM_WEBHOOK_ALLOW_PRIVATE").is_ok_and(|v| v.trim() == "1"),
            object_store_url: std::env::var("PRISM_OBJECT_STORE_URL")
                .ok()
                .filter(|s| !s.trim().is_empty()),
            max_upload: var(
                "PRISM_MAX_UPLOAD_BYTES",
                &prism_write_api::DEFAULT_MAX_UPLOAD.to_string(),
            )
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .context("PRISM_MAX_UPLOAD_BYTES must be a positive number of bytes")?,
            mail_from: var("PRISM_MAIL_FROM", "Prism <no-reply@localhost>"),
            public_url: var("PRISM_PUBLIC_URL", "http://127.0.0.1:8080"),
            bus_key_set: bus_key.is_some(),
            bus_keys,
            nats_auth,
            dev,
            stream_limits,
            master_key: master_key.unwrap_or_else(prism_vault::MasterKey::development),
            master_key_set: std::env::var("PRISM_MASTER_KEY").is_ok(),
            jwt_secret_set: jwt_secret.is_some(),
            jwt_secret: jwt_secret.unwrap_or_else(|| DEV_JWT_SECRET.to_owned()),
            allowances,
            database_url: var("PRISM_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/prism"),
            metrics_addr: std::env::var("PRISM_METRICS_ADDR")
                .ok()
                .filter(|u| !u.trim().is_empty()),
            read_database_url: std::env::var("PRISM_READ_DATABASE_URL")
                .ok()
                .filter(|u| !u.trim().is_empty()),
            write_addr: var("PRISM_WRITE_ADDR", "127.0.0.1:8080"),
            read_addr: var("PRISM_READ_ADDR", "127.0.0.1:8081"),
            write_url: std::env::var("PRISM_WRITE_URL").ok().filter(|u| !u.trim().is_empty()),
            nats_url: match std::env::var("PRISM_NATS_URL").ok().filter(|u| !u.trim().is_empty()) {
                // A list that does not parse is a configuration error, said at start (not a bus
                // that is "down" for the whole run).
                Some(list) => {
                    prism_bus::nats::servers(&list)?;
                    Some(list)
                }
                None => None,
            },
            nats_prefix: var("PRISM_NATS_PREFIX", "prism"),
            nats_replicas: match var("PRISM_NATS_REPLICAS", "1").parse::<usize>() {
                Ok(n @ 1..=5) => n,
                _ => anyhow::bail!("PRISM_NATS_REPLICAS must be 1 to 5 (JetStream's limit)"),
            },
            lease: prism_bus::lease::LeaseConfig {
                ttl: match var("PRISM_LEASE_MS", "1000").parse::<u64>() {
                    Ok(ms @ 200..=60_000) => std::time::Duration::from_millis(ms),
                    _ => anyhow::bail!("PRISM_LEASE_MS must be 200 to 60000 (milliseconds)"),
                },
                node: node_id.clone(),
            },
            nats_ca: std::env::var_os("PRISM_NATS_CA")
                .filter(|p| !p.is_empty())
                .map(std::path::PathBuf::from),
            nats_max_age: std::time::Duration::from_secs(
                var("PRISM_NATS_MAX_AGE_SECS", "604800")
                    .parse()
                    .context("PRISM_NATS_MAX_AGE_SECS must be a number")?,
            ),
            snapshot_every: var("PRISM_SNAPSHOT_EVERY", "100")
                .parse()
                .context("PRISM_SNAPSHOT_EVERY must be a number")?,
            db_pool: var("PRISM_DB_POOL", "32")
                .parse()
                .context("PRISM_DB_POOL must be a number")?,
            group_commit_flushers: var("PRISM_GROUP_COMMIT_WRITERS", "2")
                .parse()
                .context("PRISM_GROUP_COMMIT_WRITERS must be a number")?,
            data_dir: var("PRISM_DATA_DIR", "./data").into(),
            node_id: node_id.clone(),
            ai_url: std::env::var("PRISM_AI_URL").ok().filter(|s| !s.is_empty()),
            ai_model: var("PRISM_AI_MODEL", "llama3.1"),
            ai_api_key: std::env::var("PRISM_AI_API_KEY").ok().filter(|s| !s.is_empty()),
            writers_every: Duration::from_secs(
                var("PRISM_WRITERS_INTERVAL_SECS", "60")
                    .parse()
                    .context("PRISM_WRITERS_INTERVAL_SECS must be a number of seconds")?,
            ),
            ai_model_economy: std::env::var("PRISM_AI_MODEL_ECONOMY").ok().filter(|s| !s.is_empty()),
            ai_budget: {
                let ms: u64 = var("PRISM_AI_BUDGET_MS", "3000")
                    .parse()
                    .context("PRISM_AI_BUDGET_MS must be a number of milliseconds")?;
                anyhow::ensure!(
                    (100..=60_000).contains(&ms),
                    "PRISM_AI_BUDGET_MS must be between 100 and 60000 (milliseconds)"
                );
                Duration::from_millis(ms)
            },
            safety_model_dir: std::env::var("PRISM_SAFETY_MODEL_DIR")
                .ok()
                .filter(|s| !s.is_empty())
                .map(Into::into),
            ai_limits: prism_commands::reflection::SpendLimits {
                user_daily: tokens("PRISM_AI_USER_DAILY_TOKENS")?,
                monthly: tokens("PRISM_AI_MONTHLY_TOKENS")?,
            },
            crisis_resources: std::env::var("PRISM_CRISIS_RESOURCES").ok().map(|s| {
                s.split('|')
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect()
            }),
        })
    }

    /// Services that sign tokens or open sealed data start only with real secrets, or with
    /// `PRISM_DEV=1` (which says so, once, in the log).
    pub fn require_secrets(&self, tokens: bool, bus: bool) -> anyhow::Result<()> {
        let missing: Vec<&str> = [
            (tokens && !self.jwt_secret_set).then_some("PRISM_JWT_SECRET (32+ bytes)"),
            (tokens && !self.master_key_set).then_some("PRISM_MASTER_KEY (64 hex characters)"),
            (bus && !self.bus_key_set).then_some("PRISM_BUS_KEY (32+ bytes)"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if missing.is_empty() {
            return Ok(());
        }
        if self.dev {
            tracing::warn!(
                missing = %missing.join(", "),
                "PRISM_DEV=1: using the public built-in development secrets; never in production"
            );
            return Ok(());
        }
        anyhow::bail!(
            "refusing to start without {} (set them, or PRISM_DEV=1 for local development only)",
            missing.join(", ")
        )
    }

    /// The bus: NATS JetStream when `PRISM_NATS_URL` is set, else the in-process bus. One per
    /// process: the relay and the projectors of a process must share it. Checked: a NATS
    /// stream the servers will not give the configured settings (replicas) stops the process,
    /// with the reason.
    pub async fn prepared_bus(&self) -> anyhow::Result<std::sync::Arc<dyn prism_bus::Bus>> {
        match self.nats_bus() {
            Some(nats) => {
                nats.prepare().await.context("refusing to start")?;
                Ok(std::sync::Arc::new(nats))
            }
            None => Ok(std::sync::Arc::new(prism_bus::LocalBus::new())),
        }
    }

    fn nats_bus(&self) -> Option<prism_bus::NatsBus> {
        let url = self.nats_url.as_ref()?;
        Some(prism_bus::NatsBus::new(
            url.clone(),
            prism_bus::NatsConfig {
                prefix: self.nats_prefix.clone(),
                max_age: self.nats_max_age,
                keys: self.bus_keys.clone(),
                auth: self.nats_auth.clone(),
                replicas: self.nats_replicas,
                ca: self.nats_ca.clone(),
            },
        ))
    }

    pub fn projector(&self, bus: &std::sync::Arc<dyn prism_bus::Bus>) -> prism_projections::ProjectorConfig {
        prism_projections::ProjectorConfig::new(bus.clone(), 256).with_lease(self.lease.clone())
    }

    /// The store of uploaded files' bytes: the S3-compatible bucket at `PRISM_OBJECT_STORE_URL`
    /// (credentials and endpoint from the usual `AWS_*` variables), else a local directory.
    pub fn blobs(&self) -> anyhow::Result<prism_blobs::Blobs> {
        let blobs = match &self.object_store_url {
            Some(url) => prism_blobs::Blobs::s3(url, &[], &self.data_dir.join("staging"))?,
            None => prism_blobs::Blobs::local(&self.data_dir.join("files"))?,
        };
        tracing::info!(store = %blobs.describe, "files");
        Ok(blobs)
    }

    /// The commands, with the model provider and crisis resources configured.
    pub fn commands(&self, store: prism_event_store::PgEventStore) -> anyhow::Result<prism_commands::Commands> {
        let hasher = prism_auth::PasswordHasherId::owasp().map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut commands = prism_commands::Commands::new(store, self.jwt(), hasher)
            .with_master_key(self.master_key.clone())
            .with_allowances(self.allowances.clone())
            .with_idempotency_ttl(self.idempotency_ttl)
            .with_refresh_ttl(self.refresh_ttl)
            .with_invitation_ttl(self.invitation_ttl)
            .with_webhook_private_targets(self.webhook_allow_private)
            .with_blobs(self.blobs()?)
            // Failed sign-ins are counted under a key only the deployment knows.
            .with_login_key(&sha256(
                &[b"prism login failures\n".as_slice(), self.jwt_secret.as_bytes()].concat(),
            ));
        if let Some(provider) = self.model()? {
            tracing::info!(model = %self.ai_model, "reframes from the model at PRISM_AI_URL, the built-in provider as fallback");
            commands = commands.with_model(provider);
        }
        if let Some(provider) = self.economy_model()? {
            tracing::info!(model = provider.model(), "Lens and Spectrum from the economy model");
            commands = commands.with_economy_model(provider);
        }
        commands = commands
            .with_spend_limits(self.ai_limits)
            .with_ai_budget(self.ai_budget);
        if let Some(semantic) = self.semantic()? {
            commands = commands.with_semantic(semantic);
        }
        if let Some(lines) = self.crisis_resources.clone().filter(|l| !l.is_empty()) {
            commands = commands.with_crisis_resources(lines);
        }
        Ok(commands)
    }

    /// The safety gate's semantic stage from `PRISM_SAFETY_MODEL_DIR`. Unset: the gate runs on
    /// rules, and says so once. Set but unreadable: an error (the operator asked for it).
    pub fn semantic(&self) -> anyhow::Result<Option<Arc<prism_safety_model::Semantic>>> {
        let Some(dir) = &self.safety_model_dir else {
            tracing::warn!(
                "no PRISM_SAFETY_MODEL_DIR: the safety gate runs on its rules alone (scripts/run fetches the model)"
            );
            return Ok(None);
        };
        let semantic = prism_safety_model::Semantic::load(dir)
            .with_context(|| format!("PRISM_SAFETY_MODEL_DIR={}", dir.display()))?;
        tracing::info!("the safety gate's semantic stage is on");
        Ok(Some(Arc::new(semantic)))
    }

    /// The model provider at `PRISM_AI_URL`, if one is configured.
    pub fn model(&self) -> anyhow::Result<Option<prism_ai_gateway::http::HttpProvider>> {
        let Some(url) = &self.ai_url else { return Ok(None) };
        let mut cfg = prism_ai_gateway::http::HttpConfig::new(url.clone(), self.ai_model.clone());
        cfg.api_key = self.ai_api_key.clone();
        Ok(Some(
            prism_ai_gateway::http::HttpProvider::new(cfg).map_err(|e| anyhow::anyhow!("{e}"))?,
        ))
    }

    /// The economy lane's provider: the same endpoint, `PRISM_AI_MODEL_ECONOMY`.
    pub fn economy_model(&self) -> anyhow::Result<Option<prism_ai_gateway::http::HttpProvider>> {
        let (Some(url), Some(model)) = (&self.ai_url, &self.ai_model_economy) else {
            return Ok(None);
        };
        let mut cfg = prism_ai_gateway::http::HttpConfig::new(url.clone(), model.clone());
        cfg.api_key = self.ai_api_key.clone();
        Ok(Some(
            prism_ai_gateway::http::HttpProvider::new(cfg).map_err(|e| anyhow::anyhow!("{e}"))?,
        ))
    }

    /// The mail delivery worker: SMTP when `PRISM_SMTP_URL` is set, `.eml` files otherwise.
    pub fn mail(&self, store: prism_event_store::PgEventStore) -> anyhow::Result<prism_projections::mail::Deliverer> {
        use prism_projections::mail::{FileTransport, MailConfig, SmtpTransport, Transport};
        let transport: Arc<dyn Transport> = match &self.smtp_url {
            Some(url) => Arc::new(SmtpTransport::from_url(url).map_err(|e| anyhow::anyhow!(e))?),
            None => {
                let dir = self.data_dir.join("outbox");
                tracing::info!(dir = %dir.display(), "no PRISM_SMTP_URL: mail is written to files");
                Arc::new(FileTransport::new(dir))
            }
        };
        let vault = prism_vault::Vault::caching(store.pool().clone(), self.master_key.clone());
        let cfg = MailConfig {
            from: self.mail_from.clone(),
            public_url: self.public_url.clone(),
            ..MailConfig::default()
        };
        cfg.check().map_err(|e| anyhow::anyhow!(e))?;
        Ok(prism_projections::mail::Deliverer::new(store, vault, transport, cfg))
    }

    /// The webhook delivery worker.
    pub fn webhooks(
        &self,
        store: prism_event_store::PgEventStore,
    ) -> anyhow::Result<prism_projections::webhooks::WebhookDeliverer> {
        let vault = prism_vault::Vault::caching(store.pool().clone(), self.master_key.clone());
        let cfg = prism_projections::webhooks::WebhookConfig {
            allow_private: self.webhook_allow_private,
            ..Default::default()
        };
        prism_projections::webhooks::WebhookDeliverer::new(store, vault, cfg).map_err(|e| anyhow::anyhow!(e))
    }

    pub fn jwt(&self) -> prism_auth::Jwt {
        prism_auth::Jwt::new(self.jwt_secret.as_bytes(), self.access_ttl)
    }

    /// Connects to Postgres (creating the database if missing), or says clearly why not.
    pub async fn connect(&self) -> anyhow::Result<sqlx::PgPool> {
        let shown = redact(&self.database_url);
        let pool = tokio::time::timeout(
            Duration::from_secs(15),
            prism_event_store::db::connect(&self.database_url, self.db_pool),
        )
        .await
        .map_err(|_| anyhow::anyhow!("timed out connecting to PostgreSQL at {shown} (PRISM_DATABASE_URL)"))?
        .map_err(|e| anyhow::anyhow!("cannot reach PostgreSQL at {shown} (PRISM_DATABASE_URL): {e}"))?;
        Ok(pool)
    }
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).to_vec()
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// A token budget from the environment: unset or empty is no budget.
fn tokens(name: &str) -> anyhow::Result<Option<u64>> {
    match std::env::var(name).ok().filter(|s| !s.trim().is_empty()) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse()
            .map(Some)
            .with_context(|| format!("{name} must be a whole number of tokens")),
    }
}
