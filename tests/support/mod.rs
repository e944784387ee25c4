//! What the end-to-end tests share.

use axum::body::Body;
use axum::http::{Method, Request};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// One request to an in-process router: the status and the JSON answer (`Null` when none).
pub async fn call(
    app: &axum::Router,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = req
        .body(body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty))
        .expect("request");
    let res = app.clone().oneshot(req).await.expect("infallible");
    let status = res.status().as_u16();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Registers `email` (password `correct horse battery`, name Ann) on a write API: its answer
/// (`access_token`, `refresh_token`, `user_id`).
#[allow(dead_code)]
pub async fn register(write: &axum::Router, email: &str) -> Value {
    let (s, b) = call(
        write,
        Method::POST,
        "/v1/auth/register",
        None,
        Some(serde_json::json!({"email": email, "password": "correct horse battery", "name": "Ann"})),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    b
}

/// The relational read models, caught up with the log (no bus needed: from Postgres).
#[allow(dead_code)]
pub async fn project_read_models(store: &prism_event_store::PgEventStore) {
    project(store, prism_projections::read_models::ReadModels).await;
}

/// A projection, caught up with the log (no bus needed: from Postgres).
#[allow(dead_code)]
pub async fn project(
    store: &prism_event_store::PgEventStore,
    projection: impl prism_projections::Projection + 'static,
) {
    let cfg = prism_projections::ProjectorConfig::new(std::sync::Arc::new(prism_bus::local::LocalBus::new()), 256);
    prism_projections::Projector::new(store.clone(), std::sync::Arc::new(projection), cfg)
        .catch_up()
        .await
        .expect("projection");
}
