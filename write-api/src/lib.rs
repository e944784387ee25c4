//! The write API: an axum router for commands and authentication (`pub fn app(state)`).
//!
//! It owns HTTP concerns only: routes (one file per group in `routes/`), extractors that turn
//! malformed input into 400/413/415 answers, the one error → status mapping (`error.rs`),
//! request ids and tracing spans, metrics, and the OpenAPI document. Every decision is made by
//! `prism-commands`.
//!
//! It may import `prism-commands`, `prism-domain`, `prism-auth` and `prism-telemetry` (the one
//! HTTP edge both APIs share); never a projection.

pub mod answer;
pub mod error;
pub mod extract;
pub mod limits;
pub mod openapi;
pub mod routes;

use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware;
use axum::routing::{delete, get, patch, post};
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use prism_auth::Jwt;
use prism_commands::Commands;

/// The largest request body accepted (a 40,000-character message fits many times over).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// What handlers share: one allocation behind an `Arc`. Axum hands every extractor and
/// middleware its own copy of the state for every request; cloning the fields themselves
/// (the commands' pools and caches, the JWT keys, the limits' tables) was 4–5 % of the write
/// API's CPU under load, with as much again in the allocator and the drops (`perf`).
#[derive(Clone)]
pub struct AppState(std::sync::Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The state's contents ([`AppState`] derefs to it).
#[derive(Clone)]
pub struct Shared {
    pub commands: Commands,
    pub jwt: Jwt,
    pub metrics: PrometheusHandle,
    /// Sessions whose tokens are refused, kept current from the log.
    pub revocations: prism_auth::Revocations,
    /// API keys, kept current from the log, each with its own allowance.
    pub keys: prism_auth::ApiKeys,
    /// This node's rate limits.
    pub limits: limits::Limits,
    /// Where dead webhook deliveries are replayed (wired by the binary).
    pub dead_letters: Option<std::sync::Arc<dyn routes::webhooks::DeadLetters>>,
    /// Timeouts and browser access at the edge.
    pub edge: prism_telemetry::edge::EdgeConfig,
    /// The largest file an upload takes (`PRISM_MAX_UPLOAD_BYTES`).
    pub max_upload: u64,
}

impl AppState {
    pub fn new(commands: Commands) -> Self {
        let jwt = commands.jwt().clone();
        let revocations = prism_auth::Revocations::new(jwt.ttl());
        let c = commands.clone();
        revocations.keep_current(move |after, recent| {
            let c = c.clone();
            async move { c.revocations(after, recent).await }
        });
        let c = commands.clone();
        let (n, per) = prism_auth::API_KEY_QUOTA;
        let keys = prism_auth::ApiKeys::new(n, per).following(move |after| {
            let c = c.clone();
            async move { c.api_key_changes(after).await.map_err(|e| e.to_string()) }
        });
        Self(std::sync::Arc::new(Shared {
            commands,
            jwt,
            metrics: prism_telemetry::metrics_handle(),
            revocations,
            keys,
            dead_letters: None,
            limits: limits::Limits::default(),
            edge: Default::default(),
            max_upload: DEFAULT_MAX_UPLOAD,
        }))
    }

    fn shared(&mut self) -> &mut Shared {
        std::sync::Arc::make_mut(&mut self.0)
    }

    pub fn with_edge(mut self, edge: prism_telemetry::edge::EdgeConfig) -> Self {
        self.shared().edge = edge;
        self
    }

    /// The delivery worker's dead letters, for the replay routes.
    pub fn with_dead_letters(mut self, dead: std::sync::Arc<dyn routes::webhooks::DeadLetters>) -> Self {
        self.shared().dead_letters = Some(dead);
        self
    }

    /// The largest file an upload takes.
    pub fn with_max_upload(mut self, bytes: u64) -> Self {
        self.shared().max_upload = bytes;
        self
    }

    /// These limits, the per-key one (`api_key`) included.
    pub fn with_limits(mut self, limits: limits::Limits) -> Self {
        let (n, per) = limits.quota(limits::Limit::ApiKey);
        let shared = self.shared();
        shared.keys = shared.keys.clone().with_quota(n, per);
        shared.limits = limits;
        self
    }
}

/// A body announced larger than [`BODY_LIMIT`] is refused before a byte of it is read (and
/// before the client can make the node wait for it).
async fn refuse_announced_oversize(req: Request, next: middleware::Next) -> axum::response::Response {
    let announced = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // An upload has its own, larger limit (`routes::files`), checked as it streams.
    let upload = req.method() == axum::http::Method::POST && req.uri().path().ends_with("/files");
    if announced.is_some_and(|n| n > BODY_LIMIT as u64) && !upload {
        return axum::response::IntoResponse::into_response(error::ApiError::TooLarge);
    }
    next.run(req).await
}

/// The largest upload unless configured: 25 MiB.
pub const DEFAULT_MAX_UPLOAD: u64 = 25 * 1024 * 1024;

/// The write API's router.
pub fn app(state: AppState) -> Router {
    use routes::*;
    let v1 = Router::new()
        .route("/v1/auth/register", post(auth::register))
        .route("/v1/auth/login", post(auth::login))
        .route("/v1/auth/refresh", post(auth::refresh))
        .route("/v1/auth/logout", post(auth::logout))
        .route("/v1/auth/password-reset", post(auth::password_reset))
        .route("/v1/auth/password", post(auth::change_password))
        .route("/v1/me/sessions/{id}", delete(me::end_session))
        .route("/v1/auth/password-reset/confirm", post(auth::password_reset_confirm))
        .route("/v1/auth/verify-email", post(auth::verify_email))
        .route("/v1/workspaces", post(workspaces::create))
        .route(
            "/v1/workspaces/{id}",
            patch(workspaces::rename).delete(workspaces::delete),
        )
        .route("/v1/workspaces/{id}/join", post(workspaces::join))
        .route("/v1/workspaces/{id}/invitations", post(invitations::invite))
        .route("/v1/invitations/accept", post(invitations::accept))
        .route("/v1/invitations/{id}", delete(invitations::revoke))
        .route("/v1/workspaces/{id}/api-keys", post(api_keys::create))
        .route("/v1/api-keys/{id}", delete(api_keys::revoke))
        .route("/v1/workspaces/{id}/webhooks", post(webhooks::create))
        .route("/v1/webhooks/{id}", patch(webhooks::update).delete(webhooks::delete))
        .route("/v1/webhooks/{id}/rotate-secret", post(webhooks::rotate_secret))
        .route(
            "/v1/webhooks/{id}/deliveries/{delivery_id}/replay",
            post(webhooks::replay_one),
        )
        .route("/v1/webhooks/{id}/replay-dead", post(webhooks::replay_dead))
        .route("/v1/admin/impersonations", post(admin::start))
        .route("/v1/admin/impersonations/{id}", delete(admin::end))
        .route("/v1/workspaces/{id}/join-code", post(workspaces::rotate_join_code))
        .route(
            "/v1/workspaces/{id}/members/{user_id}",
            patch(members::change_role).delete(members::remove),
        )
        .route("/v1/workspaces/{id}/channels", post(channels::create))
        .route("/v1/channels/{id}", patch(channels::rename).delete(channels::delete))
        .route("/v1/channels/{id}/messages", post(messages::post))
        .route("/v1/messages/{id}", patch(messages::edit).delete(messages::delete))
        .route("/v1/messages/{id}/reactions", post(messages::react))
        .route("/v1/workspaces/{id}/conversations", post(conversations::start))
        .route("/v1/workspaces/{id}/docs", post(docs::create))
        .route(
            "/v1/workspaces/{id}/files",
            // The multipart envelope around the file is small: 64 KiB of slack.
            post(files::upload).layer(DefaultBodyLimit::max(
                usize::try_from(state.max_upload)
                    .unwrap_or(usize::MAX)
                    .saturating_add(64 * 1024),
            )),
        )
        .route("/v1/docs/{id}", patch(docs::update).delete(docs::delete))
        .route("/v1/docs/{id}/archive", post(docs::archive))
        .route("/v1/docs/{id}/restore", post(docs::restore))
        .route("/v1/turns", post(turns::request))
        .route("/v1/turns/{id}/save", post(turns::save))
        .route("/v1/mirror/sessions", post(mirror::start))
        .route("/v1/mirror/sessions/{id}", delete(mirror::delete))
        .route("/v1/mirror/sessions/{id}/messages", post(mirror::message))
        .route("/v1/mirror/sessions/{id}/close", post(mirror::close))
        .route("/v1/mirror/fragments/{id}/reframe", post(mirror::reframe))
        .route("/v1/lens/goals", post(lens::create_goal))
        .route("/v1/lens/goals/{id}/actions", post(lens::add_action))
        .route("/v1/lens/actions/{id}/complete", post(lens::complete_action))
        .route("/v1/spectrum/exclusions", post(me::exclude))
        .route("/v1/spectrum/reset", post(me::reset))
        .route("/v1/notifications/read", post(me::read_notifications))
        .route("/v1/me", delete(me::erase).patch(me::rename));
    let v1 = prism_telemetry::edge::timed(v1, state.edge.request_timeout);
    let router = Router::new()
        .merge(v1)
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .fallback(ops::fallback);
    let router = prism_telemetry::edge::layers(router, &state.edge)
        .layer(middleware::from_fn(refuse_announced_oversize))
        .layer(DefaultBodyLimit::max(BODY_LIMIT));
    prism_telemetry::edge::observed(router, "write-api").with_state(state)
}
