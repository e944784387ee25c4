//! The live stream as an attacker would try it: replaying the workspace's history from 0,
//! resuming ahead of the head, staying connected after removal, opening streams without end.
//! The stream reads the log itself (membership too), so no projector runs here.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use prism_auth::{Jwt, PasswordHasherId};
use prism_commands::{CommandContext, Commands};
use prism_domain::{MessageId, UserId, WorkspaceId};
use prism_event_store::PgEventStore;
use prism_projections::feed::{Feed, StreamLimits};
use sqlx::PgPool;
use tower::ServiceExt;
use uuid::Uuid;

mod common;
use common::read_sse;
const SECRET: &[u8] = b"stream-tests-stream-tests-stream-tests!!";

struct World {
    app: axum::Router,
    jwt: Jwt,
    commands: Commands,
    owner: CommandContext,
    ws: Uuid,
    channel: Uuid,
    code: String,
}

async fn world(pool: PgPool, limits: StreamLimits) -> World {
    let store = PgEventStore::new(pool.clone(), 0);
    let jwt = Jwt::new(SECRET, Jwt::DEFAULT_TTL);
    let commands = Commands::new(store, jwt.clone(), PasswordHasherId::new(1024, 1).expect("params"));
    let owner = CommandContext::new(UserId::new());
    let created = commands.create_workspace(&owner, "Acme").await.expect("ws");
    let ws = created.id;
    let code = created.body()["join_code"].as_str().expect("code").to_owned();
    let channel = commands
        .create_channel(&owner, WorkspaceId(ws), "general")
        .await
        .expect("ch")
        .id;
    let state = prism_read_api::AppState::new(pool.clone(), jwt.clone()).with_feed(Feed::with_limits(pool, limits));
    World {
        app: prism_read_api::app(state),
        jwt,
        commands,
        owner,
        ws,
        channel,
        code,
    }
}

impl World {
    async fn join(&self) -> CommandContext {
        let who = CommandContext::new(UserId::new());
        self.commands
            .join_workspace(&who, WorkspaceId(self.ws), &self.code)
            .await
            .expect("join");
        who
    }

    async fn open(&self, who: &CommandContext, last_event_id: Option<i64>) -> axum::response::Response {
        let mut req = Request::builder()
            .uri(format!("/v1/workspaces/{}/stream", self.ws))
            .header(
                "authorization",
                format!("Bearer {}", self.jwt.issue(who.actor.user_id, vec![]).expect("token")),
            );
        if let Some(p) = last_event_id {
            req = req.header("last-event-id", p.to_string());
        }
        self.app
            .clone()
            .oneshot(req.body(Body::empty()).expect("request"))
            .await
            .expect("infallible")
    }

    async fn head(&self) -> i64 {
        self.commands.store().head().await.expect("head")
    }
}

