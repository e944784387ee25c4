//! Shared by the projection tests: a private nats-server (a fault test stops only its own) and
//! waiting for a projection to reach a position.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::PgPool;

pub struct PrivateNats {
    child: Child,
    pub port: u16,
    pub dir: std::path::PathBuf,
}

impl PrivateNats {
    pub fn start(port: u16, dir: &std::path::Path) -> Self {
        Self::start_with(port, dir, None)
    }

    /// With a configuration file's text (accounts, limits) besides the port and store.
    pub fn start_with(port: u16, dir: &std::path::Path, config: Option<&str>) -> Self {
        let bin = [
            "/usr/sbin/nats-server",
            "/usr/bin/nats-server",
            "/usr/local/bin/nats-server",
        ]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or("nats-server");
        let mut cmd = Command::new(bin);
        if let Some(text) = config {
            std::fs::create_dir_all(dir).expect("nats dir");
            let file = dir.join("nats.conf");
            std::fs::write(&file, text).expect("nats config");
            cmd.arg("-c").arg(file);
        }
        let child = cmd
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a private nats-server");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "private nats-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            port,
            dir: dir.to_owned(),
        }
    }
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub async fn wait_for(pool: &PgPool, position: i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while prism_projections::status::position(pool, "read_models")
        .await
        .expect("status")
        < position
    {
        assert!(Instant::now() < deadline, "the projection never reached {position}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until the relay has published `position` (30 s at most, then fails saying `what`).
pub async fn wait_for_relay(store: &prism_event_store::PgEventStore, relay: &str, position: i64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while prism_bus::relay::checkpoint(store, relay).await.expect("checkpoint") < position {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
