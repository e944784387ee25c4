//! The reflection read side over real commands and projections: the caller's sessions, turns,
//! goals, affirmation, spectrum signals and export, opened with their key; nobody else's; and
//! erasure — no plaintext of the user left in any table or in the search index, audit verify
//! still passing, their workspace messages shown as from "erased user".

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use prism_auth::{Jwt, PasswordHasherId};
use prism_commands::{CommandContext, Commands};
use prism_domain::{LensGoalId, MirrorSessionId, WorkspaceId};
use prism_event_store::PgEventStore;
use prism_projections::search::{SearchIndex, SearchIndexer, SearchQuery};
use prism_projections::{audit, read_models, spectrum, Projector, ProjectorConfig};
use serde_json::Value;
use sqlx::PgPool;
use tower::ServiceExt;
use uuid::Uuid;

const SECRET: &[u8] = b"read-api-tests-read-api-tests-read!!";
const EMAIL: &str = "zanzibar.quill@example.com";
const NAME: &str = "Zanzibar Quill";
/// Distinctive words in each kind of journal text, to look for afterwards.
const TURN: &str = "Marmalade thoughts: I always fail at everything.";
const MIRROR: &str = "Tangerine worries: everyone thinks I am a failure.";
const REFLECTION: &str = "Quokka calm after writing it down.";
const GOAL: &str = "Pelican mornings";
const ACTION: &str = "Walk past the heron pond";
const MARKERS: &[&str] = &["Marmalade", "Tangerine", "Quokka", "Pelican", "heron"];

struct World {
    pool: PgPool,
    app: axum::Router,
    jwt: Jwt,
    c: Commands,
    projectors: Vec<Projector>,
    indexer: Arc<SearchIndexer>,
    index: Arc<SearchIndex>,
    ann: CommandContext,
    bob: CommandContext,
    ws: Uuid,
    channel: Uuid,
    _dir: tempfile::TempDir,
}

impl World {
    async fn new(pool: PgPool) -> Self {
        let store = PgEventStore::new(pool.clone(), 0);
        let jwt = Jwt::new(SECRET, Jwt::DEFAULT_TTL);
        let c = Commands::new(
            store.clone(),
            jwt.clone(),
            PasswordHasherId::new(1024, 1).expect("params"),
        );
        let ann = c
            .register(EMAIL, "correct horse battery", NAME, None)
            .await
            .expect("ann");
        let bob = c
            .register("bob@example.com", "correct horse battery", "Bob", None)
            .await
            .expect("bob");
        let (ann, bob) = (CommandContext::new(ann.user_id), CommandContext::new(bob.user_id));
        let ws = c.create_workspace(&ann, "Acme").await.expect("ws").id;
        let channel = c
            .create_channel(&ann, WorkspaceId(ws), "general")
            .await
            .expect("channel")
            .id;
        let dir = tempfile::tempdir().expect("tempdir");
        let index = Arc::new(SearchIndex::open(dir.path()).expect("index"));
        let indexer = Arc::new(
            SearchIndexer::new(index.clone(), store.store_id().await.expect("id"), 15_000_000).expect("indexer"),
        );
        let cfg = || ProjectorConfig::new(std::sync::Arc::new(prism_bus::LocalBus::new()), 100);
        let mut projectors: Vec<Projector> = [
            Arc::new(read_models::ReadModels) as Arc<dyn prism_projections::Projection>,
            Arc::new(audit::AuditTrail),
            Arc::new(spectrum::Spectrum),
        ]
        .into_iter()
        .map(|p| Projector::new(store.clone(), p, cfg()))
        .collect();
        projectors.push(Projector::with_target(store.clone(), indexer.clone(), cfg()));
        let state = prism_read_api::AppState::new(pool.clone(), jwt.clone()).with_search(index.clone());
        Self {
            pool,
            app: prism_read_api::app(state),
            jwt,
            c,
            projectors,
            indexer,
            index,
            ann,
            bob,
            ws,
            channel,
            _dir: dir,
        }
    }

    async fn project(&self) {
        for p in &self.projectors {
            p.catch_up().await.expect("project");
        }
        self.indexer.commit().expect("commit");
    }

