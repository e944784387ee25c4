//! Authentication primitives shared by the write and read APIs: JWT access tokens (HS256,
//! short-lived), argon2id password hashes, opaque refresh tokens (only their SHA-256 is stored)
//! and join codes.
//!
//! It may import `prism-domain` and pure crypto crates; no IO. It is its own crate (not in
//! `write-api`) because `read-api` verifies the same tokens and must not import `commands`.

use std::time::Duration;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use jsonwebtoken::{decode, encode, Algorithm as JwtAlg, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use prism_domain::UserId;

mod keys;
pub use keys::{ApiKey, ApiKeys, KeyChange, KeyRefusal, API_KEY_PREFIX, API_KEY_QUOTA};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("missing bearer token")]
    Missing,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid")]
    Invalid,
    #[error("password hashing failed")]
    Hashing,
}

/// Why a request's bearer token was refused: one answer for both APIs (a 401 with this code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerRefusal {
    Missing,
    Expired,
    Revoked,
    Invalid,
    KeyRevoked,
    KeyExpired,
}

impl BearerRefusal {
    pub fn code(self) -> &'static str {
        match self {
            Self::Missing => "unauthenticated",
            Self::Expired => "token_expired",
            Self::Revoked => "session_revoked",
            Self::Invalid => "invalid_token",
            Self::KeyRevoked => "api_key_revoked",
            Self::KeyExpired => "api_key_expired",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Self::Missing => "send Authorization: Bearer <access token>",
            Self::Expired => "the access token has expired; refresh it",
            Self::Revoked => "this session has ended; sign in again",
            Self::Invalid => "the access token is not valid",
            Self::KeyRevoked => "this API key was revoked",
            Self::KeyExpired => "this API key has expired",
        }
    }
}

/// Verifies a request's `Authorization` header (its value, if any): a `Bearer` access token,
/// signed, unexpired, and of a session (or user) not revoked.
pub fn verify_bearer(
    authorization: Option<&str>,
    jwt: &Jwt,
    revocations: &Revocations,
) -> Result<Claims, BearerRefusal> {
    let token = authorization
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(BearerRefusal::Missing)?;
    match jwt.verify(token) {
        Ok(c) if revocations.is_revoked(&c) => Err(BearerRefusal::Revoked),
        Ok(c) => Ok(c),
        Err(AuthError::Expired) => Err(BearerRefusal::Expired),
        Err(_) => Err(BearerRefusal::Invalid),
    }
}

/// Who a bearer credential names: a person (an access token) or an API key.
#[derive(Debug, Clone)]
pub enum Bearer {
    User(Claims),
    Key(ApiKey),
}

/// Verifies a request's `Authorization` header: an access token (as [`verify_bearer`]) or an
/// API key (`prism_…`, as [`ApiKeys::verify`], rate-limited per key).
pub async fn authenticate(
    authorization: Option<&str>,
    jwt: &Jwt,
    revocations: &Revocations,
    keys: &ApiKeys,
) -> Result<Bearer, KeyRefusal> {
    let token = authorization
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
        .map(str::trim);
    match token {
        Some(t) if t.starts_with(API_KEY_PREFIX) => keys.verify(t).await.map(Bearer::Key),
        _ => verify_bearer(authorization, jwt, revocations)
            .map(Bearer::User)
            .map_err(KeyRefusal::Bearer),
    }
}

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub sub: Uuid,
    pub exp: i64,
    pub iat: i64,
    /// Always `access`: a refresh token is opaque and never a JWT.
    pub typ: String,
    /// Platform-wide roles (e.g. `auditor`), not workspace roles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// The session (the refresh-token family) the token belongs to: revoking the session
    /// revokes the token ([`Revocations`]). Nil in a token issued before sessions existed.
    /// An impersonation's token has the impersonation's id here.
    #[serde(default)]
    pub sid: Uuid,
    /// Under an impersonation, who is really acting (RFC 8693's `act` claim): a platform admin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Act>,
}

/// The actor behind an impersonation token.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Act {
    pub sub: Uuid,
}

