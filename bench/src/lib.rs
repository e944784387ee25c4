//! Benchmark helpers shared by `bench-write`, `bench-read` and `bench-analytics`.

pub mod drive;
pub mod http;
pub mod kernel;
pub mod raw;
pub mod sse;
pub mod webhooks;

/// The `p` quantile (0..=1) of already sorted samples; NaN when there are none.
pub fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or(f64::NAN)
}
