//! The real `prism` binary as a separate process, for the end-to-end tests that need one:
//! `prism serve` on free ports with its own database, its tools, and a guard that stops it.
#![allow(dead_code)] // each test binary uses what it needs

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub fn base_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn database_url(name: &str) -> String {
    let base = base_url();
    let cut = base.rfind('/').unwrap_or(base.len());
    format!("{}/{name}", &base[..cut])
}

/// Starts `prism serve` on free ports with its own new database (and NATS prefix, `over_nats`);
/// returns it and the write and read APIs' addresses.
pub fn spawn_prism(db: &str, data: &std::path::Path, over_nats: bool) -> (Child, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_prism"));
    if over_nats {
        cmd.env(
            "PRISM_NATS_URL",
            std::env::var("PRISM_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into()),
        )
        .env("PRISM_NATS_PREFIX", db.replace('_', ""));
    } else {
        cmd.env_remove("PRISM_NATS_URL");
    }
    let mut child = cmd
        .arg("serve")
        .env("PRISM_DATA_DIR", data)
        .env("PRISM_DATABASE_URL", database_url(db))
        .env("PRISM_WRITE_ADDR", "127.0.0.1:0")
        .env("PRISM_READ_ADDR", "127.0.0.1:0")
        .env("PRISM_JWT_SECRET", "an-end-to-end-secret-of-enough-length")
        .env("PRISM_MASTER_KEY", "7".repeat(64))
        .env("PRISM_BUS_KEY", "an-end-to-end-bus-key-of-enough-length")
        // The walkthrough's webhook receiver is on this machine.
        .env("PRISM_WEBHOOK_ALLOW_PRIVATE", "1")
        .env_remove("PRISM_DEV")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn prism");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.split("addr=").nth(1) {
                let which = if line.contains("read api") { "read" } else { "write" };
                let _ = tx.send((which, addr.split_whitespace().next().unwrap_or_default().to_owned()));
            }
        }
    });
    let (mut write, mut read) = (None, None);
    while write.is_none() || read.is_none() {
        match rx
            .recv_timeout(Duration::from_secs(60))
            .expect("prism did not start listening")
        {
            ("read", a) => read = Some(a),
            (_, a) => write = Some(a),
        }
    }
    (child, write.unwrap_or_default(), read.unwrap_or_default())
}

pub async fn post(client: &reqwest::Client, url: String, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut req = client.post(url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Kills the server if the test fails half-way, so no process outlives it.
pub struct Guard(pub Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs a `prism` tool against the test's database; whether it succeeded, and all it printed.
pub fn tool(db: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_prism"))
        .args(args)
        .env("PRISM_DATABASE_URL", database_url(db))
        .env("PRISM_JWT_SECRET", "an-end-to-end-secret-of-enough-length")
        .output()
        .expect("run prism");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
