//! The search projection on a real Tantivy index in a temp dir, fed from the real Postgres log.

use std::sync::Arc;

use prism_auth::{Jwt, PasswordHasherId};
use prism_commands::{CommandContext, Commands};
use prism_domain::{ChannelId, DocId, MessageId, UserId, WorkspaceId};
use prism_event_store::PgEventStore;
use prism_projections::search::{SearchError, SearchIndex, SearchIndexer, SearchQuery};
use prism_projections::{Projector, ProjectorConfig};
use sqlx::PgPool;
use uuid::Uuid;

fn commands(store: &PgEventStore) -> Commands {
    Commands::new(
        store.clone(),
        Jwt::new(b"search-tests-search-tests-search-tests", Jwt::DEFAULT_TTL),
        PasswordHasherId::new(1024, 1).expect("params"),
    )
}

struct World {
    store: PgEventStore,
    c: Commands,
    index: Arc<SearchIndex>,
    indexer: Arc<SearchIndexer>,
    projector: Projector,
    _dir: tempfile::TempDir,
}

async fn world(pool: PgPool) -> World {
    let store = PgEventStore::new(pool, 100);
    let dir = tempfile::tempdir().expect("tempdir");
    let index = Arc::new(SearchIndex::open(dir.path()).expect("index"));
    let store_id = store.store_id().await.expect("store id");
    let indexer = Arc::new(SearchIndexer::new(index.clone(), store_id, 15_000_000).expect("indexer"));
    let projector = Projector::with_target(
        store.clone(),
        indexer.clone(),
        ProjectorConfig::new(std::sync::Arc::new(prism_bus::LocalBus::new()), 500),
    );
    World {
        c: commands(&store),
        store,
        index,
        indexer,
        projector,
        _dir: dir,
    }
}

impl World {
    /// Applies the log and commits (the live indexer commits at most once a second).
    async fn index(&self) {
        self.projector.catch_up().await.expect("catch up");
        self.indexer.commit().expect("commit");
    }

    fn search(&self, q: &str, audiences: &[String]) -> Result<Vec<(String, Uuid, String)>, SearchError> {
        let page = self.index.search(&SearchQuery {
            text: q.into(),
            audiences: audiences.to_vec(),
            kind: None,
            limit: 20,
            offset: 0,
        })?;
        Ok(page.hits.into_iter().map(|h| (h.kind, h.id, h.snippet)).collect())
    }

    fn ids(&self, q: &str, audiences: &[String]) -> Vec<Uuid> {
        self.search(q, audiences)
            .expect("search")
            .into_iter()
            .map(|h| h.1)
            .collect()
    }
}

struct Space {
    owner: CommandContext,
    ws: WorkspaceId,
    ch: ChannelId,
}

async fn space(c: &Commands, name: &str) -> Space {
    let owner = CommandContext::new(UserId::new());
    let ws = WorkspaceId(c.create_workspace(&owner, name).await.expect("ws").id);
    let ch = ChannelId(c.create_channel(&owner, ws, "general").await.expect("ch").id);
    Space { owner, ws, ch }
}

async fn post(c: &Commands, s: &Space, text: &str) -> MessageId {
    MessageId(c.post_message(&s.owner, s.ch.0, text, None).await.expect("post").id)
}