async fn error_code(res: axum::response::Response) -> (StatusCode, String) {
    let status = res.status();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&bytes).expect("error json");
    (status, v["error"]["code"].as_str().unwrap_or_default().to_owned())
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_replay_from_zero_shows_a_member_only_what_rest_would(pool: PgPool) {
    let w = world(pool, StreamLimits::default()).await;
    let (alice, bob, eve) = (w.join().await, w.join().await, w.join().await);
    // A direct conversation between Alice and Bob, edited and deleted channel messages, and a
    // rotated join code: all before Eve opens her stream.
    let conv = w
        .commands
        .start_conversation(&alice, WorkspaceId(w.ws), bob.actor.user_id)
        .await
        .expect("conversation")
        .id;
    let dm = w
        .commands
        .post_message(&alice, conv, "dm-secret-between-two", None)
        .await
        .expect("dm")
        .id;
    w.commands
        .toggle_reaction(&bob, MessageId(dm), "👍")
        .await
        .expect("react");
    let edited = w
        .commands
        .post_message(&alice, w.channel, "first-draft-words", None)
        .await
        .expect("post")
        .id;
    w.commands
        .edit_message(&alice, MessageId(edited), "final-words")
        .await
        .expect("edit");
    let deleted = w
        .commands
        .post_message(&alice, w.channel, "regretted-words", None)
        .await
        .expect("post")
        .id;
    w.commands
        .delete_message(&alice, MessageId(deleted))
        .await
        .expect("delete");
    let rotated = w
        .commands
        .rotate_join_code(&w.owner, WorkspaceId(w.ws))
        .await
        .expect("rotate")
        .body()["join_code"]
        .as_str()
        .expect("code")
        .to_owned();
    // An invitation: the admins' business (GET …/invitations is 403 to members).
    let invitation = w
        .commands
        .invite(&w.owner, WorkspaceId(w.ws), "invited@example.com", "member")
        .await
        .expect("invite")
        .id;
    let end = w
        .commands
        .post_message(&w.owner, w.channel, "end-of-replay", None)
        .await
        .expect("post");

    let res = w.open(&eve, Some(0)).await;
    assert_eq!(res.status(), 200);
    let eve_sees = read_sse(res.into_body(), "end-of-replay").await;
    assert!(eve_sees.contains("end-of-replay"), "{eve_sees}");
    for leak in [
        "dm-secret-between-two",
        "first-draft-words",
        "regretted-words",
        &rotated,
        &w.code,
        &conv.to_string(),
        &dm.to_string(),
        &invitation.to_string(),
        "invitation.created",
    ] {
        assert!(!eve_sees.contains(leak), "a member saw `{leak}`: {eve_sees}");
    }
    assert!(
        eve_sees.contains("final-words"),
        "the current text is shown: {eve_sees}"
    );
    // Eve's replay starts at her own membership: the workspace's creation is not in it.
    assert!(!eve_sees.contains("event: workspace.created"), "{eve_sees}");
    let first_id: i64 = eve_sees
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .and_then(|p| p.parse().ok())
        .expect("an id");
    assert!(first_id > 0);

    // Bob, a participant, sees the conversation; the owner (an admin, not a participant) does not.
    let res = w.open(&bob, Some(0)).await;
    let bob_sees = read_sse(res.into_body(), "end-of-replay").await;
    assert!(bob_sees.contains("dm-secret-between-two"), "{bob_sees}");
    let res = w.open(&w.owner, Some(0)).await;
    let owner_sees = read_sse(res.into_body(), "end-of-replay").await;
    assert!(owner_sees.contains(&rotated), "admins see join codes: {owner_sees}");
    let invited = owner_sees
        .split("\n\n")
        .find(|e| e.contains("event: invitation.created"))
        .expect("admins see invitations");
    assert!(invited.contains(&invitation.to_string()), "{invited}");
    assert!(
        !invited.contains("\"email\":") && !invited.contains("\"token\":"),
        "the sealed address and token stay in: {invited}"
    );
    assert!(!owner_sees.contains("dm-secret-between-two"), "{owner_sees}");
    assert!(!owner_sees.contains(&dm.to_string()), "{owner_sees}");
    assert!(owner_sees.contains(&format!("id: {}", end.position.expect("position"))));
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn live_direct_messages_reach_their_two_participants_only(pool: PgPool) {
    let w = world(pool, StreamLimits::default()).await;
    let (alice, bob, eve) = (w.join().await, w.join().await, w.join().await);
    let conv = w
        .commands
        .start_conversation(&alice, WorkspaceId(w.ws), bob.actor.user_id)
        .await
        .expect("conversation")
        .id;
    let eve_stream = w.open(&eve, None).await;
    let bob_stream = w.open(&bob, None).await;
    let eve_reader = tokio::spawn(read_sse(eve_stream.into_body(), "live-marker"));
    let bob_reader = tokio::spawn(read_sse(bob_stream.into_body(), "live-marker"));
    w.commands
        .post_message(&alice, conv, "live-dm-for-bob", None)
        .await
        .expect("dm");
    w.commands
        .post_message(&w.owner, w.channel, "live-marker", None)
        .await
        .expect("post");
    let (eve_sees, bob_sees) = (eve_reader.await.expect("eve"), bob_reader.await.expect("bob"));
    assert!(eve_sees.contains("live-marker"), "{eve_sees}");
    assert!(!eve_sees.contains("live-dm-for-bob"), "{eve_sees}");
    assert!(bob_sees.contains("live-dm-for-bob"), "{bob_sees}");
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_removed_member_is_revoked_even_when_resuming_ahead(pool: PgPool) {
    let w = world(pool, StreamLimits::default()).await;
    for _ in 0..15 {
        let mallory = w.join().await;
        // Resume at the head: nothing left to replay, so only the live membership check can
        // catch the removal.
        let head = w.head().await;
        let res = w.open(&mallory, Some(head)).await;
        assert_eq!(res.status(), 200);
        let reader = tokio::spawn(read_sse(res.into_body(), "event: revoked"));
        w.commands
            .remove_member(&w.owner, WorkspaceId(w.ws), mallory.actor.user_id)
            .await
            .expect("remove");
        w.commands
            .post_message(&w.owner, w.channel, "after-removal", None)
            .await
            .expect("post");
        let text = reader.await.expect("reader");
        assert!(text.contains("event: revoked"), "{text}");
        assert!(!text.contains("after-removal"), "{text}");
        // And reconnecting right after is refused.
        let res = w.open(&mallory, Some(head)).await;
        assert_eq!(res.status(), 404);
    }
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn resume_points_past_the_head_and_outsiders_are_refused(pool: PgPool) {
    let w = world(pool, StreamLimits::default()).await;
    let member = w.join().await;
    let head = w.head().await;
    // A position no write has answered yet: the log has not reached it.
    let (status, code) = error_code(w.open(&member, Some(head + 1)).await).await;
    assert_eq!((status, code.as_str()), (StatusCode::CONFLICT, "position_not_reached"));
    let (status, code) = error_code(w.open(&member, Some(i64::MAX)).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_last_event_id")
    );
    let outsider = CommandContext::new(UserId::new());
    let (status, _) = error_code(w.open(&outsider, Some(0)).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let res = w
        .app
        .clone()
        .oneshot(
            Request::builder()
                .uri(format!("/v1/workspaces/{}/stream", w.ws))
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn streams_are_capped_per_user_and_per_node(pool: PgPool) {
    let w = world(
        pool,
        StreamLimits {
            per_user: 2,
            per_node: 3,
        },
    )
    .await;
    let member = w.join().await;
    let a = w.open(&member, None).await;
    let b = w.open(&member, None).await;
    assert_eq!((a.status(), b.status()), (StatusCode::OK, StatusCode::OK));
    let third = w.open(&member, None).await;
    assert!(third.headers().get("retry-after").is_some());
    let (status, code) = error_code(third).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "too_many_streams")
    );
    let c = w.open(&w.owner, None).await;
    assert_eq!(c.status(), StatusCode::OK);
    let (status, _) = error_code(w.open(&w.owner, None).await).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "the node's cap");
    // A closed stream gives its place back (once its task sees the client is gone).
    drop(a);
    let mut reopened = StatusCode::TOO_MANY_REQUESTS;
    for _ in 0..100 {
        let r = w.open(&member, None).await;
        reopened = r.status();
        if reopened == StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(reopened, StatusCode::OK);
    drop((b, c));
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_stream_ends_when_its_session_does(pool: PgPool) {
    let w = world(pool, StreamLimits::default()).await;
    let tokens = w
        .commands
        .register("listener@example.com", "correct horse battery", "Lis", None)
        .await
        .expect("register");
    let me = CommandContext::new(tokens.user_id);
    w.commands
        .join_workspace(&me, WorkspaceId(w.ws), &w.code)
        .await
        .expect("join");
    let req = Request::builder()
        .uri(format!("/v1/workspaces/{}/stream", w.ws))
        .header("authorization", format!("Bearer {}", tokens.access_token))
        .body(Body::empty())
        .expect("request");
    let res = w.app.clone().oneshot(req).await.expect("infallible");
    assert_eq!(res.status(), 200);
    let reader = tokio::spawn(read_sse(res.into_body(), "event: revoked"));
    w.commands.logout(&tokens.refresh_token, None).await.expect("logout");
    w.commands
        .post_message(&w.owner, w.channel, "after-logout", None)
        .await
        .expect("post");
    let text = reader.await.expect("reader");
    assert!(text.contains("event: revoked"), "{text}");
}
