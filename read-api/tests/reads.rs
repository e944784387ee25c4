//! The read API over read models built from real commands (projected with the runtime's
//! Postgres catch-up, so no NATS is needed here): tenant isolation on every endpoint, paging,
//! read-your-writes, and the unhappy paths.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use prism_auth::{Jwt, PasswordHasherId};
use prism_commands::{CommandContext, Commands};
use prism_domain::{DocId, MessageId, UserId, WorkspaceId};
use prism_event_store::PgEventStore;
use prism_projections::read_models::ReadModels;
use prism_projections::{Projector, ProjectorConfig};
use serde_json::Value;
use sqlx::PgPool;
use tower::ServiceExt;
use uuid::Uuid;

mod common;
use common::read_sse;
const SECRET: &[u8] = b"read-api-tests-read-api-tests-read!!";

struct World {
    app: axum::Router,
    jwt: Jwt,
    commands: Commands,
    projector: Projector,
    owner: CommandContext,
    stranger: CommandContext,
    ws: Uuid,
    channel: Uuid,
    message: Uuid,
    doc: Uuid,
    their_ws: Uuid,
    their_channel: Uuid,
    their_message: Uuid,
    their_doc: Uuid,
}

async fn world(pool: PgPool) -> World {
    let store = PgEventStore::new(pool.clone(), 0);
    let jwt = Jwt::new(SECRET, Jwt::DEFAULT_TTL);
    let commands = Commands::new(
        store.clone(),
        jwt.clone(),
        PasswordHasherId::new(1024, 1).expect("params"),
    );
    let mut people = Vec::new();
    for name in ["owner", "stranger"] {
        let t = commands
            .register(&format!("{name}@example.com"), "correct horse battery", name, None)
            .await
            .expect("register");
        people.push(CommandContext::new(t.user_id));
    }
    let (owner, stranger) = (people[0].clone(), people[1].clone());
    let mut ids = Vec::new();
    for who in [&owner, &stranger] {
        let ws = commands.create_workspace(who, "Acme").await.expect("ws").id;
        let ch = commands
            .create_channel(who, WorkspaceId(ws), "general")
            .await
            .expect("ch")
            .id;
        let m = commands
            .post_message(who, ch, "secret plans", None)
            .await
            .expect("msg")
            .id;
        commands.toggle_reaction(who, MessageId(m), "👍").await.expect("react");
        let d = commands
            .create_doc(who, WorkspaceId(ws), "Plan", "v1")
            .await
            .expect("doc")
            .id;
        commands
            .update_doc(who, DocId(d), None, Some("v2"))
            .await
            .expect("edit");
        ids.push((ws, ch, m, d));
    }
    let cfg = ProjectorConfig::new(std::sync::Arc::new(prism_bus::LocalBus::new()), 100);
    let projector = Projector::new(store, Arc::new(ReadModels), cfg);
    projector.catch_up().await.expect("project");
    let app = prism_read_api::app(prism_read_api::AppState::new(pool, jwt.clone()));
    let [(ws, channel, message, doc), (their_ws, their_channel, their_message, their_doc)] = [ids[0], ids[1]];
    World {
        app,
        jwt,
        commands,
        projector,
        owner,
        stranger,
        ws,
        channel,
        message,
        doc,
        their_ws,
        their_channel,
        their_message,
        their_doc,
    }
}