    async fn get(&self, path: &str, who: &CommandContext) -> (StatusCode, Value) {
        let token = self.jwt.issue(who.actor.user_id, vec![]).expect("token");
        let req = Request::builder()
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request");
        let res = self.app.clone().oneshot(req).await.expect("response");
        let status = res.status();
        let body = res.into_body().collect().await.expect("body").to_bytes();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    async fn ok(&self, path: &str, who: &CommandContext) -> Value {
        let (status, v) = self.get(path, who).await;
        assert_eq!(status, StatusCode::OK, "{path}: {v}");
        v
    }

    /// Ann writes a bit of everything: a turn (saved), a session with a reframed fragment
    /// and a reflection, a goal with a completed action, and a workspace message.
    async fn ann_reflects(&self) -> (Uuid, Uuid, Uuid) {
        let c = &self.c;
        let turn = c.request_turn(&self.ann, TURN).await.expect("turn").id;
        c.save_turn(&self.ann, prism_domain::TurnId(turn)).await.expect("save");
        let session = c.start_session(&self.ann).await.expect("session").id;
        let out = c
            .submit_message(&self.ann, MirrorSessionId(session), MIRROR)
            .await
            .expect("message");
        let fragment: Uuid = out.body()["fragments"][0]["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("a fragment");
        c.reframe_fragment(&self.ann, fragment).await.expect("reframe");
        c.close_session(&self.ann, MirrorSessionId(session), Some(REFLECTION))
            .await
            .expect("close");
        let goal = c.create_goal(&self.ann, GOAL).await.expect("goal").id;
        let action: Uuid = c
            .add_action(&self.ann, LensGoalId(goal), ACTION)
            .await
            .expect("action")
            .body()["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("action id");
        c.complete_action(&self.ann, action).await.expect("complete");
        c.post_message(&self.ann, self.channel, "the launch is on friday", None)
            .await
            .expect("post");
        self.project().await;
        (turn, session, goal)
    }

    /// Every row of every table, as text, with the table's name.
    async fn every_row(&self) -> Vec<(String, String)> {
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
        )
        .fetch_all(&self.pool)
        .await
        .expect("tables");
        let mut rows = Vec::new();
        for t in tables {
            let texts: Vec<String> = sqlx::query_scalar(&format!("SELECT to_jsonb(t)::text FROM \"{t}\" t"))
                .fetch_all(&self.pool)
                .await
                .expect("rows");
            rows.extend(texts.into_iter().map(|r| (t.clone(), r)));
        }
        rows
    }
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn the_caller_reads_their_reflection_opened_and_nobody_else_does(pool: PgPool) {
    let w = World::new(pool).await;
    let (turn, session, _goal) = w.ann_reflects().await;

    let turns = w.ok("/v1/turns", &w.ann).await;
    assert_eq!(turns["items"][0]["text"], TURN);
    assert_eq!(turns["items"][0]["reframes"].as_array().map(Vec::len), Some(3));
    assert_eq!(turns["items"][0]["saved"], true);
    let one = w.ok(&format!("/v1/turns/{turn}"), &w.ann).await;
    assert_eq!(one["text"], TURN);
    let s = w.ok(&format!("/v1/mirror/sessions/{session}"), &w.ann).await;
    assert_eq!(s["messages"][0]["text"], MIRROR);
    assert_eq!(s["reflection"], REFLECTION);
    assert!(s["messages"][0]["fragments"][0]["reframe"]
        .as_str()
        .is_some_and(|r| !r.is_empty()));
    let list = w.ok("/v1/mirror/sessions", &w.ann).await;
    assert_eq!(list["items"][0]["id"], session.to_string());
    assert_eq!(list["items"][0]["message_count"], 1);
    let goals = w.ok("/v1/lens/goals", &w.ann).await;
    assert_eq!(goals["items"][0]["title"], GOAL);
    assert_eq!(goals["items"][0]["items"][0]["title"], ACTION);
    assert_eq!(goals["items"][0]["completed"], 1);
    let a = w.ok("/v1/lens/affirmation/today", &w.ann).await;
    assert!(a["affirmation"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(
        a["focus"],
        Value::Null,
        "the only action is done: nothing open to focus on"
    );
    assert_eq!(w.ok("/v1/lens/affirmation/today", &w.ann).await, a, "the same all day");

    // The spectrum counts signals, never text.
    let sp = w.ok("/v1/spectrum/weekly", &w.ann).await;
    let r = &sp["reflection"][0];
    assert_eq!(
        (r["sessions"].as_i64(), r["turns"].as_i64(), r["saved_turns"].as_i64()),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(r["completion_rate"], 1.0);
    let fragments: i64 = r["fragments"]
        .as_object()
        .expect("per category")
        .values()
        .filter_map(Value::as_i64)
        .sum();
    assert!(fragments >= 1);
    assert!(!sp.to_string().contains("Tangerine"));
    // The weekly insight is written from those counts (here by the built-in provider).
    let insight = sp["insight"]["text"].as_str().expect("an insight");
    assert!(insight.contains("2 times"), "a session and a turn: {insight}");
    assert!(MARKERS.iter().all(|m| !insight.contains(m)));

    // Bob sees none of it, whatever the id.
    assert_eq!(
        w.get(&format!("/v1/turns/{turn}"), &w.bob).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        w.get(&format!("/v1/mirror/sessions/{session}"), &w.bob).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(w.ok("/v1/turns", &w.bob).await["items"], serde_json::json!([]));
    assert_eq!(
        w.ok("/v1/mirror/sessions", &w.bob).await["items"],
        serde_json::json!([])
    );
    assert_eq!(w.ok("/v1/lens/goals", &w.bob).await["items"], serde_json::json!([]));
    assert!(w.ok("/v1/spectrum/weekly", &w.bob).await.get("reflection").is_none());
    assert_eq!(w.get("/v1/turns/not-a-uuid", &w.ann).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(
        w.get("/v1/mirror/sessions?limit=0", &w.ann).await.0,
        StatusCode::BAD_REQUEST
    );
    // Without a token: 401 with the error JSON, everywhere.
    for path in [
        "/v1/mirror/sessions".to_owned(),
        format!("/v1/mirror/sessions/{session}"),
        "/v1/turns".to_owned(),
        format!("/v1/turns/{turn}"),
        "/v1/lens/goals".to_owned(),
        "/v1/lens/affirmation/today".to_owned(),
        "/v1/me/export".to_owned(),
    ] {
        let req = Request::builder().uri(&path).body(Body::empty()).expect("request");
        let res = w.app.clone().oneshot(req).await.expect("response");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
        let body = res.into_body().collect().await.expect("body").to_bytes();
        let v: Value = serde_json::from_slice(&body).expect("error JSON");
        assert!(v["error"]["code"].is_string(), "{path}: {v}");
    }

    // The export has everything of ann's, opened.
    let export = w.ok("/v1/me/export", &w.ann).await.to_string();
    for m in MARKERS {
        assert!(export.contains(m), "{m} missing from the export");
    }
    assert!(export.contains(EMAIL) && export.contains("the launch is on friday"));
    assert!(!w.ok("/v1/me/export", &w.bob).await.to_string().contains("Marmalade"));

    // Excluding the session takes its signals out; a reset starts over; a rebuild agrees.
    w.c.exclude_session(&w.ann, MirrorSessionId(session))
        .await
        .expect("exclude");
    w.project().await;
    let r = &w.ok("/v1/spectrum/weekly", &w.ann).await["reflection"][0];
    assert_eq!((r["sessions"].as_i64(), r["turns"].as_i64()), (Some(0), Some(1)));
    assert_eq!(r["fragments"], serde_json::json!({}));
    let before: Value = w.ok("/v1/spectrum/monthly", &w.ann).await;
    prism_projections::rebuild::rebuild(w.c.store(), &spectrum::Spectrum, spectrum::TABLES, 100, |_| {})
        .await
        .expect("rebuild");
    assert_eq!(
        w.ok("/v1/spectrum/monthly", &w.ann).await,
        before,
        "a rebuild honours the exclusion"
    );
    w.c.reset_spectrum(&w.ann).await.expect("reset");
    w.project().await;
    let after = w.ok("/v1/spectrum/weekly", &w.ann).await;
    assert!(
        after.get("reflection").is_none() && after["buckets"] == serde_json::json!([]),
        "{after}"
    );
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn erasure_leaves_no_plaintext_anywhere_and_the_log_still_verifies(pool: PgPool) {
    let w = World::new(pool).await;
    let (turn, session, _) = w.ann_reflects().await;
    // Bob shares the workspace and sees ann's message with her name.
    let join = w.c.rotate_join_code(&w.ann, WorkspaceId(w.ws)).await.expect("code");
    let code = join.body()["join_code"].as_str().expect("code").to_owned();
    w.c.join_workspace(&w.bob, WorkspaceId(w.ws), &code)
        .await
        .expect("join");
    w.project().await;
    let msgs = w.ok(&format!("/v1/channels/{}/messages", w.channel), &w.bob).await;
    assert_eq!(msgs["items"][0]["author_name"], NAME);
    let before_erasure: usize = w
        .every_row()
        .await
        .iter()
        .filter(|(_, r)| MARKERS.iter().any(|m| r.contains(m)))
        .count();
    assert_eq!(before_erasure, 0, "journal text is sealed even before erasure");
    let me = w.ok("/v1/me", &w.ann).await;
    assert_eq!(
        (me["email"].as_str(), me["name"].as_str()),
        (Some(EMAIL), Some(NAME)),
        "opened for reading"
    );
    let members = w.ok(&format!("/v1/workspaces/{}/members", w.ws), &w.bob).await;
    assert!(members.to_string().contains(NAME));
    let registered: String = sqlx::query_scalar(
        "SELECT payload::text FROM events WHERE event_type = 'user.registered' AND aggregate_id = $1",
    )
    .bind(w.ann.actor.user_id.0)
    .fetch_one(&w.pool)
    .await
    .expect("registered");
    assert!(
        !registered.contains("Zanzibar") && !registered.contains("zanzibar"),
        "sealed in the log: {registered}"
    );

    let out = w.c.erase_me(&w.ann).await.expect("erase");
    assert_eq!(out.happened, prism_commands::Happened::Accepted);
    assert_eq!(
        w.c.erase_me(&w.ann).await.expect("again").happened,
        prism_commands::Happened::Accepted,
        "erasing twice answers the same"
    );
    w.project().await;

    // Nothing of ann's journal, email or name in any table — events included, except the
    // email and name in her `user.registered` event (see the README: not sealed yet).
    for (table, row) in w.every_row().await {
        for m in MARKERS {
            assert!(!row.contains(m), "{m} in {table}: {row}");
        }
        if !(table == "events" && row.contains("user.registered")) {
            assert!(
                !row.contains(EMAIL) && !row.contains(NAME),
                "ann's email or name in {table}: {row}"
            );
        }
    }
    // Nor in the search index (reflection never enters it; her profile is not in it).
    let audiences = vec![format!("ws:{}", w.ws)];
    for q in MARKERS.iter().copied().chain(["Zanzibar", "zanzibar"]) {
        let page = w
            .index
            .search(&SearchQuery {
                text: q.into(),
                audiences: audiences.clone(),
                kind: None,
                limit: 10,
                offset: 0,
            })
            .expect("search");
        assert_eq!(page.total, 0, "{q} found in the index");
    }
    // Her key is gone: the sealed text in the log opens to nothing.
    let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM data_keys WHERE user_id = $1 AND wrapped IS NOT NULL")
        .bind(w.ann.actor.user_id.0)
        .fetch_one(&w.pool)
        .await
        .expect("keys");
    assert_eq!(keys, 0);
    // Her workspace message stays, from "erased user".
    let msgs = w.ok(&format!("/v1/channels/{}/messages", w.channel), &w.bob).await;
    assert_eq!(msgs["items"][0]["body"], "the launch is on friday");
    assert_eq!(msgs["items"][0]["author_name"], "erased user");
    // Her reflection read models are gone, her tokens are refused, and she can no longer
    // sign in.
    for (table, id) in [("rm_turns", turn), ("rm_mirror_sessions", session)] {
        let left: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table} WHERE owner_id = $1"))
            .bind(w.ann.actor.user_id.0)
            .fetch_one(&w.pool)
            .await
            .expect("count");
        assert_eq!(left, 0, "{table} still holds {id}");
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (status, body) = w.get(&format!("/v1/turns/{turn}"), &w.ann).await;
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(body["error"]["code"], "session_revoked");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{status} {body}");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(w.c.login(EMAIL, "correct horse battery", None).await.is_err());
    assert!(w.c.request_turn(&w.ann, "I should write again").await.is_err());
    // The log was never rewritten: every chain and the audit trail's copies verify.
    let report = prism_projections::history::History::from_pool(w.pool.clone())
        .verify(None)
        .await
        .expect("verify");
    assert!(report.ok, "{:?}", report.first_bad);
    let erased: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'user.erased' AND aggregate_id = $1")
            .bind(w.ann.actor.user_id.0)
            .fetch_one(&w.pool)
            .await
            .expect("count");
    assert_eq!(erased, 1);
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn turns_filter_on_saved_and_the_export_streams_every_page(pool: PgPool) {
    let w = World::new(pool).await;
    w.c.set_plan(w.ann.actor.user_id, "prism_plus").await.expect("plan");
    // 450 turns: more than two pages of the export's turn reader, one in three saved.
    let mut saved = Vec::new();
    for i in 0..450 {
        let id =
            w.c.request_turn(&w.ann, &format!("Thought number {i}: I always mess up."))
                .await
                .expect("turn")
                .id;
        if i % 3 == 0 {
            w.c.save_turn(&w.ann, prism_domain::TurnId(id)).await.expect("save");
            saved.push(id);
        }
    }
    w.project().await;
    let only_saved = w.ok("/v1/turns?saved=true&limit=200", &w.ann).await;
    let items = only_saved["items"].as_array().expect("items");
    assert_eq!(items.len(), 150);
    assert!(items.iter().all(|t| t["saved"] == true));
    let unsaved = w.ok("/v1/turns?saved=false&limit=200", &w.ann).await;
    assert!(unsaved["items"]
        .as_array()
        .expect("items")
        .iter()
        .all(|t| t["saved"] == false));
    assert_eq!(
        w.ok("/v1/turns?limit=200", &w.ann).await["items"]
            .as_array()
            .map(Vec::len),
        Some(200)
    );
    let (status, v) = w.get("/v1/turns?saved=perhaps", &w.ann).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["error"]["code"].is_string());

    // The export is one JSON document, streamed (no length announced up front), with all of it.
    let token = w.jwt.issue(w.ann.actor.user_id, vec![]).expect("token");
    let req = Request::builder()
        .uri("/v1/me/export")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    let res = w.app.clone().oneshot(req).await.expect("response");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("content-length").is_none(), "streamed, not buffered");
    assert_eq!(res.headers()["content-type"], "application/json");
    let mut body = res.into_body().into_data_stream();
    let (mut bytes, mut chunks) = (Vec::new(), 0);
    while let Some(chunk) = futures::StreamExt::next(&mut body).await {
        bytes.extend_from_slice(&chunk.expect("chunk"));
        chunks += 1;
    }
    assert!(chunks > 1, "written in more than one chunk");
    let export: Value = serde_json::from_slice(&bytes).expect("one JSON document");
    let turns = export["turns"].as_array().expect("turns");
    assert_eq!(turns.len(), 450);
    assert!(turns
        .iter()
        .any(|t| t["text"] == "Thought number 449: I always mess up."));
    assert_eq!(export["account"]["email"], EMAIL);
    assert_eq!(export["plan"], "prism_plus");
    for key in [
        "memberships",
        "messages",
        "docs",
        "mirror_sessions",
        "lens_goals",
        "spectrum",
        "usage",
        "ai_usage",
    ] {
        assert!(export[key].is_array(), "{key}: {}", export[key]);
    }
}
