//! Data keys in a real database: seal and open, a session's key shredded alone, erasure
//! shredding every key of a user and refusing new ones, another master key opening nothing.

use prism_domain::UserId;
use prism_vault::{MasterKey, Scope, Vault, VaultError, SHREDDED};
use sqlx::PgPool;
use uuid::Uuid;

/// What `sealed` opens to for a reader now.
async fn read(reader: &Vault, scope: Scope, sealed: &str) -> String {
    reader.opener(scope).await.expect("opener").open(sealed).expect("opens")
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn sealed_text_opens_until_its_key_is_destroyed(pool: PgPool) {
    let writer = Vault::caching(pool.clone(), MasterKey::development());
    let reader = Vault::new(pool.clone(), MasterKey::development());
    let ann = UserId::new();
    let session = Uuid::now_v7();
    let mine = writer.seal(Scope::user(ann), "I always mess up").await.expect("seal");
    let [a, b] = writer
        .seal_all(Scope::of(ann, session), ["first", "second"])
        .await
        .expect("seal");
    assert!(!mine.contains("mess"), "sealed text does not show the plaintext");
    assert_ne!(a, b);

    let openers = reader.openers(ann, &[ann.0, session]).await.expect("openers");
    assert_eq!(openers[&ann.0].open(&mine).expect("opens"), "I always mess up");
    assert_eq!(openers[&session].open(&a).expect("opens"), "first");
    // A value sealed for one scope does not open with another scope's key.
    assert!(openers[&ann.0].open(&a).is_err());
    // Another master key cannot unwrap the stored keys.
    let stranger = Vault::new(pool.clone(), MasterKey::parse(&"11".repeat(32)).expect("key"));
    assert!(stranger.opener(Scope::user(ann)).await.is_err());

    // Deleting the session shreds its text only, for every reader, cached or not.
    writer.destroy(Scope::of(ann, session)).await.expect("destroy");
    let session_opener = reader.opener(Scope::of(ann, session)).await.expect("opener");
    assert!(session_opener.shredded());
    assert_eq!(session_opener.open(&b).expect("opens"), SHREDDED);
    assert_eq!(read(&reader, Scope::user(ann), &mine).await, "I always mess up");
    assert!(matches!(
        writer.seal(Scope::of(ann, session), "again").await,
        Err(VaultError::Destroyed)
    ));

    // Erasure: every key of the user goes, and none can be made again.
    writer
        .seal(Scope::of(ann, Uuid::now_v7()), "later")
        .await
        .expect("seal");
    writer.destroy_owner(ann).await.expect("erase");
    writer.destroy_owner(ann).await.expect("erasure is idempotent");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM data_keys WHERE user_id = $1 AND wrapped IS NOT NULL")
        .bind(ann.0)
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(left, 0);
    assert_eq!(read(&reader, Scope::user(ann), &mine).await, SHREDDED);
    assert!(matches!(
        writer.seal(Scope::user(ann), "x").await,
        Err(VaultError::Destroyed)
    ));
    assert!(matches!(
        writer.seal(Scope::of(ann, Uuid::now_v7()), "x").await,
        Err(VaultError::Destroyed)
    ));

    // Another user is untouched.
    let bob = UserId::new();
    let his = writer.seal(Scope::user(bob), "fine").await.expect("seal");
    assert_eq!(read(&reader, Scope::user(bob), &his).await, "fine");
    // Unsealed values (written before sealing existed) pass through.
    assert_eq!(read(&reader, Scope::user(bob), "plain").await, "plain");
}
