//! Upcasts: pure functions that lift an old payload version to the next one.
//!
//! The store applies them in a chain on load (v1 → v2 → … → current), so aggregates and
//! projections only ever see the current shape while the log keeps what was written.

use serde_json::Value;

/// One step: `event_type` at `from_version` becomes `from_version + 1`.
pub struct Upcast {
    pub event_type: &'static str,
    pub from_version: i32,
    pub apply: fn(Value) -> Value,
}

/// Every upcast Prism knows, in no particular order.
pub fn all() -> Vec<Upcast> {
    vec![Upcast {
        event_type: "message.created",
        from_version: 1,
        apply: message_created_v1_to_v2,
    }]
}

/// Version 1 of `message.created` called the body `text` and had no threads.
fn message_created_v1_to_v2(mut v: Value) -> Value {
    if let Some(obj) = v.as_object_mut() {
        if let Some(text) = obj.remove("text") {
            obj.insert("body".into(), text);
        }
        obj.entry("parent_id").or_insert(Value::Null);
    }
    v
}

/// Lifts `payload` from `version` to the newest version known for `event_type`.
pub fn upcast(event_type: &str, mut version: i32, mut payload: Value, upcasts: &[Upcast]) -> (i32, Value) {
    while let Some(u) = upcasts
        .iter()
        .find(|u| u.event_type == event_type && u.from_version == version)
    {
        payload = (u.apply)(payload);
        version += 1;
    }
    (version, payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn message_created_v1_is_lifted() {
        let (v, p) = upcast("message.created", 1, json!({"text": "hi", "author_id": "a"}), &all());
        assert_eq!(v, 2);
        assert_eq!(p, json!({"body": "hi", "author_id": "a", "parent_id": null}));
    }

    #[test]
    fn current_versions_pass_through() {
        let (v, p) = upcast("message.created", 2, json!({"body": "hi"}), &all());
        assert_eq!((v, p), (2, json!({"body": "hi"})));
    }
}
