//! Benchmark helpers shared by `bench-write` and `bench-read`.

pub mod drive;
pub mod http;
pub mod kernel;