impl World {
    fn token(&self, who: &CommandContext) -> String {
        self.jwt.issue(who.actor.user_id, vec![]).expect("token")
    }
    async fn get(
        &self,
        path: &str,
        token: Option<&str>,
        min_position: Option<i64>,
    ) -> (StatusCode, Value, axum::http::HeaderMap) {
        let mut req = Request::builder().uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(p) = min_position {
            req = req.header("x-min-position", p.to_string());
        }
        let res = self
            .app
            .clone()
            .oneshot(req.body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        let (status, headers) = (res.status(), res.headers().clone());
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null), headers)
    }
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn members_read_their_workspace(pool: PgPool) {
    let w = world(pool).await;
    let t = w.token(&w.owner);
    let (s, me, _) = w.get("/v1/me", Some(&t), None).await;
    assert_eq!(s, 200);
    assert_eq!(
        (me["email"].as_str(), me["memberships"][0]["role"].as_str()),
        (Some("owner@example.com"), Some("owner"))
    );
    let (_, list, _) = w.get("/v1/workspaces", Some(&t), None).await;
    assert_eq!(
        list["items"].as_array().map(Vec::len),
        Some(1),
        "only the caller's workspaces: {list}"
    );
    let (_, msgs, h) = w
        .get(&format!("/v1/channels/{}/messages", w.channel), Some(&t), None)
        .await;
    assert_eq!(msgs["items"][0]["body"], "secret plans");
    assert_eq!(msgs["items"][0]["reactions"]["👍"], 1);
    assert!(h.get("x-projection-position").is_some());
    let (_, history, _) = w.get(&format!("/v1/docs/{}/history", w.doc), Some(&t), None).await;
    let bodies: Vec<&str> = history["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|v| v["body"].as_str())
        .collect();
    assert_eq!(bodies, ["v1", "v2"]);
    let (s, members, _) = w.get(&format!("/v1/workspaces/{}/members", w.ws), Some(&t), None).await;
    assert_eq!(
        (s, members["items"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(1))
    );
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn another_tenants_data_is_not_found_on_every_endpoint(pool: PgPool) {
    let w = world(pool).await;
    let t = w.token(&w.owner);
    for path in [
        format!("/v1/workspaces/{}", w.their_ws),
        format!("/v1/workspaces/{}/members", w.their_ws),
        format!("/v1/workspaces/{}/channels", w.their_ws),
        format!("/v1/workspaces/{}/docs", w.their_ws),
        format!("/v1/channels/{}/messages", w.their_channel),
        format!("/v1/messages/{}", w.their_message),
        format!("/v1/docs/{}", w.their_doc),
        format!("/v1/docs/{}/history", w.their_doc),
    ] {
        let (s, body, _) = w.get(&path, Some(&t), None).await;
        assert_eq!(
            (s, body["error"]["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found")),
            "{path}: {body}"
        );
        assert!(!body.to_string().contains("secret plans"));
    }
    // The stranger sees theirs, not ours.
    let (s, _, _) = w
        .get(
            &format!("/v1/messages/{}", w.their_message),
            Some(&w.token(&w.stranger)),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (s, _, _) = w
        .get(
            &format!("/v1/messages/{}", w.message),
            Some(&w.token(&w.stranger)),
            None,
        )
        .await;
    assert_eq!(s, 404);
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn unhappy_paths(pool: PgPool) {
    let w = world(pool).await;
    let t = w.token(&w.owner);
    let (s, body, h) = w.get("/v1/me", None, None).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthenticated"))
    );
    assert!(h.get("www-authenticate").is_some());
    let forged = Jwt::new(b"not-the-secret-not-the-secret-not!!", Jwt::DEFAULT_TTL)
        .issue(UserId::new(), vec![])
        .expect("jwt");
    let (s, body, _) = w.get("/v1/me", Some(&forged), None).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );
    let (s, body, _) = w.get("/v1/docs/not-a-uuid", Some(&t), None).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_id"))
    );
    let (s, body, _) = w
        .get(&format!("/v1/channels/{}/messages?limit=0", w.channel), Some(&t), None)
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_query"))
    );
    let (s, body, _) = w
        .get(
            &format!("/v1/channels/{}/messages?cursor=zzz", w.channel),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_cursor"))
    );
    let (s, body, _) = w.get("/v1/me?min_position=-3", Some(&t), None).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_min_position"))
    );
    let (s, body, _) = w.get("/v1/nothing", Some(&t), None).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn min_position_waits_for_the_projection_or_says_it_is_behind(pool: PgPool) {
    let mut w = world(pool).await;
    let t = w.token(&w.owner);
    let posted = w
        .commands
        .post_message(&w.owner, w.channel, "fresh", None)
        .await
        .expect("post");
    // Nobody projects: the read waits its bound, then says so.
    w.app = prism_read_api::app(
        prism_read_api::AppState::new(w.commands.store().pool().clone(), w.jwt.clone())
            .with_max_wait(std::time::Duration::from_millis(200)),
    );
    let path = format!("/v1/channels/{}/messages", w.channel);
    let (s, body, h) = w.get(&path, Some(&t), Some(posted.position.expect("position"))).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("projection_behind"))
    );
    assert!(h.get("retry-after").is_some());
    // A projector catches up while the read waits: the read answers with the new message.
    let read = w.get(&path, Some(&t), Some(posted.position.expect("position")));
    let project = async {
        w.projector.catch_up().await.expect("project");
    };
    let ((s, body, h), ()) = tokio::join!(read, project);
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["items"][0]["body"], "fresh");
    let at: i64 = h
        .get("x-projection-position")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("position");
    assert!(at >= posted.position.expect("position"));
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn messages_page_newest_first(pool: PgPool) {
    let w = world(pool).await;
    for i in 0..5 {
        w.commands
            .post_message(&w.owner, w.channel, &format!("n{i}"), None)
            .await
            .expect("post");
    }
    w.projector.catch_up().await.expect("project");
    let t = w.token(&w.owner);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/channels/{}/messages?limit=2&cursor={c}", w.channel),
            None => format!("/v1/channels/{}/messages?limit=2", w.channel),
        };
        let (_, page, _) = w.get(&path, Some(&t), None).await;
        for m in page["items"].as_array().expect("items") {
            seen.push(m["body"].as_str().expect("body").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["n4", "n3", "n2", "n1", "n0", "secret plans"]);
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn the_stream_carries_live_events_and_ends_when_membership_does(pool: PgPool) {
    let w = world(pool).await;
    let code = w
        .commands
        .rotate_join_code(&w.owner, WorkspaceId(w.ws))
        .await
        .expect("code")
        .body()["join_code"]
        .as_str()
        .expect("code")
        .to_owned();
    let member = CommandContext::new(UserId::new());
    w.commands
        .join_workspace(&member, WorkspaceId(w.ws), &code)
        .await
        .expect("join");
    w.projector.catch_up().await.expect("project");
    let open = |who: &CommandContext| {
        Request::builder()
            .uri(format!("/v1/workspaces/{}/stream", w.ws))
            .header("authorization", format!("Bearer {}", w.token(who)))
            .body(Body::empty())
            .expect("request")
    };
    // A stranger cannot listen.
    let res = w.app.clone().oneshot(open(&w.stranger)).await.expect("infallible");
    assert_eq!(res.status(), 404);
    let res = w.app.clone().oneshot(open(&member)).await.expect("infallible");
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers().get("content-type").and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let reader = tokio::spawn(read_sse(res.into_body(), "event: revoked"));
    let posted = w
        .commands
        .post_message(&w.owner, w.channel, "live news", None)
        .await
        .expect("post");
    // Another tenant's event never shows up.
    w.commands
        .post_message(&w.stranger, w.their_channel, "their news", None)
        .await
        .expect("post");
    w.commands
        .remove_member(&w.owner, WorkspaceId(w.ws), member.actor.user_id)
        .await
        .expect("remove");
    let text = reader.await.expect("reader");
    assert!(text.contains("event: message.created"), "{text}");
    assert!(text.contains("live news"), "{text}");
    assert!(
        text.contains(&format!("id: {}", posted.position.expect("position"))),
        "{text}"
    );
    assert!(!text.contains("their news"), "{text}");
    assert!(text.contains("event: revoked"), "{text}");
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn health_readiness_openapi_and_metrics(pool: PgPool) {
    let w = world(pool).await;
    let (s, body, _) = w.get("/healthz", None, None).await;
    assert_eq!((s, body["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (s, body, _) = w.get("/readyz", None, None).await;
    assert_eq!((s, body["status"].as_str()), (StatusCode::OK, Some("ready")), "{body}");
    // Anonymous callers learn the status, nothing of the projections or their errors.
    assert_eq!(body, serde_json::json!({"status": "ready"}));
    let member = w.token(&w.owner);
    let (_, body, _) = w.get("/readyz", Some(&member), None).await;
    assert!(body.get("projections").is_none(), "{body}");
    let auditor = w.jwt.issue(UserId::new(), vec!["auditor".into()]).expect("token");
    let (_, body, _) = w.get("/readyz", Some(&auditor), None).await;
    assert_eq!(body["projections"][0]["name"], "read_models");
    let (s, body, _) = w.get("/openapi.json", None, None).await;
    assert_eq!(s, 200);
    for p in [
        "/v1/me",
        "/v1/channels/{id}/messages",
        "/v1/docs/{id}/history",
        "/v1/workspaces/{id}/stream",
    ] {
        assert!(body["paths"][p].is_object(), "{p} missing");
    }
    // A halted projection makes the read API not ready, and says why.
    sqlx::query("UPDATE projection_status SET halted_at = now(), last_error = 'boom'")
        .execute(w.commands.store().pool())
        .await
        .expect("halt");
    let (s, body, _) = w.get("/readyz", None, None).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("unavailable"))
    );
    assert!(
        !body.to_string().contains("boom"),
        "an error text reached an anonymous caller: {body}"
    );
    let (s, body, _) = w.get("/readyz", Some(&auditor), None).await;
    assert_eq!(
        (s, body["projections"][0]["last_error"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("boom"))
    );
    // A relay that cannot publish (past its grace) makes the node not ready too.
    sqlx::query("UPDATE projection_status SET halted_at = NULL, last_error = NULL")
        .execute(w.commands.store().pool())
        .await
        .expect("unhalt");
    let (s, _, _) = w.get("/readyz", None, None).await;
    assert_eq!(s, StatusCode::OK);
    sqlx::query(
        "INSERT INTO relay_checkpoints (name, position, last_error, failing_since)
         VALUES ('relay:prism', 0, 'nats: maximum payload exceeded', now() - interval '1 minute')",
    )
    .execute(w.commands.store().pool())
    .await
    .expect("stuck relay");
    let (s, body, _) = w.get("/readyz", None, None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let (_, body, _) = w.get("/readyz", Some(&auditor), None).await;
    assert_eq!(body["relays"][0]["last_error"], "nats: maximum payload exceeded");
    let req = Request::builder().uri("/metrics").body(Body::empty()).expect("req");
    assert_eq!(w.app.clone().oneshot(req).await.expect("infallible").status(), 200);
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn x_min_position_is_refused_before_any_wait_when_anonymous_or_past_the_head(pool: PgPool) {
    let mut w = world(pool).await;
    // A bound no test would sit out: if either request below waited, the guard would fire.
    w.app = prism_read_api::app(
        prism_read_api::AppState::new(w.commands.store().pool().clone(), w.jwt.clone())
            .with_max_wait(std::time::Duration::from_secs(600)),
    );
    let guard = std::time::Duration::from_secs(20);
    let path = format!("/v1/channels/{}/messages", w.channel);
    let (s, body, _) = tokio::time::timeout(guard, w.get(&path, None, Some(i64::MAX)))
        .await
        .expect("an anonymous caller made the node wait");
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthenticated"))
    );
    let (s, body, _) = tokio::time::timeout(guard, w.get(&path, Some("forged.token.here"), Some(i64::MAX)))
        .await
        .expect("a forged token made the node wait");
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );
    let t = w.token(&w.owner);
    let head = w.commands.store().head().await.expect("head");
    let (s, body, _) = tokio::time::timeout(guard, w.get(&path, Some(&t), Some(head + 1)))
        .await
        .expect("a position past the head made the node wait");
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("position_not_reached")),
        "{body}"
    );
    // The head itself is a position a write answered: it is served.
    let (s, _, _) = w.get(&path, Some(&t), Some(head)).await;
    assert_eq!(s, StatusCode::OK);
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn every_read_declares_the_bearer_scheme_and_what_the_edge_may_answer(pool: PgPool) {
    let w = world(pool).await;
    let (s, doc, _) = w.get("/openapi.json", None, None).await;
    assert_eq!(s, 200);
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert!(doc["security"].as_array().is_some_and(|a| !a.is_empty()));
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            for s in ["401", "408", "414", "431", "503"] {
                if s == "401" && !path.starts_with("/v1/") {
                    continue;
                }
                assert!(op["responses"][s].is_object(), "{method} {path} does not declare {s}");
            }
        }
    }
}
