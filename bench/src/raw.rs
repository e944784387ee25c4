//! What this machine's Postgres commits when nothing else is asked of it: single-row insert
//! commits into a fresh table from N clients, as `pgbench` runs them. The write benches print
//! their throughput as a ratio to this figure, measured in the same run, so the targets follow
//! the machine (they differ by 2× between machines of one class).

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;

/// Single-row insert commits per second from `clients` connections for `secs` seconds, into a
/// fresh table of the database at `url`. `pgbench` drives it when installed (a C client, as an
/// operator would measure); otherwise tokio + sqlx, the client stack Prism itself uses. Answers
/// the rate and which of the two measured it.
pub async fn insert_tps(url: &str, clients: usize, secs: u64) -> anyhow::Result<(f64, &'static str)> {
    let setup = crate::kernel::pool(url, 1).await?;
    sqlx::query("DROP TABLE IF EXISTS raw_inserts").execute(&setup).await?;
    sqlx::query(
        "CREATE TABLE raw_inserts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text NOT NULL,
                                   at timestamptz NOT NULL DEFAULT now())",
    )
    .execute(&setup)
    .await?;
    let result = match pgbench(url, clients, secs) {
        Ok(tps) => Ok((tps, "pgbench")),
        Err(e) => {
            eprintln!("raw inserts: pgbench unavailable ({e:#}); measuring with sqlx");
            with_sqlx(url, clients, secs).await.map(|tps| (tps, "sqlx"))
        }
    };
    sqlx::query("DROP TABLE IF EXISTS raw_inserts").execute(&setup).await?;
    result
}

fn pgbench(url: &str, clients: usize, secs: u64) -> anyhow::Result<f64> {
    let script = std::env::temp_dir().join(format!("prism-raw-insert-{}.sql", std::process::id()));
    std::fs::write(
        &script,
        "INSERT INTO raw_inserts (body) VALUES ('a message of ordinary length, say forty chars');\n",
    )?;
    let out = Command::new("pgbench")
        .args([
            "-n",
            "-c",
            &clients.to_string(),
            "-j",
            "2",
            "-T",
            &secs.to_string(),
            "-f",
        ])
        .arg(&script)
        .arg(url)
        .output()
        .context("running pgbench")?;
    let _ = std::fs::remove_file(&script);
    anyhow::ensure!(
        out.status.success(),
        "pgbench: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())
        .context("no tps line in pgbench's output")
}

async fn with_sqlx(url: &str, clients: usize, secs: u64) -> anyhow::Result<f64> {
    let pool = crate::kernel::pool(url, clients as u32).await?;
    let until = Instant::now() + Duration::from_secs(secs);
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < until {
                    sqlx::query(
                        "INSERT INTO raw_inserts (body) VALUES ('a message of ordinary length, say forty chars')",
                    )
                    .execute(&pool)
                    .await?;
                    n += 1;
                }
                Ok::<u64, sqlx::Error>(n)
            })
        })
        .collect();
    let mut total = 0;
    for w in workers {
        total += w.await??;
    }
    Ok(total as f64 / secs as f64)
}
