//! How a kernel event becomes a row and back.
//!
//! Every aggregate's event enum is serde-tagged `{"type": "<dotted name>", "data": {...}}`. In
//! the log the dotted name goes to `event_type` and only `data` to `payload`, so the payload is
//! plain JSON that any tool (or analyst) can read without knowing Rust's enum layout.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

/// What an event enum tells the store about each event besides its payload.
pub trait KernelEvent: cqrs_es::DomainEvent {
    /// The schema version of this event's payload (see [`crate::upcast`]).
    fn schema_version(&self) -> i32 {
        1
    }
}

/// Splits an event into its dotted type name and its payload.
pub fn to_parts<E: Serialize>(event: &E) -> Result<(String, Value), serde_json::Error> {
    let mut v = serde_json::to_value(event)?;
    let ty = v
        .get("type")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| serde::ser::Error::custom("event enums must be tagged with `type`"))?;
    let data = v.get_mut("data").map(Value::take).unwrap_or_else(|| json!({}));
    Ok((ty, data))
}

/// Rebuilds an event from its dotted type name and (already upcast) payload.
pub fn from_parts<E: DeserializeOwned>(event_type: &str, payload: Value) -> Result<E, serde_json::Error> {
    serde_json::from_value(json!({"type": event_type, "data": payload}))
}

/// Like [`from_parts`], reading the payload in place (no copy of it): for projections, which
/// read every event of the log and must not pay for a clone of each payload.
pub fn from_parts_ref<E: DeserializeOwned>(event_type: &str, payload: &Value) -> Result<E, serde_json::Error> {
    use serde::de::value::MapDeserializer;
    let tag = Value::String(event_type.to_owned());
    let entries = [("type", &tag), ("data", payload)];
    E::deserialize(MapDeserializer::<_, serde_json::Error>::new(entries.into_iter()))
}

/// Implements cqrs-es's `DomainEvent` from the serde tag, and our schema version.
#[macro_export]
macro_rules! kernel_event {
    ($ty:ty $(, $variant:ident => $version:expr)* $(,)?) => {
        impl cqrs_es::DomainEvent for $ty {
            fn event_type(&self) -> String {
                $crate::event::to_parts(self).map(|(t, _)| t).unwrap_or_default()
            }
            fn event_version(&self) -> String {
                $crate::event::KernelEvent::schema_version(self).to_string()
            }
        }
        impl $crate::event::KernelEvent for $ty {
            #[allow(unreachable_patterns)]
            fn schema_version(&self) -> i32 {
                match self {
                    $(Self::$variant { .. } => $version,)*
                    _ => 1,
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregates::MessageEvent;
    use crate::{MessageId, UserId, WorkspaceId};

    #[test]
    fn reading_in_place_gives_the_same_event() {
        let e = MessageEvent::Created {
            message_id: MessageId::new(),
            workspace_id: WorkspaceId::new(),
            channel_id: uuid::Uuid::now_v7(),
            author_id: UserId::new(),
            body: "hello \"there\"".into(),
            parent_id: None,
            mentions: vec![UserId::new()],
            attachments: vec![],
        };
        let (ty, payload) = to_parts(&e).expect("parts");
        let by_copy: MessageEvent = from_parts(&ty, payload.clone()).expect("copy");
        let in_place: MessageEvent = from_parts_ref(&ty, &payload).expect("in place");
        assert_eq!(by_copy, in_place);
        assert_eq!(in_place, e);
        assert!(from_parts_ref::<MessageEvent>("message.nonsense", &payload).is_err());
    }
}
