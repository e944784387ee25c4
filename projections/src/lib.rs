//! Projections: everything a client reads is built here, from the log.
//!
//! It owns the projector runtime ([`runtime`]: consume the JetStream stream, apply a batch and
//! store the checkpoint in the same Postgres transaction, catch up from the Postgres log
//! whenever the stream cannot prove it holds everything) and each projection, one folder or
//! file each (`read_models/`). Projection status (position, lag, last error) is in
//! `projection_status` and [`status`].
//!
//! It may import `prism-domain` and the read side of `prism-event-store`; never `commands`.

pub mod audit;
pub mod error;
pub mod feed;
pub mod history;
pub mod offline;
pub mod projection;
pub mod read_models;
pub mod rebuild;
pub mod runtime;
pub mod search;
pub mod spectrum;
pub mod status;
pub mod visibility;

pub use error::ProjectionError;
pub use projection::Projection;
pub use runtime::{PgTarget, Projector, ProjectorConfig, Target};
