//! Test helpers: a write API on a fresh database, driven with `oneshot` (no sockets).

#![allow(dead_code)]

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use prism_auth::{Jwt, PasswordHasherId};
use prism_commands::Commands;
use prism_event_store::PgEventStore;
use serde_json::{json, Value};
use sqlx::PgPool;
use tower::ServiceExt;
use uuid::Uuid;

pub const SECRET: &[u8] = b"test-secret-that-is-long-enough-for-hs256";

pub struct TestApp {
    pub app: Router,
    pub pool: PgPool,
    #[allow(dead_code)]
    pub commands: Commands,
}

pub struct Resp {
    pub status: StatusCode,
    pub body: Value,
    pub headers: HeaderMap,
}

impl Resp {
    pub fn id(&self) -> Uuid {
        self.body["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no id in {}", self.body))
    }
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status.as_u16(), status, "unexpected answer: {}", self.body);
        self
    }
    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Self {
        assert_eq!(
            (self.status.as_u16(), self.code()),
            (status, code),
            "unexpected answer: {}",
            self.body
        );
        assert!(
            self.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "error without a message: {}",
            self.body
        );
        self
    }
}

pub struct User {
    pub id: Uuid,
    pub token: String,
    pub refresh: String,
}

impl TestApp {
    pub fn new(pool: PgPool) -> Self {
        Self::with(pool, |c| c)
    }

    /// With the commands configured by `f` (allowances, crisis lines, a model).
    pub fn with(pool: PgPool, f: impl FnOnce(Commands) -> Commands) -> Self {
        let store = PgEventStore::new(pool.clone(), 3).with_group_commit(2, 64);
        // Cheap argon2 parameters: the tests check behaviour, not hash strength.
        let hasher = PasswordHasherId::new(1024, 1).expect("argon2 params");
        let commands = f(Commands::new(store, Jwt::new(SECRET, Jwt::DEFAULT_TTL), hasher));
        Self {
            app: prism_write_api::app(prism_write_api::AppState::new(commands.clone())),
            commands,
            pool,
        }
    }

    pub async fn send(&self, req: Request<Body>) -> Resp {
        let res = self.app.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Resp { status, body, headers }
    }

    pub fn request(
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> axum::http::request::Builder {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        if body.is_some() {
            b = b.header("content-type", "application/json");
        }
        b
    }

    /// The `/metrics` text.
    #[allow(dead_code)]
    pub async fn metrics(&self) -> String {
        let m = self.call(Method::GET, "/metrics", None, None).await.expect(200);
        m.body.as_str().unwrap_or_default().to_owned()
    }

    /// The payload of the one `safety.crisis_detected` event.
    #[allow(dead_code)]
    pub async fn crisis_event(&self) -> Value {
        sqlx::query_scalar("SELECT payload FROM events WHERE event_type = 'safety.crisis_detected'")
            .fetch_one(&self.pool)
            .await
            .expect("a crisis event")
    }

    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Resp {
        let req = Self::request(method, path, token, body.as_ref())
            .body(body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty))
            .expect("request");
        self.send(req).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::PATCH, path, Some(token), Some(body)).await
    }
    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Sends raw bytes with a JSON content type (for malformed bodies).
    pub async fn raw(&self, method: Method, path: &str, token: Option<&str>, bytes: impl Into<Body>) -> Resp {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json");
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        self.send(b.body(bytes.into()).expect("request")).await
    }

    pub async fn register(&self, name: &str) -> User {
        let email = format!("{name}-{}@example.com", Uuid::now_v7().simple());
        let r = self
            .call(
                Method::POST,
                "/v1/auth/register",
                None,
                Some(json!({"email": email, "password": "correct horse battery", "name": name})),
            )
            .await
            .expect(201);
        User {
            id: r.body["user_id"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("user_id"),
            token: r.body["access_token"].as_str().expect("token").to_owned(),
            refresh: r.body["refresh_token"].as_str().expect("refresh").to_owned(),
        }
    }

    /// A workspace owned by `owner`: (id, join code).
    pub async fn workspace(&self, owner: &User) -> (Uuid, String) {
        let r = self
            .post("/v1/workspaces", &owner.token, json!({"name": "Acme"}))
            .await
            .expect(201);
        (r.id(), r.body["join_code"].as_str().expect("join_code").to_owned())
    }

    pub async fn join(&self, ws: Uuid, code: &str, user: &User) {
        self.post(
            &format!("/v1/workspaces/{ws}/join"),
            &user.token,
            json!({"join_code": code}),
        )
        .await
        .expect(200);
    }

    pub async fn set_role(&self, ws: Uuid, by: &User, user: &User, role: &str) {
        self.patch(
            &format!("/v1/workspaces/{ws}/members/{}", user.id),
            &by.token,
            json!({"role": role}),
        )
        .await
        .expect(200);
    }

    pub async fn channel(&self, ws: Uuid, by: &User, name: &str) -> Uuid {
        self.post(
            &format!("/v1/workspaces/{ws}/channels"),
            &by.token,
            json!({"name": name}),
        )
        .await
        .expect(201)
        .id()
    }

    pub async fn message(&self, channel: Uuid, by: &User, body: &str) -> Uuid {
        self.post(
            &format!("/v1/channels/{channel}/messages"),
            &by.token,
            json!({"body": body}),
        )
        .await
        .expect(201)
        .id()
    }

    pub async fn event_count(&self, aggregate_id: Uuid) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events WHERE aggregate_id = $1")
            .bind(aggregate_id)
            .fetch_one(&self.pool)
            .await
            .expect("count")
    }

    /// Events other than sign-in facts (`auth.*`: a registration also starts a session).
    #[allow(dead_code)]
    pub async fn kernel_events(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events WHERE aggregate_type <> 'auth'")
            .fetch_one(&self.pool)
            .await
            .expect("count")
    }

    pub async fn total_events(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&self.pool)
            .await
            .expect("count")
    }
}

