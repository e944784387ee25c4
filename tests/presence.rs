//! Presence end to end: two read nodes sharing a bus; a person with a stream open on one is
//! online on the other's member list and announced on its streams, and goes offline when the
//! stream closes. Nothing of it is written to the log.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request};
use futures::StreamExt;
use prism_auth::Jwt;
use prism_event_store::PgEventStore;
use prism_read_api::presence::Presence;
use serde_json::{json, Value};
use sqlx::PgPool;
use support::call;
use tower::ServiceExt;

const SECRET: &[u8] = b"presence-e2e-presence-e2e-presence-e2!";

/// Reads SSE `events` until one of type `event` whose data satisfies `wanted` (10 s at most).
async fn until(
    events: &mut (impl futures::Stream<Item = String> + Unpin),
    event: &str,
    wanted: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let frame = tokio::time::timeout_at(deadline, events.next())
            .await
            .unwrap_or_else(|_| panic!("no {event} in time"))
            .expect("the stream goes on");
        if frame.lines().any(|l| l == format!("event: {event}")) {
            let data = frame.lines().find_map(|l| l.strip_prefix("data: ")).expect("data");
            let v: Value = serde_json::from_str(data).expect("json");
            if wanted(&v) {
                return v;
            }
        }
    }
}

/// Who the member list of `ws` on `app` shows online.
async fn online(app: &axum::Router, token: &str, ws: &str) -> Vec<String> {
    let (s, m) = call(
        app,
        Method::GET,
        &format!("/v1/workspaces/{ws}/members"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(s, 200, "{m}");
    m["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|m| m["online"] == json!(true))
        .map(|m| m["user_id"].as_str().expect("id").to_owned())
        .collect()
}

/// An SSE body as a stream of frames.
fn frames(body: Body) -> impl futures::Stream<Item = String> + Unpin {
    let mut buf = String::new();
    Box::pin(
        body.into_data_stream()
            .map(move |chunk| {
                buf.push_str(&String::from_utf8_lossy(&chunk.expect("chunk")));
                let mut out = Vec::new();
                while let Some(i) = buf.find("\n\n") {
                    out.push(buf[..i].to_owned());
                    buf.drain(..i + 2);
                }
                futures::stream::iter(out)
            })
            .flatten(),
    )
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn someone_streaming_on_one_node_is_online_on_another_until_they_leave(pool: PgPool) {
    let jwt = Jwt::new(SECRET, Jwt::DEFAULT_TTL);
    let store = PgEventStore::new(pool.clone(), 0).with_group_commit(2, 64);
    let write = prism_write_api::app(prism_write_api::AppState::new(support::commands(&store, &jwt)));
    let bus: Arc<dyn prism_bus::Bus> = Arc::new(prism_bus::LocalBus::new());
    let node = |name: &str| {
        prism_read_api::app(
            prism_read_api::AppState::new(pool.clone(), jwt.clone())
                .with_feed(prism_projections::feed::Feed::new(pool.clone()))
                .with_presence(Presence::new(bus.clone(), name)),
        )
    };
    let (a, b) = (node("a"), node("b"));
    let (ada, bob, eve) = (
        support::person(&write, "Ada").await,
        support::person(&write, "Bob").await,
        support::person(&write, "Eve").await,
    );
    let (s, w) = call(
        &write,
        Method::POST,
        "/v1/workspaces",
        Some(&ada.token),
        Some(json!({"name": "Acme"})),
    )
    .await;
    assert_eq!(s, 201, "{w}");
    let ws = w["id"].as_str().expect("id").to_owned();
    let (s, _) = call(
        &write,
        Method::POST,
        &format!("/v1/workspaces/{ws}/join"),
        Some(&bob.token),
        Some(json!({"join_code": w["join_code"]})),
    )
    .await;
    assert_eq!(s, 200);
    let log_before: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await
        .expect("count");
    support::project_read_models(&store).await;
    let open = |app: &axum::Router, token: &str, ws: &str| {
        let req = Request::builder()
            .uri(format!("/v1/workspaces/{ws}/stream"))
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request");
        app.clone().oneshot(req)
    };
    let ws_id = w["id"].as_str().expect("id").to_owned();

    // Ada watches on node b; nobody is online yet but her.
    let mut ada_sees = frames(open(&b, &ada.token, &ws_id).await.expect("ada").into_body());
    until(&mut ada_sees, "presence.changed", |v| {
        v["user_id"] == json!(ada.id) && v["online"] == json!(true)
    })
    .await;
    assert_eq!(online(&b, &ada.token, &ws).await, vec![ada.id.clone()]);

    // Bob opens a stream on node a: node b's stream and member list see him.
    let bob_stream = open(&a, &bob.token, &ws_id).await.expect("bob");
    assert_eq!(bob_stream.status(), 200);
    let came = until(&mut ada_sees, "presence.changed", |v| v["user_id"] == json!(bob.id)).await;
    assert_eq!(came, json!({"workspace_id": ws_id, "user_id": bob.id, "online": true}));
    let mut now = online(&b, &ada.token, &ws).await;
    now.sort();
    let mut both = vec![ada.id.clone(), bob.id.clone()];
    both.sort();
    assert_eq!(now, both);

    // Eve, not a member, cannot watch, and so is never announced.
    let eve_stream = open(&a, &eve.token, &ws_id).await.expect("eve");
    assert_eq!(eve_stream.status(), 404);

    // Bob closes his stream: offline everywhere.
    drop(bob_stream);
    let left = until(&mut ada_sees, "presence.changed", |v| v["user_id"] == json!(bob.id)).await;
    assert_eq!(left["online"], json!(false));
    assert_eq!(online(&b, &ada.token, &ws).await, vec![ada.id.clone()]);

    // Presence wrote nothing to the log.
    let log_after: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(log_before, log_after);
}
