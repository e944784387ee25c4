//! The read API: an axum router for queries over the projections (`pub fn app(state)`).
//!
//! It owns HTTP concerns of the read side: routes (one file per group in `routes/`), the same
//! JWT verification as the write API, tenant filtering on every query (a non-member gets 404,
//! never data), cursor pagination, and read-your-writes ([`consistency`]). Handlers speak the
//! domain's types: the caller is a `UserId`, path ids are typed (`WorkspaceId`, `DocId`…) and
//! roles are `Role`, down to the read-model queries they call.
//!
//! It may import `prism-projections` (the queries over the tables it reads, each next to the code
//! that writes that table: `read_models::messages::page`, `audit::trail`, `spectrum::buckets`…;
//! the read API holds no SQL but the read-only export of the command side's metering ledgers,
//! see `routes::export`), `prism-domain`, `prism-auth` (the
//! same bearer verification as the write API), `prism-vault` (to open sealed names for the
//! caller), `prism-telemetry` (the one HTTP edge both APIs share) and `prism-ai-gateway` (only
//! its built-in texts, for an insight or affirmation not written yet); never `prism-commands`.

pub mod consistency;
pub mod console;
pub mod error;
pub mod extract;
pub mod presence;
pub mod replica;
pub mod routes;

/// The read API's OpenAPI document, served at `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Prism read API",
        version = "1",
        description = "Queries over the projections. Every read honours X-Min-Position (or ?min_position) and answers X-Projection-Position."
    ),
    paths(
        routes::me::me,
        routes::me::sessions,
        routes::me::impersonations,
        routes::workspaces::invitations,
        routes::workspaces::api_keys,
        routes::workspaces::webhooks,
        routes::workspaces::deliveries,
        routes::workspaces::list,
        routes::workspaces::get,
        routes::workspaces::members,
        routes::workspaces::channels,
        routes::workspaces::channel,
        routes::inbox::list,
        routes::files::download,
        routes::files::meta,
        routes::inbox::unread_counts,
        routes::inbox::conversations,
        routes::messages::list,
        routes::messages::get,
        routes::docs::list,
        routes::docs::get,
        routes::docs::history,
        routes::stream::stream,
        routes::search::search,
        routes::audit::workspace,
        routes::audit::verify,
        routes::audit::platform,
        routes::history::events,
        routes::history::aggregate_events,
        routes::history::state,
        routes::reflection::sessions,
        routes::reflection::session,
        routes::reflection::turns,
        routes::reflection::turn,
        routes::reflection::goals,
        routes::reflection::affirmation,
        routes::export::export,
        routes::spectrum::weekly,
        routes::spectrum::monthly,
        routes::spectrum::workspace_weekly,
    ),
    modifiers(&BearerAuth, &EDGE),
    security(("bearer" = []))
)]
pub struct ReadApiDoc;

/// The read API's contract as served: the generated document with the conventions every
/// operation follows (`prism_telemetry::contract`).
pub fn openapi_json() -> serde_json::Value {
    static DOC: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        let doc = serde_json::to_value(<ReadApiDoc as utoipa::OpenApi>::openapi()).unwrap_or_default();
        prism_telemetry::contract::finish(doc, prism_telemetry::contract::Api::Read)
    })
    .clone()
}

use prism_telemetry::edge::{BearerAuth, EdgeResponses};

/// What the edge may answer any read (408, 414, 431, 503).
const EDGE: EdgeResponses = EdgeResponses { commands: false };

use std::time::Duration;

use axum::middleware;
use axum::routing::get;
use axum::Router;
use prism_auth::Jwt;
use sqlx::PgPool;

