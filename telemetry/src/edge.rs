//! The HTTP edge both APIs share: the server loop (hyper, with header and idle timeouts and a
//! graceful drain) and the layers every request passes (request ids, URI and header limits,
//! body and request timeouts, CORS, JSON for protocol-level errors).
//!
//! What a slow or malformed client gets, instead of a held connection or an empty answer:
//! - headers not complete within `header_timeout` (also an idle keep-alive connection waiting
//!   for its next request): the connection is closed;
//! - a body that stalls for `body_timeout` between chunks, or a request that takes longer
//!   than `request_timeout` to be read and answered: 408 `request_timeout`;
//! - a URI over [`MAX_URI`]: 414 `uri_too_long`; headers over [`MAX_HEADERS`]: 431
//!   `headers_too_large` (beyond hyper's own buffer, [`HARD_HEADER_LIMIT`], hyper closes the
//!   connection with a bare 431);
//! - a method a route does not take: 405 `method_not_allowed` with `Allow`.
//!
//! Every one of them in the error JSON, `{"error": {"code", "message"}}`.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The longest URI answered (a path with ids and a query fits many times over).
pub const MAX_URI: usize = 8 * 1024;
/// The most header bytes (names and values) answered.
pub const MAX_HEADERS: usize = 32 * 1024;
/// What hyper buffers for a request head at most; past it hyper closes the connection itself.
pub const HARD_HEADER_LIMIT: usize = 256 * 1024;

/// Timeouts and browser access at the edge.
#[derive(Debug, Clone)]
pub struct EdgeConfig {
    /// Headers must arrive within this (`PRISM_HEADER_TIMEOUT_SECS`, 10); an idle keep-alive
    /// connection is closed after it too.
    pub header_timeout: Duration,
    /// A body may stall at most this long between chunks (`PRISM_BODY_TIMEOUT_SECS`, 10).
    pub body_timeout: Duration,
    /// A request is read and answered within this (`PRISM_REQUEST_TIMEOUT_SECS`, 30); live
    /// streams are exempt.
    pub request_timeout: Duration,
    /// Browser origins allowed to call the APIs (`PRISM_CORS_ORIGINS`, comma-separated; none
    /// by default).
    pub cors_origins: Vec<String>,
}

impl Default for EdgeConfig {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            cors_origins: Vec::new(),
        }
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

/// The layers every request of either API passes, outermost last. `timed` is the part of the
/// router a request timeout applies to (everything but live streams).
/// The outermost layers both APIs share, in one place: metrics per route (`service` names the
/// API), a tracing span per request carrying its method, path and request id, and the request
/// id itself (a client's sanitised, or a new one), echoed on the answer.
pub fn observed<S: Clone + Send + Sync + 'static>(router: Router<S>, service: &'static str) -> Router<S> {
    use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
    router
        .layer(axum::middleware::from_fn_with_state(service, crate::record_metrics))
        .layer(
            tower_http::trace::TraceLayer::new_for_http().make_span_with(move |req: &axum::extract::Request| {
                let request_id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                tracing::info_span!("request", service, method = %req.method(), path = %req.uri().path(), request_id = %request_id)
            }),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(axum::middleware::from_fn(crate::sanitize_request_id))
}

pub fn layers<S: Clone + Send + Sync + 'static>(router: Router<S>, cfg: &EdgeConfig) -> Router<S> {
    let body_timeout = cfg.body_timeout;
    let mut router = router
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(body_timeout))
        .layer(axum::middleware::from_fn(json_for_bare_errors))
        .layer(axum::middleware::from_fn(limit_uri_and_headers));
    if !cfg.cors_origins.is_empty() {
        // `*` alone means any origin (tokens travel in a header, never in cookies); in a list
        // it is ignored.
        let allow = if cfg.cors_origins.iter().all(|o| o == "*") {
            AllowOrigin::any()
        } else {
            AllowOrigin::list(
                cfg.cors_origins
                    .iter()
                    .filter(|o| o.as_str() != "*")
                    .filter_map(|o| HeaderValue::from_str(o).ok())
                    .collect::<Vec<_>>(),
            )
        };
        router = router.layer(
            CorsLayer::new()
                .allow_origin(allow)
                .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
                .allow_headers([
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    header::IF_MATCH,
                    header::HeaderName::from_static("idempotency-key"),
                    header::HeaderName::from_static("x-min-position"),
                    header::HeaderName::from_static("x-request-id"),
                    header::HeaderName::from_static("last-event-id"),
                ])
                .expose_headers([
                    header::RETRY_AFTER,
                    header::HeaderName::from_static("x-request-id"),
                    header::HeaderName::from_static("x-projection-position"),
                ])
                .max_age(Duration::from_secs(600)),
        );
    }
    router
}

