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

/// Polls (for at most five seconds) until `token` is refused with 401 by both APIs — a POST of
/// `body` to `write_path` and a GET of `read_path` — and answers both error codes.
#[allow(dead_code)]
pub async fn until_refused(
    write: &axum::Router,
    read: &axum::Router,
    token: &str,
    (write_path, body): (&str, Value),
    read_path: &str,
) -> (String, String) {
    let started = std::time::Instant::now();
    loop {
        let (ws, wb) = call(write, Method::POST, write_path, Some(token), Some(body.clone())).await;
        let (rs, rb) = call(read, Method::GET, read_path, Some(token), None).await;
        if ws == 401 && rs == 401 {
            let code = |b: &Value| b["error"]["code"].as_str().unwrap_or_default().to_owned();
            return (code(&wb), code(&rb));
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "still accepted: {ws} {wb} {rs} {rb}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
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

/// Someone registered for a test: tokens, id and address.
#[allow(dead_code)]
#[derive(Clone, Debug)]
pub struct Person {
    pub token: String,
    pub refresh: String,
    pub id: String,
    pub email: String,
}

/// Registers a person called `name` (a unique address derived from it) on a write API.
#[allow(dead_code)]
pub async fn person(write: &axum::Router, name: &str) -> Person {
    let email = format!(
        "{}{}@example.com",
        name.to_lowercase().replace(' ', "."),
        uuid::Uuid::now_v7().simple()
    );
    let (s, b) = call(
        write,
        Method::POST,
        "/v1/auth/register",
        None,
        Some(serde_json::json!({"email": email, "password": "correct horse battery", "name": name})),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let text = |k: &str| b[k].as_str().expect(k).to_owned();
    Person {
        token: text("access_token"),
        refresh: text("refresh_token"),
        id: text("user_id"),
        email,
    }
}

/// A DELETE of `path` with `token`: its status.
#[allow(dead_code)]
pub async fn delete(app: &axum::Router, path: &str, token: &str) -> u16 {
    call(app, Method::DELETE, path, Some(token), None).await.0
}

/// Signs the session of `refresh` out (204).
#[allow(dead_code)]
pub async fn logout(write: &axum::Router, refresh: &str) {
    let body = serde_json::json!({ "refresh_token": refresh });
    let (s, b) = call(write, Method::POST, "/v1/auth/logout", None, Some(body)).await;
    assert_eq!(s, 204, "{b}");
}

/// The commands of a test: cheap password hashing, everything else as shipped.
#[allow(dead_code)]
pub fn commands(store: &prism_event_store::PgEventStore, jwt: &prism_auth::Jwt) -> prism_commands::Commands {
    let hasher = prism_auth::PasswordHasherId::new(1024, 1).expect("params");
    prism_commands::Commands::new(store.clone(), jwt.clone(), hasher)
}