/// The read API's state: cloned by every extractor of every request, so it is one `Arc` (a
/// profile showed cloning and dropping its fields — keys, pools, caches — at 8% of a read).
#[derive(Clone)]
pub struct AppState(std::sync::Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

#[derive(Clone)]
pub struct Shared {
    /// Renders `/metrics`; the process's recorder (shared with the write API in `prism serve`).
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// The primary: what writes, the log, readiness and the vault's keys. Reads go to
    /// [`Shared::reads`].
    pub pool: PgPool,
    /// A streaming replica for the reads, if one is configured ([`replica`]).
    pub replica: Option<std::sync::Arc<replica::Replica>>,
    pub feed: prism_projections::feed::Feed,
    pub jwt: Jwt,
    /// How long a read may wait for `X-Min-Position`.
    pub max_wait: Duration,
    /// The log, for auditors (history, verification).
    pub history: prism_projections::history::History,
    /// This node's hot pages (first pages and access answers kept current by the bus), if it
    /// keeps them.
    pub hot: Option<prism_projections::read_models::hot::HotPages>,
    /// This node's search index, if it keeps one.
    pub search: Option<std::sync::Arc<prism_projections::search::SearchIndex>>,
    /// Opens sealed journal text with its owner's key (no key cache: an erasure shows at once).
    pub vault: prism_vault::Vault,
    position_cache: PositionCache,
    /// Read-your-writes waiters share one reader of the positions per node.
    positions: std::sync::Arc<consistency::Positions>,
    /// Sessions whose tokens are refused, kept current from the log.
    pub revocations: prism_auth::Revocations,
    /// API keys, kept current from the log, each with its own allowance.
    pub keys: prism_auth::ApiKeys,
    /// When this node last recorded each key's use (a write at most once a minute per key).
    key_uses: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<uuid::Uuid, std::time::Instant>>>,
    /// Timeouts and browser access at the edge.
    pub edge: prism_telemetry::edge::EdgeConfig,
    /// Where uploaded files' bytes are (none: downloads answer 503).
    pub blobs: Option<prism_blobs::Blobs>,
    /// Who is online where (told between nodes on the bus).
    pub presence: presence::Presence,
    /// The write API's base URL, where the console forwards sign-in (`PRISM_WRITE_URL`).
    pub write_url: Option<String>,
    /// The write API itself, when it runs in this process: the console calls it directly.
    pub write_app: Option<axum::Router>,
}

pub(crate) type PositionCache =
    std::sync::Arc<std::collections::HashMap<consistency::Source, consistency::CachedPosition>>;

impl Shared {
    /// Where reads go: the replica while it answers, else the primary (a handle: cheap).
    pub fn reads(&self) -> PgPool {
        self.replica
            .as_ref()
            .and_then(|r| r.pool())
            .unwrap_or_else(|| self.pool.clone())
    }
}

impl AppState {
    /// Reads go to the replica at `pool` while it answers (`PRISM_READ_DATABASE_URL`); watched
    /// from now on.
    pub fn with_replica(mut self, pool: PgPool) -> Self {
        let replica = replica::Replica::new(pool);
        replica.watch(self.pool.clone());
        std::sync::Arc::make_mut(&mut self.0).replica = Some(replica);
        self
    }

    /// How long a read may wait for `X-Min-Position`.
    pub fn with_max_wait(mut self, d: Duration) -> Self {
        std::sync::Arc::make_mut(&mut self.0).max_wait = d;
        self
    }

    pub fn with_metrics(mut self, handle: metrics_exporter_prometheus::PrometheusHandle) -> Self {
        std::sync::Arc::make_mut(&mut self.0).metrics = Some(handle);
        self
    }

    /// Presence told over the deployment's bus (one process alone needs none).
    pub fn with_presence(mut self, presence: presence::Presence) -> Self {
        std::sync::Arc::make_mut(&mut self.0).presence = presence;
        self
    }

    /// Where uploaded files' bytes are.
    pub fn with_blobs(mut self, blobs: prism_blobs::Blobs) -> Self {
        std::sync::Arc::make_mut(&mut self.0).blobs = Some(blobs);
        self
    }

    /// The master key (`PRISM_MASTER_KEY`) that unwraps users' data keys.
    pub fn with_master_key(mut self, key: prism_vault::MasterKey) -> Self {
        std::sync::Arc::make_mut(&mut self.0).vault = prism_vault::Vault::new(self.pool.clone(), key);
        self
    }

    /// Each API key's allowance on this node: `requests` per `per`.
    pub fn with_api_key_quota(mut self, requests: u32, per: Duration) -> Self {
        let shared = std::sync::Arc::make_mut(&mut self.0);
        shared.keys = shared.keys.clone().with_quota(requests, per);
        self
    }

    /// Records that an API key read (its `last_used_at`), at most once a minute per key, in
    /// the background: a read never waits for it.
    pub(crate) fn key_used(&self, key: uuid::Uuid) {
        const EVERY: Duration = Duration::from_secs(60);
        {
            let mut uses = self.key_uses.lock().unwrap_or_else(|e| e.into_inner());
            let now = std::time::Instant::now();
            if uses.get(&key).is_some_and(|at| now.duration_since(*at) < EVERY) {
                return;
            }
            if uses.len() > 10_000 {
                uses.retain(|_, at| now.duration_since(*at) < EVERY);
            }
            uses.insert(key, now);
        }
        let pool = self.pool.clone();
        tokio::spawn(async move {
            if let Err(e) = prism_projections::read_models::api_keys::used(&pool, key).await {
                tracing::warn!(error = %e, "recording an API key's use failed");
            }
        });
    }

    /// Where the console forwards sign-in, refresh and sign-out: the write API's base URL.
    pub fn with_write_url(mut self, url: impl Into<String>) -> Self {
        std::sync::Arc::make_mut(&mut self.0).write_url = Some(url.into());
        self
    }

    /// The write API's router, when it runs in this process (`prism serve`): the console's
    /// sign-in goes to it in process, carrying the browser's own socket address, so the write
    /// API's per-address limits count each browser without believing any header, and no
    /// proxy setting is needed. Preferred over [`with_write_url`](Self::with_write_url).
    pub fn with_write_app(mut self, app: axum::Router) -> Self {
        std::sync::Arc::make_mut(&mut self.0).write_app = Some(app);
        self
    }

    pub fn with_edge(mut self, edge: prism_telemetry::edge::EdgeConfig) -> Self {
        std::sync::Arc::make_mut(&mut self.0).edge = edge;
        self
    }

    /// The live feed (its stream limits); one per node.
    pub fn with_feed(mut self, feed: prism_projections::feed::Feed) -> Self {
        std::sync::Arc::make_mut(&mut self.0).feed = feed;
        self
    }

    pub fn with_hot_pages(mut self, hot: prism_projections::read_models::hot::HotPages) -> Self {
        std::sync::Arc::make_mut(&mut self.0).hot = Some(hot);
        self
    }

    pub fn with_search(mut self, index: std::sync::Arc<prism_projections::search::SearchIndex>) -> Self {
        std::sync::Arc::make_mut(&mut self.0).search = Some(index);
        self
    }

    pub fn new(pool: PgPool, jwt: Jwt) -> Self {
        let history = prism_projections::history::History::from_pool(pool.clone());
        let revocations = prism_auth::Revocations::new(jwt.ttl());
        let h = history.clone();
        revocations.keep_current(move |after, recent| {
            let h = h.clone();
            async move {
                let (events, upto) = h
                    .store()
                    .revoking_events(after, recent)
                    .await
                    .map_err(|e| e.to_string())?;
                let found = events
                    .iter()
                    .filter_map(|e| {
                        prism_auth::Revocation::from_event(
                            &e.event_type,
                            e.aggregate_id,
                            &e.payload,
                            e.recorded_at.timestamp(),
                        )
                    })
                    .collect::<Vec<_>>();
                Ok::<_, String>((found, upto))
            }
        });
        let h = history.clone();
        let (n, per) = prism_auth::API_KEY_QUOTA;
        let keys = prism_auth::ApiKeys::new(n, per).following(move |after| {
            let h = h.clone();
            async move {
                let (events, upto) = h.store().api_key_events(after).await.map_err(|e| e.to_string())?;
                let found = events
                    .iter()
                    .filter_map(|e| prism_auth::KeyChange::from_event(&e.event_type, e.tenant_id, &e.payload))
                    .collect();
                Ok((found, upto))
            }
        });
        Self(std::sync::Arc::new(Shared {
            edge: Default::default(),
            write_url: None,
            write_app: None,
            blobs: None,
            presence: presence::Presence::local(),
            revocations,
            keys,
            key_uses: Default::default(),
            metrics: None,
            history,
            search: None,
            hot: None,
            vault: prism_vault::Vault::new(pool.clone(), prism_vault::MasterKey::development()),
            feed: prism_projections::feed::Feed::new(pool.clone()),
            pool,
            replica: None,
            jwt,
            max_wait: Duration::from_secs(2),
            position_cache: consistency::position_cache(),
            positions: Default::default(),
        }))
    }
}

pub fn app(state: AppState) -> Router {
    use consistency::Source;
    use routes::*;
    // What each route reads, declared with the routes: the position a read waits for
    // (`X-Min-Position`) is that source's.
    let read_models = Router::new()
        .route("/v1/me", get(me::me))
        .route("/v1/me/sessions", get(me::sessions))
        .route("/v1/me/impersonations", get(me::impersonations))
        .route("/v1/workspaces/{id}/invitations", get(workspaces::invitations))
        .route("/v1/workspaces/{id}/api-keys", get(workspaces::api_keys))
        .route("/v1/workspaces", get(workspaces::list))
        .route("/v1/workspaces/{id}", get(workspaces::get))
        .route("/v1/workspaces/{id}/members", get(workspaces::members))
        .route("/v1/workspaces/{id}/channels", get(workspaces::channels))
        .route("/v1/workspaces/{id}/docs", get(docs::list))
        .route("/v1/channels/{id}", get(workspaces::channel))
        .route("/v1/channels/{id}/messages", get(messages::list))
        .route("/v1/files/{id}", get(files::download))
        .route("/v1/files/{id}/meta", get(files::meta))
        .route("/v1/notifications", get(inbox::list))
        .route("/v1/notifications/unread-counts", get(inbox::unread_counts))
        .route("/v1/conversations", get(inbox::conversations))
        .route("/v1/messages/{id}", get(messages::get))
        .route("/v1/docs/{id}", get(docs::get))
        .route("/v1/docs/{id}/history", get(docs::history))
        .route("/v1/mirror/sessions", get(reflection::sessions))
        .route("/v1/mirror/sessions/{id}", get(reflection::session))
        .route("/v1/turns", get(reflection::turns))
        .route("/v1/turns/{id}", get(reflection::turn))
        .route("/v1/lens/goals", get(reflection::goals))
        .route("/v1/lens/affirmation/today", get(reflection::affirmation))
        .route("/v1/me/export", get(export::export));
    let search = Router::new().route("/v1/search", get(search::search));
    let webhooks = Router::new()
        .route("/v1/workspaces/{id}/webhooks", get(workspaces::webhooks))
        .route("/v1/webhooks/{id}/deliveries", get(workspaces::deliveries));
    let audit = Router::new()
        .route("/v1/audit", get(audit::platform))
        .route("/v1/workspaces/{id}/audit", get(audit::workspace));
    let log = Router::new()
        .route("/v1/workspaces/{id}/audit/verify", get(audit::verify))
        .route("/v1/events", get(history::events))
        .route("/v1/aggregates/{type}/{id}/events", get(history::aggregate_events))
        .route("/v1/aggregates/{type}/{id}/state", get(history::state));
    let spectrum = Router::new()
        .route("/v1/spectrum/weekly", get(spectrum::weekly))
        .route("/v1/spectrum/monthly", get(spectrum::monthly))
        .route("/v1/workspaces/{id}/spectrum/weekly", get(spectrum::workspace_weekly));
    let reads = |router: Router<AppState>, source: Source| {
        router.layer(middleware::from_fn_with_state(
            (state.clone(), source),
            consistency::consistency,
        ))
    };
    let v1 = Router::new()
        .merge(reads(
            read_models,
            Source::Projection(prism_projections::read_models::NAME),
        ))
        .merge(reads(search, Source::Search))
        .merge(reads(audit, Source::Projection(prism_projections::audit::NAME)))
        .merge(reads(log, Source::Log))
        .merge(reads(spectrum, Source::Projection(prism_projections::spectrum::NAME)))
        .merge(reads(webhooks, Source::Projection(prism_projections::webhooks::NAME)));
    let v1 = prism_telemetry::edge::timed(v1, state.edge.request_timeout)
        // Neither behind the consistency layer (a stream has no single position to wait for)
        // nor under the request timeout (it lives as long as the client listens).
        .route("/v1/workspaces/{id}/stream", get(stream::stream));
    let router = Router::new()
        .merge(v1)
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .fallback(ops::fallback)
        .with_state(state.clone());
    // The console renders the API's own answers: it calls this router, inside the edge layers
    // its own requests went through.
    let router = router.clone().nest_service("/console", console::routes(router, &state));
    let router = prism_telemetry::edge::layers(router, &state.edge).layer(axum::middleware::from_fn(console::secured));
    prism_telemetry::edge::observed(router, "read-api")
}
