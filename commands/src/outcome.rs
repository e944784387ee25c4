//! A command's answer: what happened, to which aggregate, at which position and version, with
//! any fields the command adds (`join_code`, `crisis`…). The write API maps what happened to an
//! HTTP status; nothing here knows HTTP.

use serde_json::{json, Map, Value};
use uuid::Uuid;

/// What a command did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Happened {
    /// A new aggregate (a workspace, a message…).
    Created,
    /// Taken on, finished off the request path (an erasure).
    Accepted,
    /// Changed (or found already as asked: a no-op).
    #[default]
    Done,
}

impl Happened {
    /// How the idempotency table stores it: the HTTP codes of the first answers it kept, so
    /// keys stored by an older release still replay.
    pub(crate) fn stored(self) -> u16 {
        match self {
            Self::Created => 201,
            Self::Accepted => 202,
            Self::Done => 200,
        }
    }

    pub(crate) fn from_stored(code: u16) -> Self {
        match code {
            201 => Self::Created,
            202 => Self::Accepted,
            _ => Self::Done,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub happened: Happened,
    /// The aggregate the answer is about.
    pub id: Uuid,
    /// The log position of the last event the command appended (or that the aggregate had,
    /// for a no-op). `None` in a replayed answer: the stored first answer has none.
    pub position: Option<i64>,
    /// The aggregate's version after the command: the next `If-Match`.
    pub version: i64,
    /// Fields the command adds to `{id, position, version}`.
    pub extra: Map<String, Value>,
    /// True when this is a stored first answer replayed for an `Idempotency-Key`.
    pub replayed: bool,
}

impl Outcome {
    pub fn new(happened: Happened, id: Uuid, position: i64, version: i64) -> Self {
        Self {
            happened,
            id,
            position: Some(position),
            version,
            extra: Map::new(),
            replayed: false,
        }
    }

    /// The answer's JSON: `{id, position, version, …extra}` (`position` left out of a replay).
    pub fn body(&self) -> Value {
        let mut m = Map::with_capacity(3 + self.extra.len());
        m.insert("id".into(), json!(self.id));
        if let Some(p) = self.position {
            m.insert("position".into(), json!(p));
        }
        m.insert("version".into(), json!(self.version));
        m.extend(self.extra.iter().map(|(k, v)| (k.clone(), v.clone())));
        Value::Object(m)
    }

    /// A stored first answer, read back (`None` if it is not one we wrote).
    pub(crate) fn stored(code: u16, body: Value) -> Option<Self> {
        let Value::Object(mut m) = body else { return None };
        let id = m.remove("id")?.as_str()?.parse().ok()?;
        let version = m.remove("version")?.as_i64()?;
        let position = m.remove("position").and_then(|p| p.as_i64());
        Some(Self {
            happened: Happened::from_stored(code),
            id,
            position,
            version,
            extra: m,
            replayed: true,
        })
    }
}
