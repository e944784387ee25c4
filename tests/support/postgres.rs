//! A private Postgres for fault tests: its own primary (initdb on a free port, replication
//! allowed) and a streaming replica made from it with `pg_basebackup -R`, both run as the
//! `postgres` user. A test stops only these; the shared server is never touched (it does not
//! allow replication connections anyway).
#![allow(dead_code)] // each test binary uses what it needs

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn bin(name: &str) -> PathBuf {
    let dirs = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path().join("bin"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    dirs.into_iter()
        .map(|d| d.join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(name))
}

/// Runs `program args` as the `postgres` user (the server refuses to run as root).
fn as_postgres(program: &Path, args: &[&str]) -> std::process::Output {
    let line = std::iter::once(program.display().to_string())
        .chain(args.iter().map(|a| format!("'{a}'")))
        .collect::<Vec<_>>()
        .join(" ");
    let out = if nix_is_root() {
        Command::new("su").args(["postgres", "-c", &line]).output()
    } else {
        Command::new(program).args(args).output()
    }
    .expect("run a postgres tool");
    assert!(
        out.status.success(),
        "{line}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn nix_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// One server of the pair.
pub struct Server {
    pub dir: PathBuf,
    pub port: u16,
    running: bool,
}

impl Server {
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    fn start(&mut self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("server.log");
        as_postgres(
            &bin("pg_ctl"),
            &[
                "-D",
                &self.dir.display().to_string(),
                "-l",
                &log.display().to_string(),
                "-o",
                &opts,
                "-w",
                "start",
            ],
        );
        self.running = true;
    }

    /// Stops it at once, as a crash would (`-m immediate`).
    pub fn kill(&mut self) {
        if self.running {
            let _ = Command::new("su")
                .args([
                    "postgres",
                    "-c",
                    &format!(
                        "{} -D '{}' -m immediate stop",
                        bin("pg_ctl").display(),
                        self.dir.display()
                    ),
                ])
                .output();
            self.running = false;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A primary and its streaming replica, in a directory removed when dropped.
pub struct Pair {
    pub primary: Server,
    pub replica: Server,
    root: PathBuf,
}

impl Pair {
    pub fn start() -> Self {
        let root = std::env::temp_dir().join(format!("prism-pg-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&root).expect("dir");
        Command::new("chown")
            .args(["postgres:postgres", &root.display().to_string()])
            .status()
            .expect("chown");
        let primary_dir = root.join("primary");
        as_postgres(
            &bin("initdb"),
            &[
                "-D",
                &primary_dir.display().to_string(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
        );
        let conf = "\nwal_level = replica\nmax_wal_senders = 4\nfsync = off\nshared_buffers = 32MB\n";
        append(&primary_dir.join("postgresql.conf"), conf);
        append(
            &primary_dir.join("pg_hba.conf"),
            "\nhost all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n",
        );
        let mut primary = Server {
            dir: primary_dir,
            port: free_port(),
            running: false,
        };
        primary.start();
        let replica_dir = root.join("replica");
        as_postgres(
            &bin("pg_basebackup"),
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &primary.port.to_string(),
                "-U",
                "postgres",
                "-D",
                &replica_dir.display().to_string(),
                "-R",
                "-X",
                "stream",
            ],
        );
        let mut replica = Server {
            dir: replica_dir,
            port: free_port(),
            running: false,
        };
        replica.start();
        Self { primary, replica, root }
    }

    /// Makes `db` on the primary and waits until the replica has it too.
    pub async fn database(&self, db: &str) {
        let admin = sqlx::PgPool::connect(&self.primary.url("postgres"))
            .await
            .expect("primary");
        sqlx::query(&format!("CREATE DATABASE {db}"))
            .execute(&admin)
            .await
            .expect("create");
        let deadline = Instant::now() + Duration::from_secs(20);
        while sqlx::PgPool::connect(&self.replica.url(db)).await.is_err() {
            assert!(Instant::now() < deadline, "the replica never had the new database");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        self.replica.kill();
        self.primary.kill();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).expect("open");
    f.write_all(text.as_bytes()).expect("append");
}