/// Issues and verifies access tokens.
#[derive(Clone)]
pub struct Jwt {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl Jwt {
    pub const DEFAULT_TTL: Duration = Duration::from_secs(15 * 60);

    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        // Only HS256: a token naming another algorithm (or `none`) is refused.
        let mut validation = Validation::new(JwtAlg::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A token of a session of its own (nothing else revokes it but the user's revocation).
    pub fn issue(&self, user: UserId, roles: Vec<String>) -> Result<String, AuthError> {
        self.issue_for(user, roles, Uuid::now_v7())
    }

    /// A token of session `sid`.
    pub fn issue_for(&self, user: UserId, roles: Vec<String>, sid: Uuid) -> Result<String, AuthError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user.0,
            iat: now,
            exp: now + self.ttl.as_secs() as i64,
            typ: "access".into(),
            roles,
            sid,
            act: None,
        };
        encode(&Header::new(JwtAlg::HS256), &claims, &self.encoding).map_err(|_| AuthError::Invalid)
    }

    /// A token for `admin` acting as `user` under impersonation `id` (its session: ending the
    /// impersonation revokes it), living `ttl` at most and no longer than a normal token. It
    /// carries none of the user's platform roles.
    pub fn issue_impersonation(
        &self,
        user: UserId,
        admin: UserId,
        id: Uuid,
        ttl: Duration,
    ) -> Result<String, AuthError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user.0,
            iat: now,
            exp: now + ttl.min(self.ttl).as_secs() as i64,
            typ: "access".into(),
            roles: vec![],
            sid: id,
            act: Some(Act { sub: admin.0 }),
        };
        encode(&Header::new(JwtAlg::HS256), &claims, &self.encoding).map_err(|_| AuthError::Invalid)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let data = decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::Expired,
            _ => AuthError::Invalid,
        })?;
        if data.claims.typ != "access" {
            return Err(AuthError::Invalid);
        }
        Ok(data.claims)
    }
}

/// Sessions and users whose tokens are refused before they expire: a small in-memory set per
/// process, kept current from the log (`auth.logged_out`, `auth.refresh_reuse_detected`,
/// `user.erased`, …) by [`Revocations::follow`], so no request pays a database query for it.
/// Entries are kept only as long as a token issued before them could still be valid.
#[derive(Clone)]
pub struct Revocations {
    inner: std::sync::Arc<std::sync::RwLock<RevokedSet>>,
    ttl: Duration,
}

#[derive(Default)]
struct RevokedSet {
    /// session id → when it was revoked (unix seconds).
    sessions: std::collections::HashMap<Uuid, i64>,
    /// user id → when it was erased (unix seconds): all its tokens are refused.
    users: std::collections::HashMap<Uuid, i64>,
}

/// One revocation read from the log.
#[derive(Debug, Clone, PartialEq)]
pub enum Revocation {
    Session {
        sid: Uuid,
        at: i64,
    },
    /// Every token of the user issued at or before `at`.
    User {
        user: Uuid,
        at: i64,
    },
}

impl Revocation {
    /// What a logged event revokes, if anything: a logout or a reused refresh token ends its
    /// session (`family_id`); an erasure ends every token of the user.
    pub fn from_event(event_type: &str, aggregate_id: Uuid, payload: &serde_json::Value, at: i64) -> Option<Self> {
        let uuid = |k: &str| payload.get(k)?.as_str()?.parse::<Uuid>().ok();
        match event_type {
            "auth.logged_out" | "auth.refresh_reuse_detected" => Some(Self::Session {
                sid: uuid("family_id")?,
                at,
            }),
            "auth.session_revoked" => Some(Self::Session {
                sid: uuid("session_id")?,
                at,
            }),
            // An impersonation's token is of a session of its own: the impersonation's id.
            "impersonation.ended" => Some(Self::Session {
                sid: uuid("impersonation_id")?,
                at,
            }),
            "user.erased" => Some(Self::User { user: aggregate_id, at }),
            _ => None,
        }
    }
}

impl Revocations {
    /// For tokens living at most `ttl` (plus the verifier's leeway).
    pub fn new(ttl: Duration) -> Self {
        Self {
            inner: Default::default(),
            ttl,
        }
    }

    pub fn add(&self, revocations: impl IntoIterator<Item = Revocation>) {
        let mut set = self.inner.write().unwrap_or_else(|e| e.into_inner());
        for r in revocations {
            match r {
                Revocation::Session { sid, at } => {
                    set.sessions.insert(sid, at);
                }
                Revocation::User { user, at } => {
                    let e = set.users.entry(user).or_insert(at);
                    *e = (*e).max(at);
                }
            }
        }
        // A token outlives its revocation by at most its lifetime (and the leeway).
        let horizon = chrono::Utc::now().timestamp() - self.ttl.as_secs() as i64 - 60;
        set.sessions.retain(|_, at| *at >= horizon);
        set.users.retain(|_, at| *at >= horizon);
    }

