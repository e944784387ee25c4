//! Sign-in, refresh and sign-out, forwarded to the write API (which owns sessions), so the page
//! talks to one origin. Bodies are passed on as they came, bounded; answers come back as the
//! write API gave them.
//!
//! The write API limits sign-ins per client address. When it runs in this process (`prism
//! serve`), the console calls its router directly with the browser's own socket address as the
//! connection's: each browser is counted as itself and no header is believed. A separate write
//! node is called over HTTP with the browser's address in `X-Forwarded-For`, which the write
//! API believes only when this node is among its `PRISM_TRUSTED_PROXIES`; otherwise console
//! sign-ins share this node's allowance (and each account's own limit still holds).

use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::Console;

/// The largest sign-in body forwarded (an email, a password, a token).
const MAX_BODY: usize = 4096;

#[derive(Clone)]
pub(super) struct Forward {
    write_url: Option<String>,
    /// The write API in this process, called without a socket in between.
    local: Option<axum::Router>,
    http: reqwest::Client,
}

/// The largest answer relayed from an in-process write API (a session's tokens, an error).
const MAX_ANSWER: usize = 64 * 1024;

impl Forward {
    pub fn new(write_url: Option<String>, local: Option<axum::Router>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            write_url: write_url.map(|u| u.trim_end_matches('/').to_owned()),
            local,
            http,
        }
    }
}

fn refused(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(json!({"error": {"code": code, "message": message}}))).into_response()
}

/// `POST /console/auth/{login|refresh|logout}` → the write API's `/v1/auth/{action}`.
pub(super) async fn forward(State(c): State<Console>, Path(action): Path<String>, req: Request) -> Response {
    if !matches!(action.as_str(), "login" | "refresh" | "logout") {
        return refused(StatusCode::NOT_FOUND, "not_found", "no such route");
    }
    // JSON only, as the write API itself requires: a cross-site form cannot drive sign-in.
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return refused(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as application/json",
        );
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the body is too large",
        );
    }
    let peer = req.extensions().get::<ConnectInfo<std::net::SocketAddr>>().map(|c| c.0);
    let headers = req.headers().clone();
    let Ok(body) = axum::body::to_bytes(req.into_body(), MAX_BODY).await else {
        return refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the body is too large",
        );
    };
    if let Some(local) = &c.auth.local {
        return in_process(local.clone(), &action, peer, &headers, body).await;
    }
    let Some(base) = &c.auth.write_url else {
        return refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "this node does not know the write API (PRISM_WRITE_URL)",
        );
    };
    let mut req = c
        .auth
        .http
        .post(format!("{base}/v1/auth/{action}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(body);
    if let Some(addr) = peer {
        req = req.header("x-forwarded-for", addr.ip().to_string());
    }
    if let Some(agent) = headers.get(header::USER_AGENT) {
        req = req.header(header::USER_AGENT, agent.clone());
    }
    match req.send().await {
        Ok(res) => {
            let status = StatusCode::from_u16(res.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let retry = res.headers().get(header::RETRY_AFTER).cloned();
            let bytes = res.bytes().await.unwrap_or_default();
            let mut out = (status, bytes).into_response();
            out.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/json"),
            );
            if let Some(r) = retry {
                out.headers_mut().insert(header::RETRY_AFTER, r);
            }
            out
        }
        Err(e) => {
            tracing::warn!(error = %e, "the console could not reach the write API");
            refused(StatusCode::BAD_GATEWAY, "unavailable", "the write API did not answer")
        }
    }
}

/// The write API's answer from its router in this process, the browser's address as the
/// connection's own.
async fn in_process(
    write: axum::Router,
    action: &str,
    peer: Option<std::net::SocketAddr>,
    headers: &header::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    use tower::ServiceExt;
    let mut inner = axum::http::Request::post(format!("/v1/auth/{action}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, body.len());
    // Behind a proxy the socket's peer is the proxy: its header goes on, and the write API
    // believes it only from its trusted proxies, as for any request.
    for name in [header::USER_AGENT, header::HeaderName::from_static("x-forwarded-for")] {
        for v in headers.get_all(&name) {
            inner = inner.header(name.clone(), v.clone());
        }
    }
    let Ok(mut inner) = inner.body(axum::body::Body::from(body)) else {
        return refused(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the request could not be forwarded",
        );
    };
    if let Some(addr) = peer {
        inner.extensions_mut().insert(ConnectInfo(addr));
    }
    let Ok(res) = write.oneshot(inner).await;
    let (parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ANSWER).await else {
        return refused(
            StatusCode::BAD_GATEWAY,
            "unavailable",
            "the write API's answer was too large",
        );
    };
    let mut out = (parts.status, bytes).into_response();
    for name in [header::CONTENT_TYPE, header::RETRY_AFTER] {
        if let Some(v) = parts.headers.get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}
