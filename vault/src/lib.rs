//! Personal data in an append-only log: per-user data keys and crypto-shredding.
//!
//! Owns the `data_keys` table and the master key. Journal text, reflections, reframes and goal
//! titles are sealed with a data key (AES-256-GCM, a fresh 96-bit nonce per value, the key's
//! scope and owner as associated data so a sealed value cannot be moved elsewhere) before they
//! enter an event payload; the data key itself is stored only wrapped by the master key
//! (`PRISM_MASTER_KEY`, AES-256-GCM as well).
//!
//! A key is identified by its [`Scope`]: an owner and a scope id — the owner's own id for turns
//! and goals, a mirror session's id for that session, so deleting one session shreds only its
//! text. Erasure destroys every key of the user: the log and its hash chain stay as they are,
//! and every copy of the user's text — the events, projections that kept the sealed form,
//! exports — becomes unreadable at once.
//!
//! A sealed value is a string: `pv1:` + base64(nonce ‖ ciphertext ‖ tag). Anything else passed
//! to [`Vault::open`] is returned as it is (events written before sealing existed).
//!
//! May import `prism-domain` (ids) and sqlx; nothing above it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use prism_domain::UserId;
use rand::RngCore;
use sqlx::PgPool;

const PREFIX: &str = "pv1:";
const NONCE: usize = 12;

/// What a sealed value shows once its key is destroyed.
pub const SHREDDED: &str = "[erased]";

/// Which key: its owner and scope (the owner's own id, or one mirror session's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scope {
    pub owner: UserId,
    pub id: uuid::Uuid,
}

impl Scope {
    /// The owner's own key (turns, goals).
    pub fn user(owner: UserId) -> Self {
        Self { owner, id: owner.0 }
    }

    /// A key of its own (one mirror session).
    pub fn of(owner: UserId, id: uuid::Uuid) -> Self {
        Self { owner, id }
    }

    /// A key a workspace holds for one of its things (a webhook's signing secret): no person
    /// owns it, so no erasure takes it.
    pub fn workspace(ws: prism_domain::WorkspaceId, id: uuid::Uuid) -> Self {
        Self {
            owner: UserId(ws.0),
            id,
        }
    }

    fn aad(&self) -> [u8; 32] {
        let mut a = [0u8; 32];
        a[..16].copy_from_slice(self.id.as_bytes());
        a[16..].copy_from_slice(self.owner.0.as_bytes());
        a
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("the user's data key was destroyed")]
    Destroyed,
    #[error("a sealed value could not be opened: {0}")]
    Corrupt(&'static str),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// The key that wraps every data key. Parsed from 64 hex characters or base64 of 32 bytes.
#[derive(Clone)]
pub struct MasterKey(Arc<Aes256Gcm>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(…)")
    }
}

impl MasterKey {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let bytes = if s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|e| e.to_string())?
        } else {
            B64.decode(s)
                .map_err(|_| "PRISM_MASTER_KEY must be 64 hex characters or base64 of 32 bytes")?
        };
        if bytes.len() != 32 {
            return Err("PRISM_MASTER_KEY must be 32 bytes (64 hex characters)".into());
        }
        Ok(Self::from_bytes(&bytes))
    }

    fn from_bytes(bytes: &[u8]) -> Self {
        Self(Arc::new(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(bytes))))
    }

    /// A fixed key for local development only (the binary warns loudly when it is used).
    pub fn development() -> Self {
        Self::from_bytes(b"prism-development-master-key-32b")
    }
}

/// Users' own keys a reader looked up, with when (`None`: no key, or destroyed).
type ProfileCache = Arc<RwLock<HashMap<uuid::Uuid, (std::time::Instant, Option<Arc<Aes256Gcm>>)>>>;

/// Unwrapped keys kept by a caching vault.
type KeyCache = Arc<RwLock<HashMap<Scope, Arc<Aes256Gcm>>>>;

/// Seals and opens users' personal data. Cheap to clone.
///
/// The write side caches unwrapped keys (`caching`): a user's key is used for every journal
/// entry they write, and a destroyed key is also refused by the database for new seals. Readers
/// do not cache, so an erasure is visible to every reader at once.
#[derive(Clone)]
pub struct Vault {
    pool: PgPool,
    master: MasterKey,
    cache: Option<KeyCache>,
    /// Readers' short-lived cache of users' own keys, for profiles only (see
    /// [`Vault::user_openers`]).
    profiles: ProfileCache,
}

