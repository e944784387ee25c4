//! The composition root's reusable parts: what `prism serve` runs besides the APIs and the
//! projectors, written against the crates' public seams so tests can drive them too.
//!
//! It may import every crate of the workspace (it wires them); nothing imports it but the
//! `prism` binary and the end-to-end tests.

pub mod wiring;
pub mod writers;