/// A world: an owner, an admin, a member of one workspace with a channel, and a stranger.
pub struct World {
    pub owner: User,
    pub admin: User,
    pub member: User,
    pub stranger: User,
    pub ws: Uuid,
    pub code: String,
    pub channel: Uuid,
}

pub async fn world(t: &TestApp) -> World {
    let owner = t.register("owner").await;
    let admin = t.register("admin").await;
    let member = t.register("member").await;
    let stranger = t.register("stranger").await;
    let (ws, code) = t.workspace(&owner).await;
    t.join(ws, &code, &admin).await;
    t.join(ws, &code, &member).await;
    t.set_role(ws, &owner, &admin, "admin").await;
    let channel = t.channel(ws, &owner, "general").await;
    World {
        owner,
        admin,
        member,
        stranger,
        ws,
        code,
        channel,
    }
}

/// The unhappy paths every JSON endpoint shares: malformed JSON, wrong types, an oversized
/// body, no token, a forged token.
pub async fn assert_rejects_bad_input(t: &TestApp, method: Method, path: &str, token: &str, wrong_types: Value) {
    t.raw(method.clone(), path, Some(token), "{not json")
        .await
        .expect_error(400, "malformed_json");
    t.raw(method.clone(), path, Some(token), wrong_types.to_string())
        .await
        .expect_error(400, "invalid_body");
    let huge = json!({"body": "x".repeat(prism_write_api::BODY_LIMIT + 10), "name": "x", "title": "x"});
    t.raw(method.clone(), path, Some(token), huge.to_string())
        .await
        .expect_error(413, "payload_too_large");
    t.raw(method.clone(), path, None, "{}")
        .await
        .expect_error(401, "unauthenticated");
    let forged = Jwt::new(b"another-secret-another-secret-another", Jwt::DEFAULT_TTL)
        .issue(prism_domain::UserId::new(), vec![])
        .expect("jwt");
    t.raw(method, path, Some(&forged), "{}")
        .await
        .expect_error(401, "invalid_token");
}

/// A local fake of a chat-completions model (the one mock: the model is outside the system).
/// `answer` gets the system prompt and returns the message content; every answer reports 30
/// prompt and 5 completion tokens. Returns its base URL.
#[allow(dead_code)]
pub async fn fake_model<F, Fut>(answer: F) -> String
where
    F: Fn(String) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = String> + Send,
{
    use axum::routing::post;
    let complete = move |axum::Json(req): axum::Json<Value>| {
        let answer = answer.clone();
        async move {
            let system = req["messages"][0]["content"].as_str().unwrap_or_default().to_owned();
            let content = answer(system).await;
            axum::Json(json!({
                "choices": [{"message": {"role": "assistant", "content": content}}],
                "usage": {"prompt_tokens": 30, "completion_tokens": 5}
            }))
        }
    };
    let app = Router::new().route("/v1/chat/completions", post(complete));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}
