//! Drives N concurrent writers for a fixed time and summarises throughput and latency.

use std::sync::Arc;
use std::time::{Duration, Instant};

/// Operations per second and latency percentiles of one run.
pub struct Run {
    pub per_sec: f64,
    pub p50_ms: f64,
    /// Not measured by wrk (NaN there).
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// The slowest operation (NaN from wrk).
    pub max_ms: f64,
    pub errors: u64,
}

fn summarise(mut lat_us: Vec<u32>, errors: u64, elapsed: Duration) -> Run {
    lat_us.sort_unstable();
    let pct = |p: f64| {
        let i = ((lat_us.len() as f64 * p) as usize).min(lat_us.len().saturating_sub(1));
        lat_us.get(i).copied().unwrap_or(0) as f64 / 1000.0
    };
    Run {
        per_sec: lat_us.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: pct(0.50),
        p95_ms: pct(0.95),
        p99_ms: pct(0.99),
        max_ms: lat_us.last().copied().unwrap_or(0) as f64 / 1000.0,
        errors,
    }
}

/// Runs `writers` tasks calling `op` until `secs` have passed; `op` answers success.
pub async fn drive<F, Fut>(writers: usize, secs: u64, op: F) -> Run
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors) = (Vec::with_capacity(100_000), 0u64);
            while Instant::now() < deadline {
                let t = Instant::now();
                if op().await {
                    lat.push(t.elapsed().as_micros() as u32);
                } else {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    for t in tasks {
        if let Ok((lat, e)) = t.await {
            all.extend(lat);
            errors += e;
        }
    }
    summarise(all, errors, start.elapsed())
}

impl Run {
    pub fn line(&self, what: &str) -> String {
        format!(
            "{what:<28} {:>8.0} /s  p50 {:>6.2} ms  p99 {:>7.2} ms  errors {}",
            self.per_sec, self.p50_ms, self.p99_ms, self.errors
        )
    }
}
