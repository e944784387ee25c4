//! Analysts' path: export the log → rebuild every projection offline into a fresh database and
//! a fresh index directory → the same read models, audit rows and spectrum buckets, row for
//! row, and a search index that answers the same queries with the same ids.

use std::sync::Arc;

use prism_auth::{Jwt, PasswordHasherId};
use prism_commands::{CommandContext, Commands};
use prism_domain::{DocId, LensGoalId, MessageId, MirrorSessionId, TurnId, WorkspaceId};
use prism_event_store::PgEventStore;
use prism_projections::offline::{self, RebuildPlan, Source};
use prism_projections::search::{SearchIndex, SearchIndexer, SearchQuery};
use prism_projections::{audit, read_models, spectrum, Projection, Projector, ProjectorConfig};
use sqlx::PgPool;
use uuid::Uuid;

fn config() -> ProjectorConfig {
    ProjectorConfig::new(std::sync::Arc::new(prism_bus::LocalBus::new()), 37)
}

/// A varied history: people, workspaces, members, channels, messages with edits, deletions,
/// reactions and threads, docs through their lifecycle, a direct conversation, sign-ins.
async fn history(c: &Commands) -> Vec<Uuid> {
    let mut people = Vec::new();
    for i in 0..4 {
        let t = c
            .register(
                &format!("p{i}@example.com"),
                "correct horse battery",
                &format!("P{i}"),
                None,
            )
            .await
            .expect("register");
        people.push(CommandContext::new(t.user_id));
    }
    let _ = c.login("p0@example.com", "wrong password!!", None).await;
    // An impersonation, started and ended.
    c.grant_platform_role(people[0].actor.user_id, "admin")
        .await
        .expect("grant");
    let imp = c
        .start_impersonation(&people[0], people[1].actor.user_id, "ticket 1")
        .await
        .expect("impersonate");
    c.end_impersonation(&people[0], imp.id).await.expect("end");
    let mut workspaces = Vec::new();
    for (n, owner) in people.iter().take(2).enumerate() {
        let ws = WorkspaceId(c.create_workspace(owner, &format!("W{n}")).await.expect("ws").id);
        let code = c.rotate_join_code(owner, ws).await.expect("code").body()["join_code"]
            .as_str()
            .expect("code")
            .to_owned();
        for p in people.iter().skip(2) {
            c.join_workspace(p, ws, &code).await.expect("join");
        }
        // Invitations: one waiting, one revoked.
        c.invite(owner, ws, &format!("guest{n}@example.com"), "member")
            .await
            .expect("invite");
        let revoked = c
            .invite(owner, ws, &format!("gone{n}@example.com"), "admin")
            .await
            .expect("invite")
            .id;
        c.revoke_invitation(owner, revoked).await.expect("revoke");
        let mut channels = Vec::new();
        for name in ["general", "random"] {
            channels.push(c.create_channel(owner, ws, name).await.expect("ch").id);
        }
        // API keys: one that writes (its last use comes from the log), one revoked.
        let new = |scopes: &[&str]| {
            let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
            prism_commands::workspace::NewApiKey::parse("bot", &scopes, None).expect("key")
        };
        let key = c
            .create_api_key(owner, ws, new(&["read", "write"]))
            .await
            .expect("key")
            .id;
        let mut bot = CommandContext::new(prism_domain::UserId(key));
        bot.actor.kind = prism_commands::ActorKind::ApiKey { workspace: ws };
        c.post_message(&bot, channels[0], "nightly build is green", None)
            .await
            .expect("a key posts");
        let gone = c.create_api_key(owner, ws, new(&["read"])).await.expect("key").id;
        c.revoke_api_key(owner, gone).await.expect("revoke key");
        for i in 0..40 {
            let who = if i % 3 == 0 { owner } else { &people[2 + i % 2] };
            let ch = channels[i % 2];
            let m = MessageId(
                c.post_message(who, ch, &format!("message {i} about the launch plan number {n}"), None)
                    .await
                    .expect("post")
                    .id,
            );
            if i % 4 == 0 {
                c.toggle_reaction(&people[2], m, "👍").await.expect("react");
            }
            if i % 7 == 0 {
                c.edit_message(who, m, &format!("edited {i} budget review"))
                    .await
                    .expect("edit");
            }
            if i % 11 == 0 {
                c.delete_message(who, m).await.expect("delete");
            }
            if i % 9 == 0 && i % 11 != 0 {
                c.post_message(owner, ch, &format!("a reply to {i}"), Some(m))
                    .await
                    .expect("reply");
            }
        }
        let d = DocId(
            c.create_doc(owner, ws, "Launch plan", "first draft")
                .await
                .expect("doc")
                .id,
        );
        c.update_doc(&people[2], d, None, Some("second draft with budget"))
            .await
            .expect("edit");
        c.archive_doc(owner, d, true).await.expect("archive");
        c.archive_doc(owner, d, false).await.expect("restore");
        let conv = c
            .start_conversation(&people[2], ws, people[3].actor.user_id)
            .await
            .expect("conv")
            .id;
        c.post_message(&people[3], conv, "a private launch note", None)
            .await
            .expect("dm");
        // A file, attached to a message that mentions someone.
        let blobs = c.blobs().expect("blobs");
        let bytes = futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"launch numbers"))]);
        let staged = blobs.stage(bytes, 1 << 20).await.expect("staged");
        let file = c
            .upload_file(owner, ws, "numbers.txt", staged)
            .await
            .expect("upload")
            .id;
        c.post_message_with(owner, channels[0], "see the numbers @everyone", None, &[file])
            .await
            .expect("attached");
        workspaces.push(ws.0);
    }
    // Reflection: every kind of reflective event, an excluded session, a deleted one, and a
    // user who erases their account afterwards.
    for (i, p) in people.iter().enumerate() {
        let turn = c.request_turn(p, "I always get this wrong").await.expect("turn").id;
        c.save_turn(p, TurnId(turn)).await.expect("save");
        let mut sessions = Vec::new();
        for _ in 0..3 {
            let s = MirrorSessionId(c.start_session(p).await.expect("session").id);
            let out = c
                .submit_message(p, s, "Everyone thinks I never finish anything.")
                .await
                .expect("message");
            let f: Uuid = out.body()["fragments"][0]["id"]
                .as_str()
                .and_then(|x| x.parse().ok())
                .expect("fragment");
            c.reframe_fragment(p, f).await.expect("reframe");
            c.close_session(p, s, Some("better now")).await.expect("close");
            sessions.push(s);
        }
        c.exclude_session(p, sessions[1]).await.expect("exclude");
        c.delete_session(p, sessions[2]).await.expect("delete");
        let g = LensGoalId(c.create_goal(p, "Rest").await.expect("goal").id);
        let a: Uuid = c.add_action(p, g, "Sleep early").await.expect("action").body()["id"]
            .as_str()
            .and_then(|x| x.parse().ok())
            .expect("action");
        c.complete_action(p, a).await.expect("complete");
        // What the writers append: a weekly insight, the day's affirmations.
        let today = chrono::Utc::now().date_naive();
        let week = prism_projections::spectrum::week_start(today);
        let counts = prism_ai_gateway::WeekSummary {
            turns: 1,
            ..Default::default()
        };
        c.write_insight(p.actor.user_id, week, &counts, format!("counts {i}"))
            .await
            .expect("insight");
        c.write_affirmations(today).await.expect("affirmations");
        if i == 3 {
            c.erase_me(p).await.expect("erase");
        }
    }
    workspaces
}