/// A request timeout for `router` (408 `request_timeout` in the error JSON).
pub fn timed<S: Clone + Send + Sync + 'static>(router: Router<S>, timeout: Duration) -> Router<S> {
    router.layer(axum::middleware::from_fn(move |req: Request, next: Next| async move {
        match tokio::time::timeout(timeout, next.run(req)).await {
            Ok(res) => res,
            Err(_) => error(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "the request took too long to arrive or to answer",
            ),
        }
    }))
}

async fn limit_uri_and_headers(req: Request, next: Next) -> Response {
    if req.uri().to_string().len() > MAX_URI {
        return error(StatusCode::URI_TOO_LONG, "uri_too_long", "the URI is too long");
    }
    let bytes: usize = req.headers().iter().map(|(k, v)| k.as_str().len() + v.len()).sum();
    if bytes > MAX_HEADERS {
        return error(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            "the request headers are too large",
        );
    }
    next.run(req).await
}

/// Gives an answer the framework made without a body (a 405, a body that timed out) the
/// error JSON.
async fn json_for_bare_errors(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let bare = res
        .headers()
        .get(header::CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes() == b"0")
        || !res.headers().contains_key(header::CONTENT_TYPE);
    let (code, message) = match res.status() {
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "this route does not take that method"),
        StatusCode::REQUEST_TIMEOUT => ("request_timeout", "the request body did not arrive in time"),
        _ => return res,
    };
    if !bare {
        return res;
    }
    let mut out = error(res.status(), code, message);
    if let Some(allow) = res.headers().get(header::ALLOW) {
        out.headers_mut().insert(header::ALLOW, allow.clone());
    }
    out
}

/// Serves `app` on `listener` until `stop` resolves, then drains in-flight requests (for at
/// most `drain`). Each request carries the peer's address (`ConnectInfo<SocketAddr>`).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    cfg: &EdgeConfig,
    stop: impl std::future::Future<Output = ()>,
    drain: Duration,
) -> std::io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    // HTTP/1.1 only (behind a proxy that speaks HTTP/2 to clients): hyper's HTTP/2 server has
    // no header-read timeout, and these APIs gain nothing from it.
    let mut builder = Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Some(cfg.header_timeout))
        .max_buf_size(HARD_HEADER_LIMIT);
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors or memory: wait a little rather than spin. A
                    // client that gave up mid-handshake is no reason to pause everyone.
                    if matches!(e.kind(), std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset) {
                        continue;
                    }
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let app = app.clone();
        let service = tower::ServiceExt::map_request(app, move |mut req: Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            req.map(Body::new)
        });
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service))
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open after the drain period; closing them");
    }
    Ok(())
}

/// Declares, on every operation of an OpenAPI document, the answers the edge may give any
/// request (so generators and fuzzers know them): 408, 414, 431 and 503; with `commands`, also
/// 413 (too large, for the body or the event it makes) and 429 (`rate_limited`). Every
/// operation that takes a bearer may also answer 403 (an API key or an impersonation where it
/// may not act) and 429 (past an API key's allowance).
pub struct EdgeResponses {
    pub commands: bool,
}

impl utoipa::Modify for EdgeResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut answers = vec![
            ("408", "request_timeout: the request did not arrive in time"),
            ("414", "uri_too_long"),
            ("431", "headers_too_large"),
            ("503", "unavailable (a dependency) or busy; see Retry-After"),
        ];
        if self.commands {
            answers.push((
                "413",
                "payload_too_large (the body) or event_too_large (what it would record)",
            ));
            answers.push(("429", "rate_limited (or a quota); see Retry-After"));
        }
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                let public = op.security.as_ref().is_some_and(|s| {
                    s.iter()
                        .all(|r| *r == utoipa::openapi::security::SecurityRequirement::default())
                });
                let bearer: &[(&str, &str)] = if public {
                    &[]
                } else {
                    &[
                        (
                            "403",
                            "forbidden; or api_key_not_allowed, insufficient_scope (an API key), impersonation_not_allowed",
                        ),
                        ("429", "rate_limited (an API key's allowance); see Retry-After"),
                    ]
                };
                for (status, description) in answers.iter().chain(bearer) {
                    op.responses
                        .responses
                        .entry((*status).to_owned())
                        .or_insert_with(|| utoipa::openapi::ResponseBuilder::new().description(*description).into());
                }
            }
        }
    }
}

/// The `bearer` security scheme both APIs take: an access token (JWT), or a workspace's API key
/// (`prism_…`).
pub struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT or prism_ API key")
                    .description(Some(
                        "An access token (from sign-in), or a workspace's API key `prism_…` (its scopes and workspace limit what it may do)",
                    ))
                    .build(),
            ),
        );
    }
}
