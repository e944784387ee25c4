//! The per-aggregate hash chain: `hash = sha256(prev_hash || canonical bytes of the event)`.
//!
//! The canonical bytes are JSON with object keys sorted at every level and no whitespace, made
//! from exactly what the row stores, so a verifier can recompute it from the table alone
//! (jsonb reorders keys; sorting makes that irrelevant).

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub type Hash = [u8; 32];

/// The hash before an aggregate's first event.
pub const GENESIS: Hash = [0u8; 32];

/// The fields of an event that the chain covers.
pub struct Hashed<'a> {
    pub event_id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub aggregate_type: &'a str,
    pub aggregate_id: Uuid,
    pub sequence: i64,
    pub event_type: &'a str,
    pub event_version: i32,
    pub payload: &'a Value,
    pub metadata: &'a Value,
    pub recorded_at: chrono::DateTime<chrono::Utc>,
}

pub fn chain(prev: &Hash, e: &Hashed<'_>) -> Hash {
    let doc = json!({
        "event_id": e.event_id,
        "tenant_id": e.tenant_id,
        "aggregate_type": e.aggregate_type,
        "aggregate_id": e.aggregate_id,
        "sequence": e.sequence,
        "event_type": e.event_type,
        "event_version": e.event_version,
        "payload": e.payload,
        "metadata": e.metadata,
        // Microseconds: what timestamptz keeps.
        "recorded_at": e.recorded_at.timestamp_micros(),
    });
    let mut bytes = Vec::with_capacity(256);
    write_canonical(&doc, &mut bytes);
    let mut h = Sha256::new();
    h.update(prev);
    h.update(&bytes);
    h.finalize().into()
}

/// Writes `v` as JSON with sorted keys, whatever map order serde_json was built with.
pub fn write_canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(Value::String(k.clone()).to_string().as_bytes());
                out.push(b':');
                if let Some(inner) = map.get(k) {
                    write_canonical(inner, out);
                }
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        other => out.extend_from_slice(other.to_string().as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_does_not_matter() {
        let a: Value = serde_json::from_str(r#"{"b":1,"a":{"d":[1,{"y":2,"x":1}],"c":"é"}}"#).expect("json");
        let b: Value = serde_json::from_str(r#"{"a":{"c":"é","d":[1,{"x":1,"y":2}]},"b":1}"#).expect("json");
        let (mut x, mut y) = (vec![], vec![]);
        write_canonical(&a, &mut x);
        write_canonical(&b, &mut y);
        assert_eq!(x, y);
        assert_eq!(
            String::from_utf8(x).expect("utf8"),
            r#"{"a":{"c":"é","d":[1,{"x":1,"y":2}]},"b":1}"#
        );
    }
}