fn aud(ws: WorkspaceId) -> String {
    format!("ws:{}", ws.0)
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn edits_and_deletes_are_reflected(pool: PgPool) {
    let w = world(pool).await;
    let s = space(&w.c, "Acme").await;
    let a = post(&w.c, &s, "the quarterly budget review is on friday").await;
    let b = post(&w.c, &s, "lunch order for the offsite").await;
    // Edited before the first commit: the edit must find the staged document.
    w.c.edit_message(&s.owner, b, "dinner order for the offsite")
        .await
        .expect("edit");
    let doc = DocId(
        w.c.create_doc(&s.owner, s.ws, "Budget plan", "numbers for the year")
            .await
            .expect("doc")
            .id,
    );
    w.index().await;

    let all = [aud(s.ws)];
    assert_eq!(w.ids("budget", &all).len(), 2, "the message and the doc");
    assert!(w.ids("lunch", &all).is_empty(), "the old text is gone");
    assert_eq!(w.ids("dinner", &all), vec![b.0]);

    // After a commit: edits and deletions of committed documents.
    w.c.edit_message(&s.owner, a, "the annual review is on monday")
        .await
        .expect("edit");
    w.c.delete_message(&s.owner, b).await.expect("delete");
    w.c.update_doc(&s.owner, doc, Some("Hiring plan"), None)
        .await
        .expect("update");
    w.index().await;
    assert!(w.ids("budget", &all).is_empty(), "{:?}", w.search("budget", &all));
    assert_eq!(w.ids("annual", &all), vec![a.0]);
    assert!(w.ids("dinner", &all).is_empty());
    assert_eq!(w.ids("hiring", &all), vec![doc.0], "a new title, the body kept");
    assert_eq!(w.ids("numbers", &all), vec![doc.0]);

    w.c.archive_doc(&s.owner, doc, true).await.expect("archive");
    w.index().await;
    assert!(w.ids("hiring", &all).is_empty(), "archived docs are not found");
    w.c.archive_doc(&s.owner, doc, false).await.expect("restore");
    w.c.delete_channel(&s.owner, s.ch).await.expect("delete channel");
    w.index().await;
    assert_eq!(w.ids("hiring", &all), vec![doc.0]);
    assert!(
        w.ids("annual", &all).is_empty(),
        "a deleted channel's messages go with it"
    );
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn another_tenants_documents_are_never_returned_nor_counted(pool: PgPool) {
    let w = world(pool).await;
    let mine = space(&w.c, "Mine").await;
    let theirs = space(&w.c, "Theirs").await;
    post(&w.c, &mine, "secret launch date").await;
    for _ in 0..3 {
        post(&w.c, &theirs, "secret launch plans").await;
    }
    // A direct conversation inside my workspace between two others: not mine to read.
    let other = CommandContext::new(UserId::new());
    let code = w.c.rotate_join_code(&mine.owner, mine.ws).await.expect("code").body()["join_code"]
        .as_str()
        .expect("code")
        .to_owned();
    w.c.join_workspace(&other, mine.ws, &code).await.expect("join");
    let third = CommandContext::new(UserId::new());
    w.c.join_workspace(&third, mine.ws, &code).await.expect("join");
    let conv =
        w.c.start_conversation(&other, mine.ws, third.actor.user_id)
            .await
            .expect("conv")
            .id;
    w.c.post_message(&other, conv, "secret between us", None)
        .await
        .expect("dm");
    w.index().await;

    let page = w
        .index
        .search(&SearchQuery {
            text: "secret".into(),
            audiences: vec![aud(mine.ws)],
            kind: None,
            limit: 1,
            offset: 0,
        })
        .expect("search");
    assert_eq!(page.total, 1, "only my workspace's channel message is counted");
    assert_eq!(page.hits.len(), 1);
    assert_eq!(page.hits[0].workspace_id, Some(mine.ws.0));
    // The conversation's members see it.
    let members = [aud(mine.ws), format!("conv:{conv}")];
    assert_eq!(w.ids("secret", &members).len(), 2);
    assert!(w.ids("secret", &[]).is_empty(), "no workspaces, nothing");
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn query_syntax_phrases_prefixes_and_ranking(pool: PgPool) {
    let w = world(pool).await;
    let s = space(&w.c, "Acme").await;
    let scattered = post(&w.c, &s, "the release went out and the notes about it were late").await;
    let exact = post(&w.c, &s, "please read the release notes before friday").await;
    let other = post(&w.c, &s, "deployment checklist for the weekend").await;
    w.index().await;
    let all = [aud(s.ws)];

    let ranked = w.ids("release notes", &all);
    assert_eq!(ranked, vec![exact.0, scattered.0], "the exact phrase ranks first");
    assert_eq!(
        w.ids("\"release notes\"", &all),
        vec![exact.0],
        "a phrase matches only the phrase"
    );
    assert_eq!(w.ids("deploy*", &all), vec![other.0], "a prefix");
    let either = w.ids("checklist OR friday", &all);
    assert_eq!(either.len(), 2);
    assert_eq!(w.ids("release -friday", &all), vec![scattered.0], "a boolean exclusion");

    let hits = w.search("checklist", &all).expect("search");
    assert!(
        hits[0].2.contains("<mark>checklist</mark>"),
        "snippet marks the term: {}",
        hits[0].2
    );

    // Text outside the query language is searched as the words it holds.
    assert!(w.search("nosuchfield:x", &all).is_ok());
    for loose in ["\"checklist", "checklist)"] {
        let hits = w.search(loose, &all).expect("searched as words");
        assert!(!hits.is_empty(), "{loose:?} finds the checklist");
    }
    assert!(w.search("(\" :", &all).expect("no words").is_empty());
    match w.search("", &all) {
        Err(SearchError::BadQuery(msg)) => assert!(!msg.is_empty()),
        other => panic!("an empty query is refused, got {other:?}"),
    }
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn the_checkpoint_lives_in_the_commit_and_survives_a_restart(pool: PgPool) {
    let w = world(pool.clone()).await;
    let s = space(&w.c, "Acme").await;
    post(&w.c, &s, "first words").await;
    w.index().await;
    let committed = w.index.position();
    assert!(committed > 0);
    // Staged but not committed: lost with the process, applied again at the next start.
    post(&w.c, &s, "second words").await;
    w.projector.catch_up().await.expect("catch up");
    let dir = w._dir.path().to_owned();
    let head =
        w.c.post_message(&s.owner, s.ch.0, "third words", None)
            .await
            .expect("post")
            .position
            .expect("position");
    drop(w.projector);
    drop(w.indexer);
    drop(w.index);

    let index = Arc::new(SearchIndex::open(&dir).expect("reopen"));
    assert_eq!(index.position(), committed, "the position of the last commit");
    let indexer = Arc::new(
        SearchIndexer::new(index.clone(), w.store.store_id().await.expect("id"), 15_000_000).expect("indexer"),
    );
    let projector = Projector::with_target(
        w.store.clone(),
        indexer.clone(),
        ProjectorConfig::new(std::sync::Arc::new(prism_bus::LocalBus::new()), 500),
    );
    projector.catch_up().await.expect("catch up");
    indexer.commit().expect("commit");
    assert_eq!(index.position(), head);
    let page = index
        .search(&SearchQuery {
            text: "words".into(),
            audiences: vec![aud(s.ws)],
            kind: Some("message".into()),
            limit: 10,
            offset: 0,
        })
        .expect("search");
    assert_eq!(page.total, 3, "each message once");
}
