//! The bus is not trusted: what the relay publishes is signed, and projectors apply only what
//! verifies.
//!
//! A message's signature is HMAC-SHA256, keyed by `PRISM_BUS_KEY`, over the log's store id,
//! the event's position, the position published before it, whether it is a reference (the
//! payload left in the log) and the body, so a valid message cannot be moved to another
//! position, another deployment or another predecessor, nor turned into a reference. The
//! signing key's id (the first 8 bytes of its SHA-256, hex) travels in `Prism-Key-Id`, so a key
//! can be rotated: the relay signs with the current key, projectors also accept the previous
//! ones (`PRISM_BUS_KEYS_PREVIOUS`) until every message signed with them has gone by.
//!
//! Connecting to NATS with credentials ([`NatsAuth`]) keeps strangers off the bus; the
//! signature keeps a client that may connect (a projector's account) from forging events.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// The public development key (`PRISM_DEV=1` only).
const DEVELOPMENT_KEY: &[u8] = b"prism-local-development-bus-key-do-not-use-in-production";

#[derive(Clone)]
struct Key {
    id: String,
    secret: Vec<u8>,
}

impl Key {
    fn new(secret: &[u8]) -> Self {
        Self {
            id: hex::encode(&Sha256::digest(secret)[..8]),
            secret: secret.to_vec(),
        }
    }

    fn mac(&self, m: &Signed<'_>) -> HmacSha256 {
        // `new_from_slice` takes a key of any length for HMAC: this never fails.
        let mut mac = match HmacSha256::new_from_slice(&self.secret) {
            Ok(m) => m,
            Err(_) => unreachable_key(),
        };
        mac.update(m.store.as_bytes());
        mac.update(&m.position.to_be_bytes());
        mac.update(&m.prev.to_be_bytes());
        mac.update(&[u8::from(m.reference)]);
        mac.update(m.body);
        mac
    }
}

fn unreachable_key() -> ! {
    // HMAC accepts keys of every length; keep the type checker and clippy happy without unwrap.
    panic!("hmac refused a key")
}

/// What a signature covers.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    pub store: Uuid,
    pub position: i64,
    pub prev: i64,
    /// `Prism-Payload: reference`.
    pub reference: bool,
    pub body: &'a [u8],
}

/// The keys that sign and verify bus messages.
#[derive(Clone)]
pub struct BusKeys {
    current: Key,
    previous: Vec<Key>,
}

impl std::fmt::Debug for BusKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secrets.
        f.debug_struct("BusKeys")
            .field("current", &self.current.id)
            .field("previous", &self.previous.iter().map(|k| &k.id).collect::<Vec<_>>())
            .finish()
    }
}

impl BusKeys {
    /// Signs with `current`; verifies with it and with each of `previous`.
    pub fn new(current: &[u8], previous: &[Vec<u8>]) -> Self {
        Self {
            current: Key::new(current),
            previous: previous.iter().map(|k| Key::new(k)).collect(),
        }
    }

    /// The public development key: for `PRISM_DEV=1` and tests only.
    pub fn development() -> Self {
        Self::new(DEVELOPMENT_KEY, &[])
    }

    /// The id of the key that signs (`Prism-Key-Id`).
    pub fn key_id(&self) -> &str {
        &self.current.id
    }

    /// The signature of a message (`Prism-Signature`, hex).
    pub fn sign(&self, m: &Signed<'_>) -> String {
        hex::encode(self.current.mac(m).finalize().into_bytes())
    }

    /// Whether `signature` (hex), made with the key `key_id`, signs this message. Compared in
    /// constant time.
    pub fn verify(&self, key_id: &str, signature: &str, m: &Signed<'_>) -> bool {
        let Ok(sig) = hex::decode(signature) else {
            return false;
        };
        std::iter::once(&self.current)
            .chain(&self.previous)
            .filter(|k| k.id == key_id)
            .any(|k| k.mac(m).verify_slice(&sig).is_ok())
    }
}

/// How the relay and projectors sign in to NATS.
#[derive(Clone, Default)]
pub enum NatsAuth {
    #[default]
    None,
    UserPassword {
        user: String,
        password: String,
    },
    Token(String),
    /// An nkey seed (`SU…`).
    NKey(String),
}

impl std::fmt::Debug for NatsAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::None => "none",
            Self::UserPassword { .. } => "user and password",
            Self::Token(_) => "token",
            Self::NKey(_) => "nkey",
        })
    }
}

impl NatsAuth {
    /// Connect options with these credentials.
    pub fn options(&self) -> async_nats::ConnectOptions {
        let o = async_nats::ConnectOptions::new();
        match self.clone() {
            Self::None => o,
            Self::UserPassword { user, password } => o.user_and_password(user, password),
            Self::Token(t) => o.token(t),
            Self::NKey(seed) => o.nkey(seed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(store: Uuid, position: i64, prev: i64, reference: bool, body: &[u8]) -> Signed<'_> {
        Signed {
            store,
            position,
            prev,
            reference,
            body,
        }
    }

    #[test]
    fn a_signature_binds_store_position_predecessor_kind_and_body() {
        let keys = BusKeys::new(b"k1-k1-k1-k1-k1-k1-k1-k1-k1-k1-k1-k1", &[]);
        let store = Uuid::now_v7();
        let sig = keys.sign(&msg(store, 10, 9, false, b"body"));
        let id = keys.key_id().to_owned();
        assert!(keys.verify(&id, &sig, &msg(store, 10, 9, false, b"body")));
        assert!(!keys.verify(&id, &sig, &msg(store, 11, 9, false, b"body")));
        assert!(!keys.verify(&id, &sig, &msg(store, 10, 8, false, b"body")));
        assert!(!keys.verify(&id, &sig, &msg(store, 10, 9, true, b"body")));
        assert!(!keys.verify(&id, &sig, &msg(store, 10, 9, false, b"bodY")));
        assert!(!keys.verify(&id, &sig, &msg(Uuid::now_v7(), 10, 9, false, b"body")));
        assert!(!keys.verify("00", &sig, &msg(store, 10, 9, false, b"body")));
        assert!(!keys.verify(&id, "zz", &msg(store, 10, 9, false, b"body")));
        let other = BusKeys::new(b"k2-k2-k2-k2-k2-k2-k2-k2-k2-k2-k2-k2", &[]);
        assert!(!other.verify(&id, &sig, &msg(store, 10, 9, false, b"body")));
    }

    #[test]
    fn a_rotated_key_still_verifies_until_it_is_dropped() {
        let old = BusKeys::new(b"old-old-old-old-old-old-old-old-old", &[]);
        let store = Uuid::now_v7();
        let sig = old.sign(&msg(store, 1, 0, false, b"x"));
        let rotated = BusKeys::new(
            b"new-new-new-new-new-new-new-new-new",
            &[b"old-old-old-old-old-old-old-old-old".to_vec()],
        );
        assert!(rotated.verify(old.key_id(), &sig, &msg(store, 1, 0, false, b"x")));
        let dropped = BusKeys::new(b"new-new-new-new-new-new-new-new-new", &[]);
        assert!(!dropped.verify(old.key_id(), &sig, &msg(store, 1, 0, false, b"x")));
    }
}
