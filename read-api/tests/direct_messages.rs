//! One policy for direct messages on every history route: a workspace admin never reads a
//! conversation they are not part of; a platform auditor sees its envelopes, never its text.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use prism_auth::{Jwt, PasswordHasherId};
use prism_commands::{CommandContext, Commands};
use prism_domain::{UserId, WorkspaceId};
use prism_event_store::PgEventStore;
use prism_projections::{read_models::ReadModels, Projector, ProjectorConfig};
use serde_json::Value;
use sqlx::PgPool;
use tower::ServiceExt;

const SECRET: &[u8] = b"dm-policy-tests-dm-policy-tests-dm-policy";
const DM_TEXT: &str = "the-private-words-of-two";

async fn get(app: &axum::Router, path: &str, token: &str, accept: Option<&str>) -> (StatusCode, String) {
    let mut req = Request::builder()
        .uri(path)
        .header("authorization", format!("Bearer {token}"));
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = res.status();
    let body = res.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn admins_never_read_a_conversation_they_are_not_in_and_auditors_never_its_text(pool: PgPool) {
    let store = PgEventStore::new(pool.clone(), 0);
    let jwt = Jwt::new(SECRET, Jwt::DEFAULT_TTL);
    let c = Commands::new(
        store.clone(),
        jwt.clone(),
        PasswordHasherId::new(1024, 1).expect("params"),
    );
    let owner = CommandContext::new(UserId::new());
    let created = c.create_workspace(&owner, "Acme").await.expect("ws");
    let ws = created.id;
    let code = created.body()["join_code"].as_str().expect("code").to_owned();
    let (alice, bob) = (CommandContext::new(UserId::new()), CommandContext::new(UserId::new()));
    for who in [&alice, &bob] {
        c.join_workspace(who, WorkspaceId(ws), &code).await.expect("join");
    }
    let conv = c
        .start_conversation(&alice, WorkspaceId(ws), bob.actor.user_id)
        .await
        .expect("conversation")
        .id;
    let dm = c.post_message(&alice, conv, DM_TEXT, None).await.expect("dm").id;
    let cfg = ProjectorConfig::new(std::sync::Arc::new(prism_bus::LocalBus::new()), 100);
    Projector::new(store, Arc::new(ReadModels), cfg)
        .catch_up()
        .await
        .expect("project");
    let app = prism_read_api::app(prism_read_api::AppState::new(pool, jwt.clone()));
    let token = |who: &CommandContext, roles: Vec<String>| jwt.issue(who.actor.user_id, roles).expect("token");
    let owner_t = token(&owner, vec![]);

    // The owner administers the workspace and reads its history, but not the conversation.
    let (s, body) = get(
        &app,
        &format!("/v1/events?workspace_id={ws}&limit=1000"),
        &owner_t,
        None,
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert!(body.contains("member.joined"), "{body}");
    for leak in [DM_TEXT, &conv.to_string(), &dm.to_string()] {
        assert!(!body.contains(leak), "an admin read `{leak}` in /v1/events: {body}");
    }
    let (s, body) = get(
        &app,
        &format!("/v1/events?workspace_id={ws}"),
        &owner_t,
        Some("application/x-ndjson"),
    )
    .await;
    assert_eq!(s, 200);
    assert!(!body.contains(DM_TEXT) && !body.contains(&dm.to_string()), "{body}");
    for path in [
        format!("/v1/aggregates/message/{dm}/state"),
        format!("/v1/aggregates/message/{dm}/events"),
        format!("/v1/aggregates/conversation/{conv}/events"),
        format!("/v1/aggregates/conversation/{conv}/state"),
    ] {
        let (s, body) = get(&app, &path, &owner_t, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}: {body}");
        assert!(!body.contains(DM_TEXT));
    }

    // A platform auditor sees that Alice wrote to Bob, and when — not what.
    let auditor = token(&CommandContext::new(UserId::new()), vec!["auditor".into()]);
    let (s, body) = get(&app, "/v1/events?limit=1000", &auditor, None).await;
    assert_eq!(s, 200, "{body}");
    assert!(!body.contains(DM_TEXT), "{body}");
    let page: Value = serde_json::from_str(&body).expect("json");
    let envelope = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|e| e["aggregate_id"] == dm.to_string())
        .expect("the DM's envelope is listed for auditors");
    assert_eq!(
        envelope["payload"]["redacted"],
        serde_json::json!(["body", "text", "mentions", "attachments"])
    );
    assert_eq!(envelope["payload"]["author_id"], alice.actor.user_id.to_string());
    let (s, body) = get(&app, &format!("/v1/aggregates/message/{dm}/state"), &auditor, None).await;
    assert_eq!(s, 200, "{body}");
    assert!(!body.contains(DM_TEXT), "{body}");
    let (s, body) = get(&app, &format!("/v1/aggregates/message/{dm}/events"), &auditor, None).await;
    assert_eq!(s, 200, "{body}");
    assert!(!body.contains(DM_TEXT), "{body}");
    // The join code is no auditor's business either.
    assert!(!body.contains(&code));
    let (_, body) = get(&app, "/v1/events?limit=1000", &auditor, None).await;
    assert!(!body.contains(&code), "{body}");
}
