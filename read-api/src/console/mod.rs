//! The web console at `/console`, for auditors and workspace admins: an event timeline that
//! follows the head of the log, an aggregate inspector (events, state at a position, the
//! difference between two positions), audit verification, the projections' progress and
//! search.
//!
//! **One authorization.** The console has no queries of its own: every fragment it renders is
//! the answer of a call to the read API's own router, made in process with the caller's
//! `Authorization` header ([`api::Api`]). So it can show a member only what the API would show
//! them, with the same redactions, the same 403s and 404s — there is no second policy to keep
//! in step.
//!
//! **Sessions.** The page keeps the access token in `sessionStorage` and sends it as a bearer
//! header on each fragment request, like any other client. There is no cookie, so there is no
//! cross-site request to forge. Signing in, refreshing and signing out are forwarded to the
//! write API ([`auth`]), so the browser talks to one origin and needs no CORS.
//!
//! **No build step.** Pages are maud templates compiled into the binary; the one script and
//! the one stylesheet are embedded with `include_str!`. Every answer carries a strict
//! Content-Security-Policy: scripts and styles from this origin only, nothing inline, no
//! frames, no forms posted anywhere.

mod api;
mod auth;
mod page;
mod views;

use std::sync::Arc;

use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use crate::AppState;

/// What the console's handlers share: the API they render, and where sign-in goes.
#[derive(Clone)]
pub struct Console {
    api: api::Api,
    auth: auth::Forward,
    samples: Arc<views::Samples>,
}

/// The console's routes, to be nested at `/console`. `api` is the read API's router (with its
/// state, without the edge layers the console's own requests already went through).
pub fn routes(api: Router, state: &AppState) -> Router {
    let console = Console {
        api: api::Api::new(api, state.clone()),
        auth: auth::Forward::new(state.write_url.clone(), state.write_app.clone()),
        samples: Arc::default(),
    };
    let router = Router::new()
        .route("/", get(page::shell))
        .route("/console.js", get(page::script))
        .route("/console.css", get(page::style))
        .route("/auth/{action}", post(auth::forward))
        .route("/me", get(views::me))
        .route("/timeline", get(views::timeline))
        .route("/inspect", get(views::inspect))
        .route("/verify", get(views::verify))
        .route("/projections", get(views::projections))
        .route("/search", get(views::search))
        .fallback(crate::routes::ops::fallback);
    // The same bound on a whole request as the API's own routes (a sign-in trickled byte by
    // byte, a timeline of many pages).
    prism_telemetry::edge::timed(router, state.edge.request_timeout).with_state(console)
}

/// The console's answers, all of them — the edge's own refusals (405, 408, 413, 414, 431)
/// under `/console` too, so this layer goes outside the edge's: this origin's scripts and
/// styles only, nothing inline (a fragment that somehow held markup could not run it), no
/// framing, no referrer, nothing cached.
pub async fn secured(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";
    let path = req.uri().path();
    let console = path == "/console" || path.starts_with("/console/");
    let mut res = next.run(req).await;
    if console {
        let h = res.headers_mut();
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
        h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}