async fn rows(pool: &PgPool, table: &str) -> Vec<String> {
    sqlx::query_scalar(&format!("SELECT to_jsonb(t)::text FROM {table} t ORDER BY 1"))
        .fetch_all(pool)
        .await
        .expect(table)
}

async fn fresh_database(live: &PgPool) -> (PgPool, String) {
    let name = format!("prism_offline_{}", Uuid::now_v7().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(live)
        .await
        .expect("create db");
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let url = match base.rfind('/') {
        Some(i) if base[..i].ends_with(':') || base[..i].contains('@') || base[..i].contains("//") => {
            format!("{}/{name}", &base[..i])
        }
        _ => format!("{base}/{name}"),
    };
    let pool = prism_event_store::db::connect(&url, 8).await.expect("connect");
    prism_event_store::db::migrate(&pool).await.expect("migrate");
    (pool, name)
}

/// Every hit's id, sorted: the live index was written in many small commits and the rebuilt one
/// in one, so equal scores may tie-break differently (and deleted documents still weigh on a
/// segment's statistics until merged); what must agree is what is found.
fn ids(index: &SearchIndex, q: &str, audiences: &[String]) -> Vec<Uuid> {
    let page = index
        .search(&SearchQuery {
            text: q.into(),
            audiences: audiences.to_vec(),
            kind: None,
            limit: 500,
            offset: 0,
        })
        .expect("search");
    assert!(page.total < 500);
    let mut ids: Vec<Uuid> = page.hits.into_iter().map(|h| h.id).collect();
    ids.sort();
    ids
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn an_offline_rebuild_from_an_export_equals_the_live_projections(pool: PgPool) {
    let store = PgEventStore::new(pool.clone(), 0);
    let blob_dir = tempfile::tempdir().expect("blob dir");
    let c = Commands::new(
        store.clone(),
        Jwt::new(b"offline-tests-offline-tests-offline!!", Jwt::DEFAULT_TTL),
        PasswordHasherId::new(1024, 1).expect("params"),
    )
    .with_blobs(prism_blobs::Blobs::local(blob_dir.path()).expect("blobs"));
    let workspaces = history(&c).await;

    // Live: the runtime's projectors.
    let live_dir = tempfile::tempdir().expect("dir");
    let live_index = Arc::new(SearchIndex::open(live_dir.path()).expect("index"));
    let indexer = Arc::new(
        SearchIndexer::new(live_index.clone(), store.store_id().await.expect("id"), 15_000_000).expect("indexer"),
    );
    let pg: Vec<(Arc<dyn Projection>, &[&str])> = vec![
        (Arc::new(read_models::ReadModels), read_models::TABLES),
        (Arc::new(audit::AuditTrail), audit::TABLES),
        (Arc::new(spectrum::Spectrum), spectrum::TABLES),
    ];
    for (p, _) in &pg {
        Projector::new(store.clone(), p.clone(), config())
            .catch_up()
            .await
            .expect("project");
    }
    Projector::with_target(store.clone(), indexer.clone(), config())
        .catch_up()
        .await
        .expect("index");
    indexer.commit().expect("commit");

    // Export (compressed), then rebuild everything from the file alone.
    let files = tempfile::tempdir().expect("dir");
    let export = files.path().join("log.ndjson.zst");
    let summary = offline::export(&store, &export, None, 0, |_| {}).await.expect("export");
    let in_log: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(summary.events as i64, in_log);
    let (target, name) = fresh_database(&pool).await;
    let index_dir = files.path().join("index");
    let rebuilt = offline::rebuild(
        RebuildPlan {
            source: Source::File(export.clone()),
            into: target.clone(),
            projections: offline::PROJECTIONS.iter().map(|s| s.to_string()).collect(),
            index_dir: Some(index_dir.clone()),
            batch: 53,
        },
        |_| {},
    )
    .await
    .expect("rebuild");
    assert_eq!(rebuilt.events as i64, in_log);

    for (p, tables) in &pg {
        for t in *tables {
            let (live, offline) = (rows(&pool, t).await, rows(&target, t).await);
            assert!(!live.is_empty(), "{t} is empty: the history should fill it");
            assert_eq!(live, offline, "{} table {t}", p.name());
        }
        let at: i64 = sqlx::query_scalar("SELECT position FROM projection_status WHERE name = $1")
            .bind(p.name())
            .fetch_one(&target)
            .await
            .expect("status");
        assert_eq!(at, summary.last_position);
    }

    let rebuilt_index = SearchIndex::open(&index_dir).expect("open");
    assert_eq!(rebuilt_index.position(), summary.last_position);
    let audiences: Vec<String> = workspaces.iter().map(|w| format!("ws:{w}")).collect();
    let mut convs: Vec<String> = sqlx::query_scalar("SELECT 'conv:' || conversation_id FROM rm_conversations")
        .fetch_all(&pool)
        .await
        .expect("convs");
    convs.extend(audiences.clone());
    for q in [
        "launch",
        "\"launch plan\"",
        "budget",
        "edit*",
        "launch -plan",
        "private",
        "draft OR reply",
    ] {
        let live = ids(&live_index, q, &convs);
        assert!(!live.is_empty() || q == "launch -plan", "{q} finds something live");
        assert_eq!(live, ids(&rebuilt_index, q, &convs), "{q}");
    }
    assert_eq!(live_index.num_docs(), rebuilt_index.num_docs());

    // A plain export rebuilds the same too (spot check: the audit trail), and a second rebuild
    // into the same database replaces rather than doubles.
    let plain = files.path().join("log.ndjson");
    offline::export(&store, &plain, None, 0, |_| {}).await.expect("export");
    offline::rebuild(
        RebuildPlan {
            source: Source::File(plain),
            into: target.clone(),
            projections: vec!["audit".into()],
            index_dir: None,
            batch: 1000,
        },
        |_| {},
    )
    .await
    .expect("rebuild");
    assert_eq!(rows(&pool, "audit_trail").await, rows(&target, "audit_trail").await);

    // Parquet: the same events, read back by Prism (a rebuild equals the live tables) and by
    // an independent reader (DuckDB: counts, types and a sample row).
    let parquet = files.path().join("log.parquet");
    let p = offline::export(&store, &parquet, None, 0, |_| {})
        .await
        .expect("parquet export");
    assert_eq!(p.events as i64, in_log);
    offline::rebuild(
        RebuildPlan {
            source: Source::File(parquet.clone()),
            into: target.clone(),
            projections: vec![prism_projections::read_models::NAME.into(), "audit".into()],
            index_dir: None,
            batch: 777,
        },
        |_| {},
    )
    .await
    .expect("rebuild from parquet");
    for (p, tables) in pg.iter().filter(|(p, _)| p.name() != "spectrum") {
        for t in *tables {
            assert_eq!(
                rows(&pool, t).await,
                rows(&target, t).await,
                "{} table {t} from parquet",
                p.name()
            );
        }
    }
    let python = std::env::var("PRISM_TEST_PYTHON")
        .expect("PRISM_TEST_PYTHON: a Python with duckdb (scripts/test makes one in target/test-venv)");
    let (first_type, first_id): (String, uuid::Uuid) = sqlx::query_as(
        "SELECT event_type, event_id FROM events WHERE global_position = (SELECT min(global_position) FROM events)",
    )
    .fetch_one(&pool)
    .await
    .expect("first event");
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(
            "import duckdb, sys, json\n\
             f = sys.argv[1]\n\
             con = duckdb.connect()\n\
             n, last = con.execute(f\"select count(*), max(global_position) from read_parquet('{f}')\").fetchone()\n\
             t, i, ts = con.execute(f\"select event_type, event_id, typeof(recorded_at) from read_parquet('{f}') order by global_position limit 1\").fetchone()\n\
             ok = con.execute(f\"select count(*) from read_parquet('{f}') where json_valid(payload) and json_valid(metadata)\").fetchone()[0]\n\
             print(json.dumps({'n': n, 'last': last, 'type': t, 'id': i, 'ts': ts, 'json_ok': ok}))",
        )
        .arg(&parquet)
        .output()
        .expect("python runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json from duckdb");
    assert_eq!(seen["n"], serde_json::json!(in_log));
    assert_eq!(seen["last"], serde_json::json!(summary.last_position));
    assert_eq!(seen["type"], serde_json::json!(first_type));
    assert_eq!(seen["id"], serde_json::json!(first_id.to_string()));
    assert_eq!(seen["ts"], serde_json::json!("TIMESTAMP WITH TIME ZONE"));
    assert_eq!(seen["json_ok"], serde_json::json!(in_log));
    // The read-only indexes dropped for the bulk load are back.
    let indexes = |p: PgPool| async move {
        sqlx::query_scalar::<_, String>("SELECT indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1")
            .fetch_all(&p)
            .await
            .expect("indexes")
    };
    assert_eq!(indexes(pool.clone()).await, indexes(target.clone()).await);
    target.close().await;
    sqlx::query(&format!("DROP DATABASE {name}"))
        .execute(&pool)
        .await
        .expect("drop");
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_broken_export_is_refused_with_its_line_number(pool: PgPool) {
    let files = tempfile::tempdir().expect("dir");
    let bad = files.path().join("bad.ndjson");
    std::fs::write(&bad, "{\"not\": \"an event\"}\n").expect("write");
    let err = offline::rebuild(
        RebuildPlan {
            source: Source::File(bad),
            into: pool,
            projections: vec!["audit".into()],
            index_dir: None,
            batch: 10,
        },
        |_| {},
    )
    .await
    .expect_err("refused");
    assert!(err.to_string().contains("line 1"), "{err}");
}
