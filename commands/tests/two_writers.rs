//! Two write processes on one log: each has its own cache, and neither may act on a stale one.
//! (Two `Commands` instances over one database stand for two write-api processes.)

use prism_auth::{Jwt, PasswordHasherId};
use prism_commands::{CommandContext, CommandError, Commands};
use prism_domain::{DomainError, MessageId, UserId, WorkspaceId};
use prism_event_store::PgEventStore;
use sqlx::PgPool;

fn process(pool: &PgPool) -> Commands {
    Commands::new(
        PgEventStore::new(pool.clone(), 0).with_group_commit(2, 64),
        Jwt::new(b"two-writers-two-writers-two-writers!", Jwt::DEFAULT_TTL),
        PasswordHasherId::new(1024, 1).expect("params"),
    )
}

async fn member_world(a: &Commands) -> (CommandContext, CommandContext, WorkspaceId, uuid::Uuid) {
    let owner = CommandContext::new(UserId::new());
    let member = CommandContext::new(UserId::new());
    let created = a.create_workspace(&owner, "Acme").await.expect("workspace");
    let ws = WorkspaceId(created.id);
    let code = created.body()["join_code"].as_str().expect("code").to_owned();
    a.join_workspace(&member, ws, &code).await.expect("join");
    let ch = a.create_channel(&owner, ws, "general").await.expect("channel").id;
    (owner, member, ws, ch)
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_member_removed_by_another_process_cannot_post_through_a_stale_cache(pool: PgPool) {
    let (a, b) = (process(&pool), process(&pool));
    let (owner, member, ws, ch) = member_world(&a).await;
    // A has the workspace and channel cached; the member posts through A.
    a.post_message(&member, ch, "hello", None)
        .await
        .expect("post through A");
    // B removes the member. A's cache does not know.
    b.remove_member(&owner, ws, member.actor.user_id)
        .await
        .expect("remove through B");
    let refused = a.post_message(&member, ch, "still here?", None).await;
    assert!(
        matches!(refused, Err(CommandError::Domain(DomainError::NotFound("workspace")))),
        "{refused:?}"
    );
    // And the owner, still a member, posts through A without trouble (A reloaded on the way).
    a.post_message(&owner, ch, "fine", None)
        .await
        .expect("owner posts through A");
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn edits_through_two_processes_both_land_in_order(pool: PgPool) {
    let (a, b) = (process(&pool), process(&pool));
    let (_, member, _, ch) = member_world(&a).await;
    let m = MessageId(a.post_message(&member, ch, "v1", None).await.expect("post").id);
    a.edit_message(&member, m, "v2").await.expect("edit through A");
    // B has nothing cached; A's cache is now stale after B edits.
    let v3 = b.edit_message(&member, m, "v3").await.expect("edit through B");
    let v4 = a
        .edit_message(&member, m, "v4")
        .await
        .expect("edit through A on a stale cache");
    assert_eq!((v3.version, v4.version), (3, 4));
    let loaded = a
        .store()
        .load::<prism_domain::aggregates::Message>(m.0)
        .await
        .expect("load");
    assert_eq!(loaded.state.body, "v4");
}