/// How long a reader trusts a user's profile key it looked up.
const PROFILE_TTL: std::time::Duration = std::time::Duration::from_secs(10);

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").field("caching", &self.cache.is_some()).finish()
    }
}

fn seal_with(cipher: &Aes256Gcm, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE];
    rand::thread_rng().fill_bytes(&mut nonce);
    let mut out = nonce.to_vec();
    // Encryption with a valid key and nonce cannot fail for inputs under 64 GiB.
    match cipher.encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad }) {
        Ok(ct) => out.extend_from_slice(&ct),
        Err(_) => unreachable!("AES-GCM encryption of a bounded input"),
    }
    out
}

fn open_with(cipher: &Aes256Gcm, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, VaultError> {
    if sealed.len() < NONCE + 16 {
        return Err(VaultError::Corrupt("too short"));
    }
    let (nonce, ct) = sealed.split_at(NONCE);
    cipher
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
        .map_err(|_| VaultError::Corrupt("authentication failed"))
}

/// Is this string a sealed value?
pub fn is_sealed(s: &str) -> bool {
    s.starts_with(PREFIX)
}

impl Vault {
    /// A vault for readers (no key cache).
    pub fn new(pool: PgPool, master: MasterKey) -> Self {
        Self {
            pool,
            master,
            cache: None,
            profiles: Default::default(),
        }
    }

    /// A vault for the write side, which keeps unwrapped keys in memory.
    pub fn caching(pool: PgPool, master: MasterKey) -> Self {
        Self {
            cache: Some(Default::default()),
            ..Self::new(pool, master)
        }
    }

    fn cached(&self, scope: Scope) -> Option<Arc<Aes256Gcm>> {
        let cache = self.cache.as_ref()?;
        cache.read().ok()?.get(&scope).cloned()
    }

    fn unwrap_key(&self, scope: Scope, wrapped: &[u8]) -> Result<Arc<Aes256Gcm>, VaultError> {
        let raw = open_with(&self.master.0, &scope.aad(), wrapped)
            .map_err(|_| VaultError::Corrupt("the data key does not open with this master key"))?;
        let key = Arc::new(Aes256Gcm::new_from_slice(&raw).map_err(|_| VaultError::Corrupt("data key length"))?);
        if let Some(cache) = &self.cache {
            if let Ok(mut c) = cache.write() {
                c.insert(scope, key.clone());
            }
        }
        Ok(key)
    }

    /// The scope's key, created on first use. Refused once destroyed, or once its owner is
    /// erased.
    async fn key_for_sealing(&self, scope: Scope) -> Result<Arc<Aes256Gcm>, VaultError> {
        if let Some(k) = self.cached(scope) {
            return Ok(k);
        }
        let mut raw = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut raw);
        let wrapped = seal_with(&self.master.0, &scope.aad(), &raw);
        // Insert-or-read in one statement; two writers racing end with the same key. A writer
        // that lost the race to a concurrent insert sees nothing in its statement's snapshot
        // (ON CONFLICT DO NOTHING waited for the winner's commit): it reads again.
        for _ in 0..3 {
            let row: Option<(Option<Vec<u8>>,)> = sqlx::query_as(
                "WITH ins AS (INSERT INTO data_keys (scope_id, user_id, wrapped) \
                     SELECT $1, $2, $3 WHERE NOT EXISTS \
                         (SELECT 1 FROM data_keys WHERE scope_id = $2 AND user_id = $2 AND wrapped IS NULL) \
                     ON CONFLICT DO NOTHING RETURNING wrapped) \
                 SELECT wrapped FROM ins UNION ALL SELECT wrapped FROM data_keys WHERE scope_id = $1 AND user_id = $2 LIMIT 1",
            )
            .bind(scope.id)
            .bind(scope.owner.0)
            .bind(&wrapped)
            .fetch_optional(&self.pool)
            .await?;
            match row {
                Some((Some(w),)) => return self.unwrap_key(scope, &w),
                Some((None,)) => return Err(VaultError::Destroyed),
                None => {
                    let erased: Option<i32> = sqlx::query_scalar(
                        "SELECT 1 FROM data_keys WHERE scope_id = $1 AND user_id = $1 AND wrapped IS NULL",
                    )
                    .bind(scope.owner.0)
                    .fetch_optional(&self.pool)
                    .await?;
                    if erased.is_some() {
                        return Err(VaultError::Destroyed);
                    }
                }
            }
        }
        Err(VaultError::Corrupt("the data key could not be created"))
    }

    /// Seals `plaintext` with the scope's key.
    pub async fn seal(&self, scope: Scope, plaintext: &str) -> Result<String, VaultError> {
        let [s] = self.seal_all(scope, [plaintext]).await?;
        Ok(s)
    }

    /// Seals several values with one key lookup.
    pub async fn seal_all<const N: usize>(&self, scope: Scope, values: [&str; N]) -> Result<[String; N], VaultError> {
        let key = self.key_for_sealing(scope).await?;
        let aad = scope.aad();
        Ok(values.map(|v| format!("{PREFIX}{}", B64.encode(seal_with(&key, &aad, v.as_bytes())))))
    }

    /// Openers for one owner's scopes, with one query (a scope with no key, or a destroyed
    /// one, opens everything as [`SHREDDED`]).
    pub async fn openers(
        &self,
        owner: UserId,
        scopes: &[uuid::Uuid],
    ) -> Result<HashMap<uuid::Uuid, Opener>, VaultError> {
        let mut out = HashMap::with_capacity(scopes.len());
        let mut missing = Vec::new();
        for &id in scopes {
            let scope = Scope::of(owner, id);
            match self.cached(scope) {
                Some(key) => {
                    out.insert(id, Opener { scope, key: Some(key) });
                }
                None => missing.push(id),
            }
        }
        let missing: Vec<Scope> = missing.into_iter().map(|id| Scope::of(owner, id)).collect();
        for (scope, key) in self.fetch_keys(&missing).await? {
            out.insert(scope.id, Opener { scope, key });
        }
        Ok(out)
    }

    /// The stored keys of `scopes`, unwrapped, in one query (`None`: no key, or destroyed).
    async fn fetch_keys(&self, scopes: &[Scope]) -> Result<Vec<(Scope, Option<Arc<Aes256Gcm>>)>, VaultError> {
        if scopes.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<uuid::Uuid> = scopes.iter().map(|s| s.id).collect();
        let rows: Vec<(uuid::Uuid, uuid::Uuid, Option<Vec<u8>>)> =
            sqlx::query_as("SELECT scope_id, user_id, wrapped FROM data_keys WHERE scope_id = ANY($1)")
                .bind(&ids)
                .fetch_all(&self.pool)
                .await?;
        let mut found: HashMap<uuid::Uuid, (uuid::Uuid, Option<Vec<u8>>)> =
            rows.into_iter().map(|(s, u, w)| (s, (u, w))).collect();
        scopes
            .iter()
            .map(|&scope| {
                // A key is only ever its owner's.
                let key = match found.remove(&scope.id) {
                    Some((owner, Some(w))) if owner == scope.owner.0 => Some(self.unwrap_key(scope, &w)?),
                    _ => None,
                };
                Ok((scope, key))
            })
            .collect()
    }

    /// Openers for several users' own keys (their profiles: email, display name), with one
    /// query for those not cached.
    ///
    /// Profile names are opened on every page of messages and members, so readers keep these
    /// keys for [`PROFILE_TTL`]. That does not weaken erasure: the projections replace an erased
    /// user's name with "erased user" in plain text, so nothing sealed is left to open; the
    /// cache only spans the moment between the key's destruction and that projection. Journal
    /// text is never opened through this cache.
    pub async fn user_openers(&self, users: &[uuid::Uuid]) -> Result<HashMap<uuid::Uuid, Opener>, VaultError> {
        let mut out = HashMap::with_capacity(users.len());
        let mut missing = Vec::new();
        let now = std::time::Instant::now();
        {
            let fresh = self.profiles.read().ok();
            for &id in users {
                let scope = Scope::user(UserId(id));
                let hit = self.cached(scope).map(Some).or_else(|| {
                    fresh
                        .as_ref()
                        .and_then(|c| c.get(&id))
                        .filter(|(at, _)| now.duration_since(*at) < PROFILE_TTL)
                        .map(|(_, k)| k.clone())
                });
                match hit {
                    Some(key) => {
                        out.insert(id, Opener { scope, key });
                    }
                    None => missing.push(id),
                }
            }
        }
        let missing: Vec<Scope> = missing.into_iter().map(|id| Scope::user(UserId(id))).collect();
        let learnt = self.fetch_keys(&missing).await?;
        if let Ok(mut c) = self.profiles.write() {
            if c.len() > 100_000 {
                c.retain(|_, (at, _)| now.duration_since(*at) < PROFILE_TTL);
            }
            c.extend(learnt.iter().map(|(scope, k)| (scope.id, (now, k.clone()))));
        }
        for (scope, key) in learnt {
            out.insert(scope.id, Opener { scope, key });
        }
        Ok(out)
    }

    /// An opener for one scope.
    pub async fn opener(&self, scope: Scope) -> Result<Opener, VaultError> {
        let mut m = self.openers(scope.owner, &[scope.id]).await?;
        Ok(m.remove(&scope.id).unwrap_or(Opener { scope, key: None }))
    }

    fn forget(&self, pred: impl Fn(&Scope) -> bool) {
        if let Some(cache) = &self.cache {
            if let Ok(mut c) = cache.write() {
                c.retain(|s, _| !pred(s));
            }
        }
    }

    /// Destroys one scope's key (a deleted mirror session). Idempotent.
    pub async fn destroy(&self, scope: Scope) -> Result<(), VaultError> {
        sqlx::query(
            "INSERT INTO data_keys (scope_id, user_id, wrapped, destroyed_at) VALUES ($1, $2, NULL, now()) \
             ON CONFLICT (scope_id) DO UPDATE SET wrapped = NULL, destroyed_at = coalesce(data_keys.destroyed_at, now()) \
             WHERE data_keys.user_id = $2",
        )
        .bind(scope.id)
        .bind(scope.owner.0)
        .execute(&self.pool)
        .await?;
        self.forget(|s| *s == scope);
        Ok(())
    }

    /// Destroys every key of `owner` (crypto-shredding on erasure); no key can be created for
    /// them afterwards. Idempotent.
    pub async fn destroy_owner(&self, owner: UserId) -> Result<(), VaultError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE data_keys SET wrapped = NULL, destroyed_at = now() WHERE user_id = $1 AND wrapped IS NOT NULL",
        )
        .bind(owner.0)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO data_keys (scope_id, user_id, wrapped, destroyed_at) VALUES ($1, $1, NULL, now()) \
             ON CONFLICT (scope_id) DO NOTHING",
        )
        .bind(owner.0)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.forget(|s| s.owner == owner);
        tracing::info!(user_id = %owner, "data keys destroyed");
        Ok(())
    }
}

