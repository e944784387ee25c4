//! Prism's domain: everything that decides, nothing that does IO.
//!
//! It owns the typed ids, the validated value objects, the kernel events (dotted
//! `aggregate.past_tense` names with a schema version), the aggregates built on cqrs-es's
//! [`cqrs_es::Aggregate`] trait, the permission matrix ([`policy`]) and the pure JSON upcasts
//! of old event versions ([`upcast`]).
//!
//! It may import serde, uuid, chrono, cqrs-es and rust-stemmers (the safety gate's stemmer) only: no tokio, no sqlx, no HTTP. Every rule
//! here is tested given/when/then with cqrs-es's `TestFramework`, with no database.

pub mod aggregates;
pub mod auth_events;
pub mod error;
pub mod event;
pub mod ids;
pub mod net;
pub mod policy;
pub mod safety;
pub mod upcast;
pub mod values;

pub use error::DomainError;
pub use ids::*;
pub use policy::{authorize, Action, Role};