    /// Whether the token these claims come from was revoked.
    pub fn is_revoked(&self, c: &Claims) -> bool {
        let set = self.inner.read().unwrap_or_else(|e| e.into_inner());
        // An erased user's every token is refused, whenever it was issued: none can be issued
        // through Prism afterwards, so one that shows up came from a race or a forgery.
        set.sessions.contains_key(&c.sid) || set.users.contains_key(&c.sub)
    }

    /// How often a node reads new revocations: a revoked session is refused everywhere within
    /// about this long (plus the log's safe horizon).
    pub const POLL: Duration = Duration::from_millis(200);

    /// Keeps the set current in the background while anyone holds it (nothing outside a tokio
    /// runtime). `fetch(after, recent)` reads the revocations recorded after a log position —
    /// from 0, those of the last `recent`, which covers every token still alive — and answers
    /// them with the position read up to.
    pub fn keep_current<F, Fut, E>(&self, mut fetch: F)
    where
        F: FnMut(i64, Duration) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<(Vec<Revocation>, i64), E>> + Send,
        E: std::fmt::Display,
    {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak = std::sync::Arc::downgrade(&self.inner);
        let ttl = self.ttl;
        let recent = ttl + Duration::from_secs(120);
        runtime.spawn(async move {
            let mut at = 0;
            loop {
                let Some(inner) = weak.upgrade() else { return };
                match fetch(at, recent).await {
                    Ok((found, upto)) => {
                        Revocations { inner, ttl }.add(found);
                        at = upto;
                    }
                    Err(e) => tracing::warn!(error = %e, "reading revocations failed; retrying"),
                }
                tokio::time::sleep(Self::POLL).await;
            }
        });
    }
}

/// Argon2id with OWASP's recommended parameters (19 MiB, 2 passes) unless told otherwise.
#[derive(Clone)]
pub struct PasswordHasherId {
    params: Params,
    /// A hash of a random password, verified against when the email is unknown, so that an
    /// unknown email takes as long as a wrong password.
    dummy: String,
}

impl PasswordHasherId {
    pub fn new(memory_kib: u32, passes: u32) -> Result<Self, AuthError> {
        let params = Params::new(memory_kib, passes, 1, None).map_err(|_| AuthError::Hashing)?;
        let mut me = Self {
            params,
            dummy: String::new(),
        };
        me.dummy = me.hash(&random_token(16))?;
        Ok(me)
    }

    pub fn owasp() -> Result<Self, AuthError> {
        Self::new(19 * 1024, 2)
    }

    fn argon(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    pub fn hash(&self, password: &str) -> Result<String, AuthError> {
        let salt = SaltString::generate(&mut OsRng);
        self.argon()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|_| AuthError::Hashing)
    }

    /// Checks `password` against `stored` (or against a dummy hash when there is none).
    pub fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let target = stored.unwrap_or(&self.dummy);
        let Ok(parsed) = PasswordHash::new(target) else {
            return false;
        };
        let ok = self.argon().verify_password(password.as_bytes(), &parsed).is_ok();
        ok && stored.is_some()
    }
}

