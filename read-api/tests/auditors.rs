//! Auditors, analysts and search over HTTP: the audit trail and its verification, history and
//! state at a position, spectrum, and search — with real commands, projected through the
//! runtime's Postgres catch-up, and a real Tantivy index in a temp dir.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use prism_auth::{Jwt, PasswordHasherId};
use prism_commands::{CommandContext, Commands};
use prism_domain::{ChannelId, MessageId, UserId, WorkspaceId};
use prism_event_store::PgEventStore;
use prism_projections::search::{SearchIndex, SearchIndexer};
use prism_projections::{audit, read_models, spectrum, Projector, ProjectorConfig};
use serde_json::{json, Value};
use sqlx::PgPool;
use tower::ServiceExt;
use uuid::Uuid;

const SECRET: &[u8] = b"auditor-tests-auditor-tests-auditor!";

struct World {
    pool: PgPool,
    store: PgEventStore,
    app: axum::Router,
    jwt: Jwt,
    c: Commands,
    projectors: Vec<Projector>,
    indexer: Arc<SearchIndexer>,
    index: Arc<SearchIndex>,
    owner: CommandContext,
    member: CommandContext,
    stranger: CommandContext,
    ws: Uuid,
    ch: Uuid,
    their_ws: Uuid,
    _dir: tempfile::TempDir,
}

fn config() -> ProjectorConfig {
    ProjectorConfig::new(std::sync::Arc::new(prism_bus::LocalBus::new()), 100)
}

async fn world(pool: PgPool) -> World {
    let store = PgEventStore::new(pool.clone(), 0);
    let jwt = Jwt::new(SECRET, Jwt::DEFAULT_TTL);
    let c = Commands::new(
        store.clone(),
        jwt.clone(),
        PasswordHasherId::new(1024, 1).expect("params"),
    );
    let mut people = Vec::new();
    for name in ["owner", "member", "stranger"] {
        let t = c
            .register(&format!("{name}@example.com"), "correct horse battery", name, None)
            .await
            .expect("register");
        people.push(CommandContext::new(t.user_id));
    }
    let (owner, member, stranger) = (people[0].clone(), people[1].clone(), people[2].clone());
    let ws = c.create_workspace(&owner, "Acme").await.expect("ws").id;
    let code = c.rotate_join_code(&owner, WorkspaceId(ws)).await.expect("code").body()["join_code"]
        .as_str()
        .expect("code")
        .to_owned();
    c.join_workspace(&member, WorkspaceId(ws), &code).await.expect("join");
    let ch = c
        .create_channel(&owner, WorkspaceId(ws), "general")
        .await
        .expect("ch")
        .id;
    let their_ws = c.create_workspace(&stranger, "Other").await.expect("ws").id;
    let their_ch = c
        .create_channel(&stranger, WorkspaceId(their_ws), "general")
        .await
        .expect("ch")
        .id;
    c.post_message(&stranger, their_ch, "quarterly numbers are secret", None)
        .await
        .expect("post");

    let dir = tempfile::tempdir().expect("tempdir");
    let index = Arc::new(SearchIndex::open(dir.path()).expect("index"));
    let indexer =
        Arc::new(SearchIndexer::new(index.clone(), store.store_id().await.expect("id"), 15_000_000).expect("indexer"));
    let mut projectors: Vec<Projector> = [
        Arc::new(read_models::ReadModels) as Arc<dyn prism_projections::Projection>,
        Arc::new(audit::AuditTrail),
        Arc::new(spectrum::Spectrum),
    ]
    .into_iter()
    .map(|p| Projector::new(store.clone(), p, config()))
    .collect();
    projectors.push(Projector::with_target(store.clone(), indexer.clone(), config()));
    let state = prism_read_api::AppState::new(pool.clone(), jwt.clone()).with_search(index.clone());
    let app = prism_read_api::app(state.with_max_wait(std::time::Duration::from_millis(200)));
    let w = World {
        pool,
        store,
        app,
        jwt,
        c,
        projectors,
        indexer,
        index,
        owner,
        member,
        stranger,
        ws,
        ch,
        their_ws,
        _dir: dir,
    };
    w.project().await;
    w
}

