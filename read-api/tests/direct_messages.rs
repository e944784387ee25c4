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

/// A workspace (owner, Alice, Bob) with a channel and a message in the open, and a direct
/// conversation between Alice and Bob with two messages, projected into the read models and the
/// audit trail; the read API over it.
struct Dm {
    app: axum::Router,
    jwt: Jwt,
    owner: CommandContext,
    alice: CommandContext,
    ws: uuid::Uuid,
    code: String,
    conv: uuid::Uuid,
    dm: uuid::Uuid,
}

async fn a_conversation(pool: &PgPool) -> Dm {
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
    let general = c
        .create_channel(&owner, WorkspaceId(ws), "general")
        .await
        .expect("channel")
        .id;
    c.post_message(&alice, general, "in the open", None)
        .await
        .expect("message");
    let conv = c
        .start_conversation(&alice, WorkspaceId(ws), bob.actor.user_id)
        .await
        .expect("conversation")
        .id;
    let dm = c.post_message(&alice, conv, DM_TEXT, None).await.expect("dm").id;
    // More of the conversation than one page of the trail scan holds.
    for i in 0..20 {
        c.post_message(&bob, conv, &format!("reply {i}"), None)
            .await
            .expect("reply");
    }
    let cfg = ProjectorConfig::new(std::sync::Arc::new(prism_bus::LocalBus::new()), 100);
    for p in [
        Arc::new(ReadModels) as Arc<dyn prism_projections::Projection>,
        Arc::new(prism_projections::audit::AuditTrail),
    ] {
        Projector::new(store.clone(), p, cfg.clone())
            .catch_up()
            .await
            .expect("project");
    }
    let app = prism_read_api::app(prism_read_api::AppState::new(pool.clone(), jwt.clone()));
    Dm {
        app,
        jwt,
        owner,
        alice,
        ws,
        code,
        conv,
        dm,
    }
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn admins_never_read_a_conversation_they_are_not_in_and_auditors_never_its_text(pool: PgPool) {
    let Dm {
        app,
        jwt,
        owner,
        alice,
        ws,
        code,
        conv,
        dm,
    } = a_conversation(&pool).await;
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

/// The audit trail and verification report on events rather than hand them out, and they too
/// name nothing of a conversation to a workspace owner who is not in it: its entries are left
/// out of the trail, its events out of verification's counts and findings — while a tampered
/// conversation still makes the owner's verification say the workspace is not intact.
#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn the_audit_trail_and_verification_name_nothing_of_a_conversation_an_owner_is_not_in(pool: PgPool) {
    let Dm {
        app,
        jwt,
        owner,
        ws,
        conv,
        dm,
        ..
    } = a_conversation(&pool).await;
    let owner_t = jwt.issue(owner.actor.user_id, vec![]).expect("token");
    let auditor_t = jwt.issue(UserId::new(), vec!["auditor".into()]).expect("token");
    let secret = [conv.to_string(), dm.to_string()];
    let json = |body: &str| serde_json::from_str::<Value>(body).expect("json");

    // The trail: the owner's has the workspace's entries and none of the conversation's, on a
    // page of everything and page by page; an auditor's has them (metadata, no text).
    let (s, body) = get(&app, &format!("/v1/workspaces/{ws}/audit?limit=200"), &owner_t, None).await;
    assert_eq!(s, 200, "{body}");
    assert!(
        body.contains("member.joined") && body.contains("message.created"),
        "{body}"
    );
    for leak in &secret {
        assert!(!body.contains(leak.as_str()), "the owner's trail names {leak}: {body}");
    }
    let whole = json(&body)["items"].as_array().expect("items").len();
    let (mut paged, mut cursor) = (0, None::<String>);
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/workspaces/{ws}/audit?limit=1&cursor={c}"),
            None => format!("/v1/workspaces/{ws}/audit?limit=1"),
        };
        let (s, body) = get(&app, &path, &owner_t, None).await;
        assert_eq!(s, 200, "{body}");
        for leak in &secret {
            assert!(!body.contains(leak.as_str()), "{path}: {body}");
        }
        let page = json(&body);
        let items = page["items"].as_array().expect("items");
        if page["next_cursor"].is_string() {
            // The cursor is the last entry shown: never a short page, never a hidden position.
            assert_eq!(items.len(), 1, "{body}");
            assert_eq!(
                page["next_cursor"].as_str(),
                Some(items[0]["position"].to_string().as_str()),
                "{body}"
            );
        }
        paged += items.len();
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(paged, whole, "paging the trail gives what one page does");
    let (s, body) = get(&app, &format!("/v1/workspaces/{ws}/audit?limit=200"), &auditor_t, None).await;
    assert_eq!(s, 200, "{body}");
    assert!(body.contains(&dm.to_string()) && !body.contains(DM_TEXT), "{body}");
    assert_eq!(
        json(&body)["items"].as_array().expect("items").len(),
        whole + 22,
        "the auditor also sees the conversation's start and its 21 messages: {body}"
    );

    // Verification counts what each may see.
    let (_, events) = get(
        &app,
        &format!("/v1/events?workspace_id={ws}&limit=1000"),
        &owner_t,
        None,
    )
    .await;
    let visible = json(&events)["items"].as_array().expect("items").len();
    let (s, body) = get(&app, &format!("/v1/workspaces/{ws}/audit/verify"), &owner_t, None).await;
    assert_eq!(s, 200, "{body}");
    let v = json(&body);
    assert_eq!(
        (v["ok"].clone(), v["checked"].as_u64()),
        (Value::Bool(true), Some(visible as u64)),
        "{body}"
    );
    let (_, body) = get(&app, &format!("/v1/workspaces/{ws}/audit/verify"), &auditor_t, None).await;
    assert_eq!(json(&body)["checked"].as_u64(), Some(visible as u64 + 22), "{body}");

    // Someone with the database rewrites the direct message.
    sqlx::query("UPDATE events SET payload = jsonb_set(payload, '{body}', '\"forged\"') WHERE aggregate_id = $1")
        .bind(dm)
        .execute(&pool)
        .await
        .expect("tamper");
    let (s, body) = get(&app, &format!("/v1/workspaces/{ws}/audit/verify"), &owner_t, None).await;
    assert_eq!(s, 200, "{body}");
    let v = json(&body);
    assert_eq!(v["ok"], false, "a tampered workspace is never reported intact: {body}");
    assert_eq!(v["bad"], 0, "{body}");
    assert!(v["first_bad"].is_null(), "{body}");
    for leak in &secret {
        assert!(
            !body.contains(leak.as_str()),
            "the owner's verification names {leak}: {body}"
        );
    }
    let (_, body) = get(&app, &format!("/v1/workspaces/{ws}/audit/verify"), &auditor_t, None).await;
    let v = json(&body);
    assert_eq!(v["ok"], false, "{body}");
    assert_eq!(v["first_bad"]["aggregate_id"], dm.to_string(), "{body}");
}