/// Opens the sealed values of one scope.
pub struct Opener {
    scope: Scope,
    key: Option<Arc<Aes256Gcm>>,
}

impl Opener {
    /// The plaintext; [`SHREDDED`] once the key is destroyed; an unsealed value as it is.
    pub fn open(&self, value: &str) -> Result<String, VaultError> {
        let Some(b64) = value.strip_prefix(PREFIX) else {
            return Ok(value.to_owned());
        };
        let Some(key) = &self.key else {
            return Ok(SHREDDED.to_owned());
        };
        let bytes = B64.decode(b64).map_err(|_| VaultError::Corrupt("not base64"))?;
        let plain = open_with(key, &self.scope.aad(), &bytes)?;
        String::from_utf8(plain).map_err(|_| VaultError::Corrupt("not UTF-8"))
    }

    /// Whether the user's key is gone.
    pub fn shredded(&self) -> bool {
        self.key.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_key_parses_hex_and_base64_and_refuses_short_keys() {
        assert!(MasterKey::parse(&"ab".repeat(32)).is_ok());
        assert!(MasterKey::parse(&B64.encode([7u8; 32])).is_ok());
        assert!(MasterKey::parse("abcd").is_err());
        assert!(MasterKey::parse(&B64.encode([7u8; 16])).is_err());
    }

    #[test]
    fn a_sealed_value_opens_only_for_its_owner_and_key() {
        let key = Aes256Gcm::new_from_slice(&[1u8; 32]).expect("key");
        let a = UserId::new();
        let b = UserId::new();
        let sealed = seal_with(&key, a.0.as_bytes(), b"I always mess up");
        assert_eq!(
            open_with(&key, a.0.as_bytes(), &sealed).expect("opens"),
            b"I always mess up"
        );
        assert!(open_with(&key, b.0.as_bytes(), &sealed).is_err(), "bound to its owner");
        let other = Aes256Gcm::new_from_slice(&[2u8; 32]).expect("key");
        assert!(open_with(&other, a.0.as_bytes(), &sealed).is_err());
        // Two seals of one text differ (fresh nonces).
        assert_ne!(sealed, seal_with(&key, a.0.as_bytes(), b"I always mess up"));
        let mut tampered = sealed.clone();
        tampered[NONCE] ^= 1;
        assert!(open_with(&key, a.0.as_bytes(), &tampered).is_err());
    }
}