impl World {
    async fn project(&self) {
        for p in &self.projectors {
            p.catch_up().await.expect("project");
        }
        self.indexer.commit().expect("commit");
    }
    fn token(&self, who: &CommandContext) -> String {
        self.jwt.issue(who.actor.user_id, vec![]).expect("token")
    }
    fn auditor(&self) -> String {
        self.jwt.issue(UserId::new(), vec!["auditor".into()]).expect("token")
    }
    async fn call(&self, path: &str, token: Option<&str>, accept: Option<&str>) -> (StatusCode, Vec<u8>) {
        let mut req = Request::builder().uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(a) = accept {
            req = req.header("accept", a);
        }
        let res = self
            .app
            .clone()
            .oneshot(req.body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        let status = res.status();
        let body = res.into_body().collect().await.expect("body").to_bytes().to_vec();
        (status, body)
    }
    async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let (status, body) = self.call(path, token, None).await;
        let v = serde_json::from_slice(&body).unwrap_or_else(|_| json!({"raw": String::from_utf8_lossy(&body)}));
        if status.is_client_error() || status.is_server_error() {
            assert!(v["error"]["code"].is_string(), "{path}: error answers are JSON: {v}");
        }
        (status, v)
    }
    async fn ok(&self, path: &str, token: &str) -> Value {
        let (status, v) = self.get(path, Some(token)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {v}");
        v
    }
    async fn post(&self, who: &CommandContext, text: &str) -> (MessageId, i64) {
        let o = self.c.post_message(who, self.ch, text, None).await.expect("post");
        (MessageId(o.id), o.position.expect("position"))
    }
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn the_audit_trail_is_for_admins_filters_and_pages(pool: PgPool) {
    let w = world(pool).await;
    let (m, _) = w.post(&w.member, "hello").await;
    w.c.edit_message(&w.member, m, "hello again").await.expect("edit");
    w.c.delete_message(&w.owner, m).await.expect("delete");
    w.project().await;
    let owner = w.token(&w.owner);
    let base = format!("/v1/workspaces/{}/audit", w.ws);

    let all = w.ok(&base, &owner).await;
    let items = all["items"].as_array().expect("items");
    let actions: Vec<&str> = items.iter().map(|i| i["action"].as_str().unwrap_or("")).collect();
    for a in [
        "workspace.created",
        "member.joined",
        "channel.created",
        "message.created",
        "message.updated",
        "message.deleted",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    assert_eq!(items[0]["action"], "message.deleted", "newest first");
    assert_eq!(items[0]["actor_id"], json!(w.owner.actor.user_id.0));
    assert_eq!(items[0]["resource_type"], "message");
    assert_eq!(items[0]["resource_id"], json!(m.0));
    assert!(
        items.iter().all(|i| i["workspace_id"] == json!(w.ws)),
        "only this workspace"
    );

    let by_member = w
        .ok(&format!("{base}?actor={}", w.member.actor.user_id.0), &owner)
        .await;
    let acts: Vec<&str> = by_member["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["action"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(acts, vec!["message.updated", "message.created", "member.joined"]);
    let edits = w.ok(&format!("{base}?action=message.updated"), &owner).await;
    assert_eq!(edits["items"].as_array().map(Vec::len), Some(1));
    let future = w.ok(&format!("{base}?from=2999-01-01T00:00:00Z"), &owner).await;
    assert_eq!(future["items"].as_array().map(Vec::len), Some(0));

    // Paging: two at a time, no overlap, all of them.
    let (mut seen, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let path = match &cursor {
            Some(c) => format!("{base}?limit=2&cursor={c}"),
            None => format!("{base}?limit=2"),
        };
        let page = w.ok(&path, &owner).await;
        seen.extend(
            page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|i| i["position"].as_i64().unwrap_or(0)),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), items.len());
    assert!(seen.windows(2).all(|p| p[0] > p[1]));

    // A plain member: 403; a stranger: 404; nobody: 401; an auditor: yes.
    assert_eq!(w.get(&base, Some(&w.token(&w.member))).await.0, StatusCode::FORBIDDEN);
    assert_eq!(w.get(&base, Some(&w.token(&w.stranger))).await.0, StatusCode::NOT_FOUND);
    assert_eq!(w.get(&base, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(w.get(&base, Some(&w.auditor())).await.0, StatusCode::OK);
    for bad in ["?limit=0", "?cursor=abc", "?actor=not-a-uuid", "?from=yesterday"] {
        assert_eq!(
            w.get(&format!("{base}{bad}"), Some(&owner)).await.0,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    // An empty range holds nothing.
    let (status, body) = w
        .get(
            &format!("{base}?from=2030-01-01T00:00:00Z&to=2020-01-01T00:00:00Z"),
            Some(&owner),
        )
        .await;
    assert_eq!(
        (status, body["items"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(0))
    );
    assert_eq!(
        w.get("/v1/workspaces/nope/audit", Some(&owner)).await.0,
        StatusCode::BAD_REQUEST
    );
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn sign_ins_are_in_the_platform_audit_trail(pool: PgPool) {
    let w = world(pool).await;
    let t =
        w.c.login("owner@example.com", "correct horse battery", Some("req-1".into()))
            .await
            .expect("login");
    // A few wrong passwords are no event at all; ten in a row lock the account, which is one.
    for _ in 0..10 {
        assert!(w.c.login("owner@example.com", "wrong password!!", None).await.is_err());
    }
    assert!(w.c.login("nobody@example.com", "wrong password!!", None).await.is_err());
    let next = w.c.refresh(&t.refresh_token, None).await.expect("refresh");
    assert!(w.c.refresh(&t.refresh_token, None).await.is_err(), "reuse");
    w.c.logout(&next.refresh_token, None).await.expect("logout");
    w.project().await;

    assert_eq!(
        w.get("/v1/audit", Some(&w.token(&w.owner))).await.0,
        StatusCode::FORBIDDEN
    );
    let trail = w.ok("/v1/audit?limit=200", &w.auditor()).await;
    let auth: Vec<(String, Value, Value)> = trail["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["resource_type"] == "auth")
        .map(|i| {
            (
                i["action"].as_str().unwrap_or("").to_owned(),
                i["actor_id"].clone(),
                i["request_id"].clone(),
            )
        })
        .rev()
        .collect();
    let owner = json!(w.owner.actor.user_id.0);
    // Sessions starting and being refreshed are facts too (the owner's session list is built
    // from them); the sign-in facts proper are these.
    assert!(auth.iter().any(|a| a.0 == "auth.session_started"));
    // So is each registration's request to confirm the address.
    assert!(auth.iter().any(|a| a.0 == "auth.email_verification_requested"));
    let auth: Vec<_> = auth
        .into_iter()
        .filter(|a| !a.0.starts_with("auth.session_") && a.0 != "auth.email_verification_requested")
        .collect();
    let actions: Vec<&str> = auth.iter().map(|a| a.0.as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "auth.login_succeeded",
            "auth.login_locked",
            "auth.refresh_reuse_detected",
            "auth.logged_out"
        ]
    );
    assert_eq!(auth[0].1, owner);
    assert_eq!(auth[0].2, json!("req-1"));
    assert_eq!(auth[1].1, owner, "the lockout names the account");
    // Nothing of an address is in the log, not even a digest.
    let raw: Vec<String> = sqlx::query_scalar("SELECT payload::text FROM events WHERE aggregate_type = 'auth'")
        .fetch_all(&w.pool)
        .await
        .expect("events");
    for r in raw {
        assert!(!r.contains("email") && !r.contains("@example.com"), "{r}");
    }
}

async fn verify(w: &World) -> Value {
    w.ok(&format!("/v1/workspaces/{}/audit/verify", w.ws), &w.token(&w.owner))
        .await
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn verify_catches_a_tampered_payload_a_deleted_row_and_a_reordered_sequence(pool: PgPool) {
    let w = world(pool).await;
    let mut msgs = Vec::new();
    for i in 0..3 {
        let (m, _) = w.post(&w.owner, &format!("note {i}")).await;
        w.c.edit_message(&w.owner, m, &format!("note {i}, edited"))
            .await
            .expect("edit");
        w.c.edit_message(&w.owner, m, &format!("note {i}, edited twice"))
            .await
            .expect("edit");
        msgs.push(m);
    }
    w.project().await;
    let clean = verify(&w).await;
    assert_eq!(clean["ok"], true, "{clean}");
    assert!(clean["checked"].as_u64().unwrap_or(0) >= 9);
    assert_eq!(
        w.get(
            &format!("/v1/workspaces/{}/audit/verify", w.ws),
            Some(&w.token(&w.member))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );

    // 1. A payload changed in place.
    let pos: i64 = sqlx::query_scalar("SELECT global_position FROM events WHERE aggregate_id = $1 AND sequence = 2")
        .bind(msgs[0].0)
        .fetch_one(&w.pool)
        .await
        .expect("pos");
    sqlx::query("UPDATE events SET payload = jsonb_set(payload, '{body}', '\"rewritten\"') WHERE global_position = $1")
        .bind(pos)
        .execute(&w.pool)
        .await
        .expect("tamper");
    let v = verify(&w).await;
    assert_eq!(v["ok"], false);
    assert_eq!(v["first_bad"]["position"], pos, "{v}");
    assert_eq!(v["first_bad"]["aggregate_id"], json!(msgs[0].0));

    // 2. A row deleted (the last of its aggregate: only the audit trail's copy can tell).
    let last: i64 =
        sqlx::query_scalar("DELETE FROM events WHERE aggregate_id = $1 AND sequence = 3 RETURNING global_position")
            .bind(msgs[1].0)
            .fetch_one(&w.pool)
            .await
            .expect("delete");
    let v = verify(&w).await;
    assert_eq!(v["bad"], 2, "{v}");
    // And one from the middle of an aggregate.
    let middle: i64 =
        sqlx::query_scalar("DELETE FROM events WHERE aggregate_id = $1 AND sequence = 2 RETURNING global_position")
            .bind(msgs[2].0)
            .fetch_one(&w.pool)
            .await
            .expect("delete");
    let v = verify(&w).await;
    // Twice: the chain has a gap, and the audit trail's copy has no event any more.
    assert_eq!(v["bad"], 4, "{v}");
    assert!(pos < last && last < middle);
    assert_eq!(v["first_bad"]["position"], pos);

    // 3. A sequence reordered: two events of the workspace aggregate swap places.
    let cli = prism_projections::history::History::new(w.store.clone());
    let before = cli.verify(Some(w.ws)).await.expect("verify").bad;
    for (from, to) in [(2, 1_000), (3, 2), (1_000, 3)] {
        sqlx::query("UPDATE events SET sequence = $3 WHERE aggregate_type = 'workspace' AND aggregate_id = $1 AND sequence = $2")
            .bind(w.ws)
            .bind(from)
            .bind(to)
            .execute(&w.pool)
            .await
            .expect("reorder");
    }
    let after = cli.verify(Some(w.ws)).await.expect("verify");
    assert_eq!(after.bad, before + 1, "{after:?}");
    let f = after.first_bad.expect("bad");
    assert_eq!(
        (f.aggregate_type.as_str(), f.aggregate_id),
        ("workspace", w.ws),
        "the workspace's events came first"
    );
    assert!(f.position < pos);
    // Another tenant's log is untouched.
    let theirs = cli.verify(Some(w.their_ws)).await.expect("verify");
    assert!(theirs.ok, "{theirs:?}");
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn history_in_global_order_as_ndjson_and_state_at_a_position(pool: PgPool) {
    let w = world(pool).await;
    // The live aggregate's state after each change, with the position it was at.
    let ch = ChannelId(w.ch);
    let mut states = Vec::new();
    for name in ["general-2", "general-3"] {
        let o = w.c.rename_channel(&w.owner, ch, name).await.expect("rename");
        let loaded = w
            .store
            .load::<prism_domain::aggregates::Channel>(w.ch)
            .await
            .expect("load");
        states.push((
            o.position.expect("position"),
            serde_json::to_value(&loaded.state).expect("json"),
        ));
    }
    w.project().await;
    let owner = w.token(&w.owner);
    for (pos, state) in &states {
        let v = w
            .ok(
                &format!("/v1/aggregates/channel/{}/state?at_position={pos}", w.ch),
                &owner,
            )
            .await;
        assert_eq!(&v["state"], state, "at {pos}");
        assert_eq!(v["position"], *pos);
    }
    // Between the two renames, the first name.
    let v = w
        .ok(
            &format!("/v1/aggregates/channel/{}/state?at_position={}", w.ch, states[1].0 - 1),
            &owner,
        )
        .await;
    assert_eq!(v["state"], states[0].1);
    assert_eq!(
        w.get(
            &format!("/v1/aggregates/channel/{}/state?at_position=1", w.ch),
            Some(&owner)
        )
        .await
        .0,
        StatusCode::NOT_FOUND,
        "not yet created"
    );

    let events = w.ok(&format!("/v1/aggregates/channel/{}/events", w.ch), &owner).await;
    let seqs: Vec<i64> = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(seqs, vec![1, 2, 3]);
    assert!(events["items"][0]["hash"].as_str().is_some_and(|h| h.len() == 64));

    // Permissions: a member, a stranger, the auditor; bad input.
    let path = format!("/v1/aggregates/channel/{}/events", w.ch);
    assert_eq!(w.get(&path, Some(&w.token(&w.member))).await.0, StatusCode::NOT_FOUND);
    assert_eq!(w.get(&path, Some(&w.token(&w.stranger))).await.0, StatusCode::NOT_FOUND);
    assert_eq!(w.get(&path, Some(&w.auditor())).await.0, StatusCode::OK);
    assert_eq!(w.get(&path, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        w.get(&format!("/v1/aggregates/planet/{}/events", w.ch), Some(&owner))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        w.get(
            &format!("/v1/aggregates/channel/{}/state?at_position=-1", w.ch),
            Some(&owner)
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        w.get(
            &format!("/v1/aggregates/channel/{}/events", Uuid::now_v7()),
            Some(&owner)
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    let me = w.owner.actor.user_id.0;
    assert_eq!(
        w.get(&format!("/v1/aggregates/user/{me}/state"), Some(&owner)).await.0,
        StatusCode::OK,
        "one's own user stream"
    );
    assert_eq!(
        w.get(&format!("/v1/aggregates/user/{me}/state"), Some(&w.token(&w.member)))
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    // The workspace's log, in global order, paged; the whole log is for auditors.
    let page = w.ok(&format!("/v1/events?workspace_id={}&limit=3", w.ws), &owner).await;
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 3);
    assert!(items.iter().all(|e| e["tenant_id"] == json!(w.ws)));
    let next = page["next_after"].as_i64().expect("more");
    let rest = w
        .ok(
            &format!("/v1/events?workspace_id={}&after={next}&limit=1000", w.ws),
            &owner,
        )
        .await;
    let total = 3 + rest["items"].as_array().map_or(0, Vec::len);
    assert_eq!(w.get("/v1/events", Some(&owner)).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        w.get(&format!("/v1/events?workspace_id={}", w.their_ws), Some(&owner))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        w.get("/v1/events?limit=5000", Some(&w.auditor())).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        w.get("/v1/events?after=x", Some(&w.auditor())).await.0,
        StatusCode::BAD_REQUEST
    );

    // NDJSON: one envelope a line, everything, in order, and its hash chains verify.
    let (status, body) = w
        .call(
            &format!("/v1/events?workspace_id={}", w.ws),
            Some(&owner),
            Some("application/x-ndjson"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let lines: Vec<prism_event_store::StoredEvent> = body
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("an envelope per line"))
        .collect();
    assert_eq!(lines.len(), total);
    assert!(lines.windows(2).all(|p| p[0].global_position < p[1].global_position));
    let all = w
        .call("/v1/events", Some(&w.auditor()), Some("application/x-ndjson"))
        .await
        .1;
    let count = all.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count() as i64;
    let in_log: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&w.pool)
        .await
        .expect("count");
    assert_eq!(count, in_log);
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn spectrum_counts_the_callers_and_the_workspaces_activity(pool: PgPool) {
    let w = world(pool).await;
    let (m1, _) = w.post(&w.owner, "one").await;
    let (m2, _) = w.post(&w.owner, "two").await;
    let (m3, _) = w.post(&w.member, "three").await;
    w.c.edit_message(&w.owner, m1, "one!").await.expect("edit");
    w.c.delete_message(&w.owner, m2).await.expect("delete");
    w.c.toggle_reaction(&w.member, m1, "👍").await.expect("react");
    w.c.toggle_reaction(&w.member, m1, "🎉").await.expect("react");
    w.c.toggle_reaction(&w.member, m1, "🎉")
        .await
        .expect("un-react: not counted");
    w.c.toggle_reaction(&w.owner, m3, "👍").await.expect("react");
    w.c.create_doc(&w.owner, WorkspaceId(w.ws), "Plan", "v1")
        .await
        .expect("doc");
    w.project().await;

    let mine = w.ok("/v1/spectrum/weekly", &w.token(&w.owner)).await;
    let b = mine["buckets"].as_array().expect("buckets");
    assert_eq!(b.len(), 1, "{mine}");
    let b = &b[0];
    assert_eq!(b["messages_posted"], 2);
    assert_eq!(b["edits"], 1);
    assert_eq!(b["deletions"], 1);
    assert_eq!(b["reactions_given"], 1);
    assert_eq!(b["reactions_received"], 2);
    assert_eq!(b["docs_created"], 1);
    assert_eq!(b["active_days"], 1);
    assert_eq!(b["distinct_channels"], 1);
    assert_eq!(b["streak"], 1);
    assert_eq!(mine["current_streak"], 1);
    let monday = chrono::Utc::now().date_naive().week(chrono::Weekday::Mon).first_day();
    assert_eq!(b["period_start"], json!(monday));

    let monthly = w.ok("/v1/spectrum/monthly", &w.token(&w.member)).await;
    let mb = &monthly["buckets"][0];
    assert_eq!(mb["messages_posted"], 1);
    assert_eq!(mb["reactions_given"], 2);
    assert_eq!(mb["reactions_received"], 1);

    let ws = w
        .ok(&format!("/v1/workspaces/{}/spectrum/weekly", w.ws), &w.token(&w.owner))
        .await;
    assert_eq!(ws["buckets"][0]["messages_posted"], 3);
    assert_eq!(ws["buckets"][0]["reactions_given"], 3);
    let path = format!("/v1/workspaces/{}/spectrum/weekly", w.ws);
    assert_eq!(w.get(&path, Some(&w.token(&w.member))).await.0, StatusCode::FORBIDDEN);
    assert_eq!(w.get(&path, Some(&w.token(&w.stranger))).await.0, StatusCode::NOT_FOUND);
    assert_eq!(w.get("/v1/spectrum/weekly", None).await.0, StatusCode::UNAUTHORIZED);
    // An empty range is its last day; a longer one than five years, its last five.
    for (range, from) in [
        ("?from=2026-02-01&to=2026-01-01", "2025-12-29"),
        ("?from=2000-01-01&to=2026-01-01", "2020-12-28"),
    ] {
        let (status, body) = w
            .get(&format!("/v1/spectrum/weekly{range}"), Some(&w.token(&w.owner)))
            .await;
        assert_eq!(
            (status, body["to"].as_str()),
            (StatusCode::OK, Some("2026-01-01")),
            "{range}"
        );
        assert!(body["from"].as_str() >= Some(from), "{range}: {body}");
    }
    for bad in ["?from=2026-13-01", "?to=2026-01-01&to=2026-01-02"] {
        assert_eq!(
            w.get(&format!("/v1/spectrum/weekly{bad}"), Some(&w.token(&w.owner)))
                .await
                .0,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    let past = w
        .ok("/v1/spectrum/weekly?from=2020-01-01&to=2020-03-01", &w.token(&w.owner))
        .await;
    assert_eq!(past["buckets"].as_array().map(Vec::len), Some(0));
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn search_over_http_is_tenant_bound_and_explains_bad_queries(pool: PgPool) {
    let w = world(pool).await;
    let (m, _) = w.post(&w.member, "our quarterly numbers look fine").await;
    w.project().await;
    let owner = w.token(&w.owner);
    let v = w.ok("/v1/search?q=quarterly", &owner).await;
    assert_eq!(
        v["total"], 1,
        "the other workspace's message is neither returned nor counted: {v}"
    );
    assert_eq!(v["items"][0]["id"], json!(m.0));
    assert!(v["items"][0]["snippet"]
        .as_str()
        .is_some_and(|s| s.contains("<mark>quarterly</mark>")));
    let scoped = w
        .ok(
            &format!("/v1/search?q=quarterly&workspace_id={}&kind=message", w.ws),
            &owner,
        )
        .await;
    assert_eq!(scoped["total"], 1);
    assert_eq!(
        w.get(
            &format!("/v1/search?q=quarterly&workspace_id={}", w.their_ws),
            Some(&owner)
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    let stranger = w.ok("/v1/search?q=quarterly", &w.token(&w.stranger)).await;
    assert_eq!(stranger["total"], 1);
    assert_ne!(stranger["items"][0]["id"], json!(m.0));

    // Text outside the query language is searched as its words.
    let unclosed = w.ok("/v1/search?q=%22quarterly", &owner).await;
    assert_eq!(unclosed["total"], 1, "{unclosed}");
    let nothing = w.ok("/v1/search?q=%22%3A", &owner).await;
    assert_eq!(nothing["total"], 0, "{nothing}");
    let long = "a".repeat(501);
    for bad in [
        "/v1/search",
        "/v1/search?q=",
        "/v1/search?q=x&kind=user",
        "/v1/search?q=x&limit=0",
        "/v1/search?q=x&cursor=-1",
        "/v1/search?q=x&workspace_id=1",
    ] {
        assert_eq!(w.get(bad, Some(&owner)).await.0, StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(
        w.get(&format!("/v1/search?q={long}"), Some(&owner)).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(w.get("/v1/search?q=x", None).await.0, StatusCode::UNAUTHORIZED);
    // Read-your-writes on search waits for the index's commit.
    let (_, pos) = w.post(&w.owner, "brand new words").await;
    let (status, _) = w
        .call(&format!("/v1/search?q=brand&min_position={pos}"), Some(&owner), None)
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "not indexed yet");
    w.project().await;
    let v = w.ok(&format!("/v1/search?q=brand&min_position={pos}"), &owner).await;
    assert_eq!(v["total"], 1);
}

/// The attack: brackets nested 40 deep (81 characters) once took the parser days, doubling
/// with each level, on a thread the request's end did not stop.
#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_deeply_nested_search_is_refused_at_once_and_leaves_nothing_running(pool: PgPool) {
    let w = world(pool).await;
    w.post(&w.member, "quarterly numbers").await;
    w.project().await;
    let owner = w.token(&w.owner);
    let nested = |depth: usize| format!("{}quarterly{}", "(".repeat(depth), ")".repeat(depth));
    for depth in [40, 240] {
        let started = std::time::Instant::now();
        let (status, body) = w.get(&format!("/v1/search?q={}", nested(depth)), Some(&owner)).await;
        // A liveness bound, not a speed target: the old parser needed days at depth 40.
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "depth {depth}");
        assert_eq!(status, StatusCode::BAD_REQUEST, "depth {depth}: {body}");
        assert_eq!(body["error"]["code"], "invalid_search_query");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("at most 8")),
            "{body}"
        );
        assert_eq!(w.index.in_flight(), 0, "no search thread outlives its answer");
    }
    // Within the bounds, nesting still searches.
    let v = w.ok(&format!("/v1/search?q={}", nested(8)), &owner).await;
    assert_eq!(v["total"], 1, "{v}");
    assert_eq!(w.index.in_flight(), 0);
    // Ranges are not the search box's language: a bracket is a word separator.
    let v = w.ok("/v1/search?q=%5Bquarterly%5D", &owner).await;
    assert_eq!(v["total"], 1, "{v}");
    let many = vec!["word"; 65].join("%20");
    let (status, body) = w.get(&format!("/v1/search?q={many}"), Some(&owner)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn the_new_endpoints_are_in_openapi(pool: PgPool) {
    let w = world(pool).await;
    let doc = w.ok("/openapi.json", "unused").await;
    for path in [
        "/v1/search",
        "/v1/audit",
        "/v1/workspaces/{id}/audit",
        "/v1/workspaces/{id}/audit/verify",
        "/v1/events",
        "/v1/aggregates/{type}/{id}/events",
        "/v1/aggregates/{type}/{id}/state",
        "/v1/spectrum/weekly",
        "/v1/spectrum/monthly",
        "/v1/workspaces/{id}/spectrum/weekly",
    ] {
        assert!(doc["paths"][path]["get"].is_object(), "{path} is not in /openapi.json");
    }
}
