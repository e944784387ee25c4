//! Presence: who has a live stream open to which workspace, told between nodes as it changes
//! and every [`HEARTBEAT`]. Ephemeral by design — best effort, never stored, never in the log:
//! a lost beat only makes someone look offline until the next one.
//!
//! Nothing received is trusted: over NATS each beat is signed like an event (with a domain of
//! its own, so a beat can never pass for an event), bounded in size, and dropped unless it
//! verifies and parses.

use std::time::Duration;

use futures::stream::BoxStream;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::signing::{BusKeys, Signed};

/// How often a node repeats who is online on it.
pub const HEARTBEAT: Duration = Duration::from_secs(10);

/// A beat larger than this is no beat.
pub const MAX_BEAT: usize = 512;

/// One node's word on one person in one workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Beat {
    pub workspace_id: Uuid,
    pub user_id: Uuid,
    /// The node that says it (at most 64 characters).
    pub node: String,
    /// Online there (a stream is open), or not any more.
    pub online: bool,
}

impl Beat {
    /// The beat in `body`, if it is one.
    pub fn parse(body: &[u8]) -> Option<Self> {
        if body.len() > MAX_BEAT {
            return None;
        }
        let beat: Beat = serde_json::from_slice(body).ok()?;
        (!beat.node.is_empty() && beat.node.len() <= 64).then_some(beat)
    }
}

/// What a signed beat covers: its body, under a store id no log has.
fn signed(body: &[u8]) -> Signed<'_> {
    Signed {
        store: Uuid::nil(),
        position: -1,
        prev: -1,
        reference: false,
        body,
    }
}

/// A beat's signature headers' values: (key id, signature).
pub fn sign(keys: &BusKeys, body: &[u8]) -> (String, String) {
    (keys.key_id().to_owned(), keys.sign(&signed(body)))
}

/// Whether `signature` by `key_id` signs `body` as a beat.
pub fn verify(keys: &BusKeys, key_id: &str, signature: &str, body: &[u8]) -> bool {
    keys.verify(key_id, signature, &signed(body))
}

/// Beats as they come.
pub type Beats = BoxStream<'static, Beat>;

/// Drops what is not a beat.
pub(crate) fn beats<S: futures::Stream<Item = Option<Beat>> + Send + 'static>(s: S) -> Beats {
    s.filter_map(|b| async move { b }).boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_beat_verifies_only_as_signed_and_is_never_an_event() {
        let keys = BusKeys::development();
        let body = br#"{"workspace_id":"00000000-0000-0000-0000-000000000001","user_id":"00000000-0000-0000-0000-000000000002","node":"a","online":true}"#;
        let (id, sig) = sign(&keys, body);
        assert!(verify(&keys, &id, &sig, body));
        assert!(!verify(&keys, &id, &sig, &body[..body.len() - 1]));
        assert!(!verify(&BusKeys::new(b"another key", &[]), &id, &sig, body));
        // The same signature does not sign an event with this body.
        let as_event = Signed {
            store: Uuid::nil(),
            position: 0,
            prev: 0,
            reference: false,
            body,
        };
        assert!(!keys.verify(&id, &sig, &as_event));
        assert!(Beat::parse(body).is_some());
        assert!(Beat::parse(&[b' '; MAX_BEAT + 1]).is_none());
        assert!(Beat::parse(br#"{"workspace_id":"x"}"#).is_none());
    }
}
