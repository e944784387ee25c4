//! Projections: everything a client reads is built here, from the log.
//!
//! It owns the projector runtime ([`runtime`]: consume the bus, apply a batch and store the
//! checkpoint in the same Postgres transaction, catch up from the Postgres log whenever the bus
//! cannot prove it delivered everything) and each projection, one folder or
//! file each (`read_models/`). Projection status (position, lag, last error) is in
//! `projection_status` and [`status`].
//!
//! It may import `prism-domain`, the read side of `prism-event-store` and `prism-bus` (the
//! [`prism_bus::Bus`] trait it consumes), `prism-vault` (only the workers that call out open what
//! they must send: [`mail`]) and `lettre` (mail's transports); never `commands`.

pub mod audit;
pub mod error;
pub mod feed;
pub mod history;
pub mod mail;
pub mod offline;
pub mod parquet_log;
pub mod projection;
pub mod read_models;
pub mod rebuild;
pub mod runtime;
pub mod search;
pub mod spectrum;
pub mod status;
pub mod visibility;
pub mod webhooks;

pub use error::ProjectionError;

use std::sync::Arc;

/// A Postgres projection and the tables it owns (what a rebuild empties and swaps).
pub type Registered = (Arc<dyn Projection>, &'static [&'static str]);

/// Every Postgres projection: the one registry that `prism serve` (one projector each),
/// `prism projections rebuild` and the offline rebuild use. (The search index is not here: each
/// read node keeps its own, fed by its own projector.)
pub fn all() -> Vec<Registered> {
    vec![
        (Arc::new(read_models::ReadModels), read_models::TABLES),
        (Arc::new(audit::AuditTrail), audit::TABLES),
        (Arc::new(spectrum::Spectrum), spectrum::TABLES),
    ]
}

/// The Postgres projection called `name`, if there is one.
pub fn by_name(name: &str) -> Option<Registered> {
    all().into_iter().find(|(p, _)| p.name() == name)
}
pub use projection::Projection;
pub use runtime::{PgTarget, Projector, ProjectorConfig, Target};