/// A URL-safe random token of `bytes` random bytes.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// What is stored of a refresh token: its SHA-256, hex.
pub fn token_digest(token: &str) -> String {
    hex_encode(&Sha256::digest(token.as_bytes()))
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A join code people can read aloud: 8 characters with no 0/O or 1/I.
pub fn join_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut buf = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    buf.iter()
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_round_trips_and_a_forged_one_does_not() {
        let jwt = Jwt::new(b"secret-one", Jwt::DEFAULT_TTL);
        let user = UserId::new();
        let t = jwt.issue(user, vec![]).expect("issue");
        assert_eq!(jwt.verify(&t).map(|c| c.sub), Ok(user.0));
        let other = Jwt::new(b"secret-two", Jwt::DEFAULT_TTL);
        assert_eq!(other.verify(&t), Err(AuthError::Invalid));
        assert_eq!(jwt.verify("not.a.jwt"), Err(AuthError::Invalid));
    }

    #[test]
    fn alg_none_is_refused() {
        let jwt = Jwt::new(b"secret", Jwt::DEFAULT_TTL);
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let exp = chrono::Utc::now().timestamp() + 600;
        let token = format!(
            "{}.{}.",
            b64(r#"{"alg":"none","typ":"JWT"}"#),
            b64(&format!(
                r#"{{"sub":"{}","exp":{exp},"iat":0,"typ":"access"}}"#,
                Uuid::now_v7()
            ))
        );
        assert_eq!(jwt.verify(&token), Err(AuthError::Invalid));
    }

    #[test]
    fn an_expired_token_says_so() {
        let jwt = Jwt::new(b"secret", Duration::from_secs(0));
        let claims = Claims {
            sub: Uuid::now_v7(),
            exp: chrono::Utc::now().timestamp() - 60,
            iat: 0,
            typ: "access".into(),
            roles: vec![],
            sid: Uuid::now_v7(),
            act: None,
        };
        let t = encode(
            &Header::new(JwtAlg::HS256),
            &claims,
            &EncodingKey::from_secret(b"secret"),
        )
        .expect("encode");
        assert_eq!(jwt.verify(&t), Err(AuthError::Expired));
    }

    #[test]
    fn revoked_sessions_and_users_are_refused() {
        let jwt = Jwt::new(b"secret", Jwt::DEFAULT_TTL);
        let (user, other) = (UserId::new(), UserId::new());
        let sid = Uuid::now_v7();
        let revocations = Revocations::new(Jwt::DEFAULT_TTL);
        let claims = |t: &str| jwt.verify(t).expect("valid");
        let a = claims(&jwt.issue_for(user, vec![], sid).expect("token"));
        let b = claims(&jwt.issue(user, vec![]).expect("token"));
        let c = claims(&jwt.issue(other, vec![]).expect("token"));
        assert!(!revocations.is_revoked(&a));
        let now = chrono::Utc::now().timestamp();
        revocations.add([Revocation::Session { sid, at: now }]);
        assert!(revocations.is_revoked(&a));
        assert!(!revocations.is_revoked(&b), "another session of the same user");
        revocations.add([Revocation::User { user: user.0, at: now }]);
        assert!(revocations.is_revoked(&b));
        assert!(!revocations.is_revoked(&c));
        // Revocations older than any live token are forgotten.
        revocations.add([Revocation::Session {
            sid: Uuid::now_v7(),
            at: now - 3600,
        }]);
        assert_eq!(revocations.inner.read().expect("lock").sessions.len(), 1);
    }

    #[test]
    fn passwords_verify_and_unknown_users_never_do() {
        let h = PasswordHasherId::new(1024, 1).expect("params");
        let stored = h.hash("correct horse battery").expect("hash");
        assert!(h.verify("correct horse battery", Some(&stored)));
        assert!(!h.verify("wrong horse battery", Some(&stored)));
        assert!(!h.verify("correct horse battery", None));
        assert!(stored.starts_with("$argon2id$"));
    }
}

#[cfg(test)]
mod bearer_tests {
    use super::*;

    #[test]
    fn a_bearer_is_refused_with_one_code_per_reason() {
        let jwt = Jwt::new(b"bearer-tests-bearer-tests-bearer-tests!", Jwt::DEFAULT_TTL);
        let revocations = Revocations::new(Jwt::DEFAULT_TTL);
        let token = jwt.issue(UserId::new(), vec![]).expect("token");
        let ok = verify_bearer(Some(&format!("Bearer {token}")), &jwt, &revocations);
        assert!(ok.is_ok());
        let refused = |h: Option<&str>| verify_bearer(h, &jwt, &revocations).err().map(BearerRefusal::code);
        assert_eq!(refused(None), Some("unauthenticated"));
        assert_eq!(refused(Some("Basic abc")), Some("unauthenticated"));
        assert_eq!(refused(Some("Bearer   ")), Some("unauthenticated"));
        assert_eq!(refused(Some("Bearer not-a-jwt")), Some("invalid_token"));
        let other = Jwt::new(b"another-secret-another-secret-another!!", Jwt::DEFAULT_TTL);
        let forged = other.issue(UserId::new(), vec![]).expect("token");
        assert_eq!(refused(Some(&format!("bearer {forged}"))), Some("invalid_token"));
    }
}
