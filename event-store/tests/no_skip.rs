//! No reader may skip an event: many concurrent writers, one deliberately slow transaction,
//! and a reader that checkpoints the last position it got. At the end the reader's sequence
//! must equal the table's, position for position.

use std::time::Duration;

use prism_event_store::hash::GENESIS;
use prism_event_store::*;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

fn one_event(id: Uuid) -> AppendBatch {
    AppendBatch {
        tenant_id: None,
        aggregate_type: "probe".into(),
        aggregate_id: id,
        expected_version: 0,
        prev_hash: GENESIS,
        events: vec![NewEvent {
            event_type: "probe.happened".into(),
            event_version: 1,
            payload: json!({}),
        }],
        metadata: Metadata {
            actor_kind: "system".into(),
            correlation_id: id,
            ..Default::default()
        },
        claims: vec![],
        releases: vec![],
        guards: vec![],
        idempotency: None,
    }
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_checkpointing_reader_never_skips_an_event(pool: PgPool) {
    no_skip(PgEventStore::new(pool.clone(), 0), pool).await;
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_checkpointing_reader_never_skips_an_event_with_group_commit(pool: PgPool) {
    no_skip(PgEventStore::new(pool.clone(), 0).with_group_commit(2, 64), pool).await;
}

async fn no_skip(store: PgEventStore, pool: PgPool) {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);

    // The reader: tails the log from a checkpoint, as the relay and projectors do.
    let reader_store = store.clone();
    let reader = tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut checkpoint = 0i64;
        loop {
            let done = *stop_rx.borrow();
            let batch = reader_store.read_all(checkpoint, 100).await.expect("read_all");
            for e in &batch {
                seen.push(e.global_position);
                checkpoint = e.global_position;
            }
            if batch.is_empty() {
                if done {
                    break;
                }
                tokio::task::yield_now().await;
            }
        }
        seen
    });

    // The slow transaction: takes a position early, commits after the others have moved on.
    let slow_store = store.clone();
    let slow_pool = pool.clone();
    let slow = tokio::spawn(async move {
        let mut tx = slow_pool.begin().await.expect("begin");
        let appended = slow_store
            .append_on(&mut tx, one_event(Uuid::now_v7()))
            .await
            .expect("slow append");
        tokio::time::sleep(Duration::from_millis(700)).await;
        tx.commit().await.expect("commit");
        appended.last_position
    });

    // Concurrent writers, some of whose transactions abort (leaving permanent gaps).
    let mut writers = Vec::new();
    for w in 0..12 {
        let store = store.clone();
        let pool = pool.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..60 {
                if (w + i) % 17 == 0 {
                    let mut tx = pool.begin().await.expect("begin");
                    store
                        .append_on(&mut tx, one_event(Uuid::now_v7()))
                        .await
                        .expect("append");
                    tx.rollback().await.expect("rollback");
                } else {
                    store.append(one_event(Uuid::now_v7())).await.expect("append");
                }
            }
        }));
    }
    for w in writers {
        w.await.expect("writer");
    }
    let slow_position = slow.await.expect("slow");
    stop_tx.send(true).expect("stop");
    let seen = reader.await.expect("reader");

    let all: Vec<i64> = sqlx::query_scalar("SELECT global_position FROM events ORDER BY global_position")
        .fetch_all(&pool)
        .await
        .expect("table");
    assert!(all.contains(&slow_position));
    // The slow transaction's position was overtaken by later commits: the case that skips.
    assert!(
        all.iter().filter(|p| **p > slow_position).count() > 100,
        "the slow append was not overtaken"
    );
    assert_eq!(
        seen, all,
        "the reader's sequence must be the table's, with nothing skipped"
    );
}
