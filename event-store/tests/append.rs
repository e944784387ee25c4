//! The event log's contract: append with expected version, load (snapshot + tail), upcasts,
//! set-rule claims, idempotency records, the hash chain.

use prism_domain::aggregates::{Doc, DocEvent, Message};
use prism_domain::event::{to_parts, KernelEvent};
use prism_domain::{DocId, UserId, WorkspaceId};
use prism_event_store::hash::GENESIS;
use prism_event_store::*;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

fn batch(id: Uuid, expected: i64, prev: hash::Hash, events: &[DocEvent]) -> AppendBatch {
    AppendBatch {
        tenant_id: Some(Uuid::now_v7()),
        aggregate_type: "doc".into(),
        aggregate_id: id,
        expected_version: expected,
        prev_hash: prev,
        events: events
            .iter()
            .map(|e| {
                let (t, p) = to_parts(e).expect("serialise");
                NewEvent {
                    event_type: t,
                    event_version: e.schema_version(),
                    payload: p,
                }
            })
            .collect(),
        metadata: Metadata {
            actor_kind: "user".into(),
            correlation_id: Uuid::now_v7(),
            ..Default::default()
        },
        claims: vec![],
        releases: vec![],
        guards: vec![],
        idempotency: None,
    }
}

fn created(id: Uuid) -> DocEvent {
    DocEvent::Created {
        doc_id: DocId(id),
        workspace_id: WorkspaceId::new(),
        author_id: UserId::new(),
        title: "T".into(),
        body: "b".into(),
        mentions: vec![],
        attachments: vec![],
    }
}
fn edit(body: &str) -> DocEvent {
    DocEvent::Updated {
        title: None,
        body: Some(body.into()),
        edited_by: UserId::new(),
        mentions: vec![],
        attachments: None,
    }
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn appended_events_load_back_in_order(pool: PgPool) {
    let store = PgEventStore::new(pool, 0);
    let id = Uuid::now_v7();
    let a = store
        .append(batch(id, 0, GENESIS, &[created(id), edit("two")]))
        .await
        .expect("append");
    assert_eq!(a.version, 2);
    assert_eq!(a.last_position, a.first_position + 1);
    let b = store
        .append(batch(id, 2, a.last_hash, &[edit("three")]))
        .await
        .expect("append");
    assert_eq!(b.version, 3);
    let doc = store.load::<Doc>(id).await.expect("load");
    assert_eq!(
        (doc.version, doc.state.body.as_str(), doc.last_position),
        (3, "three", b.last_position)
    );
    assert_eq!(doc.last_hash, b.last_hash);
    assert_eq!(verify_chain(&store.load_raw("doc", id).await.expect("raw")), None);
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn two_writers_one_expected_version_exactly_one_wins(pool: PgPool) {
    let store = PgEventStore::new(pool, 0);
    let id = Uuid::now_v7();
    let a = store
        .append(batch(id, 0, GENESIS, &[created(id)]))
        .await
        .expect("append");
    let (x, y) = tokio::join!(
        store.append(batch(id, 1, a.last_hash, &[edit("x")])),
        store.append(batch(id, 1, a.last_hash, &[edit("y")])),
    );
    let wins = [x.is_ok(), y.is_ok()].iter().filter(|w| **w).count();
    assert_eq!(wins, 1, "exactly one writer must win: {x:?} {y:?}");
    let loser = if x.is_err() { x } else { y };
    assert!(
        matches!(loser, Err(StoreError::VersionConflict { expected: Some(1) })),
        "{loser:?}"
    );
    assert_eq!(store.load::<Doc>(id).await.expect("load").version, 2);
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn an_expected_version_ahead_of_the_log_or_a_forged_hash_is_refused(pool: PgPool) {
    let store = PgEventStore::new(pool, 0);
    let id = Uuid::now_v7();
    let a = store
        .append(batch(id, 0, GENESIS, &[created(id)]))
        .await
        .expect("append");
    let gap = store.append(batch(id, 5, a.last_hash, &[edit("x")])).await;
    assert!(matches!(gap, Err(StoreError::VersionConflict { .. })), "{gap:?}");
    let forged = store.append(batch(id, 1, [7u8; 32], &[edit("x")])).await;
    assert!(matches!(forged, Err(StoreError::VersionConflict { .. })), "{forged:?}");
    assert_eq!(store.load_raw("doc", id).await.expect("raw").len(), 1);
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_snapshot_replaces_the_events_before_it(pool: PgPool) {
    let store = PgEventStore::new(pool.clone(), 2);
    let id = Uuid::now_v7();
    let a = store
        .append(batch(id, 0, GENESIS, &[created(id), edit("two")]))
        .await
        .expect("append");
    let loaded = store.load::<Doc>(id).await.expect("load");
    store
        .save_snapshot("doc", id, &loaded.snapshot().expect("snap"))
        .await
        .expect("save");
    store
        .append(batch(id, 2, a.last_hash, &[edit("three")]))
        .await
        .expect("append");
    // Prove the snapshot is used: remove the events it covers, the state still loads.
    sqlx::query("DELETE FROM events WHERE aggregate_id = $1 AND sequence <= 2")
        .bind(id)
        .execute(&pool)
        .await
        .expect("delete");
    let doc = store.load::<Doc>(id).await.expect("load");
    assert_eq!(
        (doc.version, doc.state.title.as_str(), doc.state.body.as_str()),
        (3, "T", "three")
    );
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn an_old_event_version_is_upcast_on_load(pool: PgPool) {
    let store = PgEventStore::new(pool.clone(), 0);
    let id = Uuid::now_v7();
    let (ws, ch, author) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    // A `message.created` as version 1 wrote it: `text`, no `parent_id`.
    sqlx::query(
        "INSERT INTO events (event_id, tenant_id, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, recorded_at, hash)
         VALUES ($1, $2, 'message', $3, 1, 'message.created', 1, $4, '{}', now(), '\\x00')",
    )
    .bind(Uuid::now_v7())
    .bind(ws)
    .bind(id)
    .bind(json!({"message_id": id, "workspace_id": ws, "channel_id": ch, "author_id": author, "text": "hello from v1"}))
    .execute(&pool)
    .await
    .expect("insert v1");
    let msg = store.load::<Message>(id).await.expect("load");
    assert_eq!(msg.state.body, "hello from v1");
    assert_eq!(msg.state.parent_id, None);
    let raw = store.load_history("message", id).await.expect("history");
    assert_eq!(raw.events[0].event_version, 2);
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_taken_claim_refuses_the_whole_append(pool: PgPool) {
    let store = PgEventStore::new(pool, 0);
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let mut first = batch(a, 0, GENESIS, &[created(a)]);
    first.claims = vec![Claim::new("email", "ann@example.com")];
    store.append(first).await.expect("first claim");
    let mut second = batch(b, 0, GENESIS, &[created(b)]);
    second.claims = vec![Claim::new("email", "ann@example.com")];
    let refused = store.append(second).await;
    assert!(
        matches!(&refused, Err(StoreError::Taken { scope }) if scope == "email"),
        "{refused:?}"
    );
    assert!(
        store.load_raw("doc", b).await.expect("raw").is_empty(),
        "nothing half written"
    );
    assert_eq!(
        store
            .claim_owner(&Claim::new("email", "ann@example.com"))
            .await
            .expect("owner"),
        Some(a)
    );
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn an_idempotency_record_commits_with_its_events(pool: PgPool) {
    let store = PgEventStore::new(pool, 0);
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let idem = IdempotencyWrite {
        scope: "u1".into(),
        key: "k1".into(),
        fingerprint: "f".into(),
        status: 201,
        response: json!({"id": a}),
    };
    let mut first = batch(a, 0, GENESIS, &[created(a)]);
    first.idempotency = Some(idem.clone());
    let done = store.append(first).await.expect("append");
    let stored = store
        .idempotent_response("u1", "k1", std::time::Duration::from_secs(3600))
        .await
        .expect("lookup")
        .expect("stored");
    assert_eq!(stored.response, json!({"id": a, "position": done.last_position}));
    assert_eq!(stored.status, 201);
    let mut again = batch(b, 0, GENESIS, &[created(b)]);
    again.idempotency = Some(idem);
    assert!(matches!(
        store.append(again).await,
        Err(StoreError::DuplicateIdempotencyKey)
    ));
    assert!(store.load_raw("doc", b).await.expect("raw").is_empty());
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn the_hash_chain_catches_a_changed_payload(pool: PgPool) {
    let store = PgEventStore::new(pool.clone(), 0);
    let id = Uuid::now_v7();
    store
        .append(batch(id, 0, GENESIS, &[created(id), edit("2"), edit("3")]))
        .await
        .expect("append");
    sqlx::query("UPDATE events SET payload = jsonb_set(payload, '{body}', '\"tampered\"') WHERE aggregate_id = $1 AND sequence = 2")
        .bind(id)
        .execute(&pool)
        .await
        .expect("tamper");
    assert_eq!(verify_chain(&store.load_raw("doc", id).await.expect("raw")), Some(2));
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn group_commit_keeps_one_commands_conflict_from_failing_the_others(pool: PgPool) {
    let store = PgEventStore::new(pool, 0).with_group_commit(1, 64);
    let taken = Uuid::now_v7();
    let mut first = batch(taken, 0, GENESIS, &[created(taken)]);
    first.claims = vec![Claim::new("email", "taken@example.com")];
    store.append(first).await.expect("claim");
    // Many commands at once; one of them claims a taken email, one appends at a stale version.
    let ids: Vec<Uuid> = (0..40).map(|_| Uuid::now_v7()).collect();
    let mut batches: Vec<AppendBatch> = ids.iter().map(|id| batch(*id, 0, GENESIS, &[created(*id)])).collect();
    batches[7].claims = vec![Claim::new("email", "taken@example.com")];
    batches[20] = batch(taken, 0, GENESIS, &[created(taken)]);
    let results = futures::future::join_all(batches.into_iter().map(|b| store.append(b))).await;
    for (i, r) in results.iter().enumerate() {
        match i {
            7 => assert!(
                matches!(r, Err(StoreError::Taken { scope }) if scope == "email"),
                "{r:?}"
            ),
            20 => assert!(matches!(r, Err(StoreError::VersionConflict { .. })), "{r:?}"),
            _ => assert!(r.is_ok(), "command {i} failed: {r:?}"),
        }
    }
    for (i, id) in ids.iter().enumerate() {
        let n = store.load_raw("doc", *id).await.expect("raw").len();
        assert_eq!(n, usize::from(i != 7 && i != 20), "doc {i}");
    }
    // Positions are distinct and each command's own.
    let mut positions: Vec<i64> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|a| a.last_position)
        .collect();
    positions.sort_unstable();
    positions.dedup();
    assert_eq!(positions.len(), 38);
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn two_commands_of_one_group_claiming_the_same_value_one_wins(pool: PgPool) {
    let store = PgEventStore::new(pool, 0).with_group_commit(1, 64);
    for round in 0..5 {
        let value = format!("same-{round}@example.com");
        let batches: Vec<AppendBatch> = (0..6)
            .map(|_| {
                let id = Uuid::now_v7();
                let mut b = batch(id, 0, GENESIS, &[created(id)]);
                b.claims = vec![Claim::new("email", value.as_str())];
                b
            })
            .collect();
        let results = futures::future::join_all(batches.into_iter().map(|b| store.append(b))).await;
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
        assert!(
            results
                .iter()
                .filter(|r| r.is_err())
                .all(|r| matches!(r, Err(StoreError::Taken { .. }))),
            "{results:?}"
        );
    }
}
