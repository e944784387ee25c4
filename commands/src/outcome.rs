//! A command's answer: an HTTP status and a JSON body with at least `{id, position, version}`.

use serde_json::{json, Map, Value};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// 201 when something was created, 200 otherwise.
    pub status: u16,
    pub body: Value,
    /// True when this is a stored first answer replayed for an `Idempotency-Key`.
    pub replayed: bool,
}

impl Outcome {
    pub fn new(status: u16, id: Uuid, position: i64, version: i64, extra: Map<String, Value>) -> Self {
        let mut body = json!({"id": id, "position": position, "version": version});
        if let Value::Object(m) = &mut body {
            m.extend(extra);
        }
        Self {
            status,
            body,
            replayed: false,
        }
    }
    pub fn position(&self) -> i64 {
        self.body.get("position").and_then(Value::as_i64).unwrap_or(0)
    }
    pub fn version(&self) -> i64 {
        self.body.get("version").and_then(Value::as_i64).unwrap_or(0)
    }
    pub fn id(&self) -> Option<Uuid> {
        self.body.get("id").and_then(Value::as_str).and_then(|s| s.parse().ok())
    }
}
