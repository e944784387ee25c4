//! A private NATS JetStream cluster for fault tests and `scripts/chaos`: three `nats-server`s
//! on free ports, routed to each other, each with its own store. A test stops only these.
//! (Included by path where needed: the bus's tests, the chaos bench.)
#![allow(dead_code)] // each user takes what it needs

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn nats_server() -> &'static str {
    [
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
        "/usr/local/bin/nats-server",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
    .unwrap_or("nats-server")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub struct Cluster {
    nodes: Vec<Option<Child>>,
    pub ports: Vec<u16>,
    dir: PathBuf,
}

impl Cluster {
    /// `n` servers named `n0`, `n1`…, in one cluster.
    pub fn start(n: usize) -> Self {
        let dir = std::env::temp_dir().join(format!("prism-nats-cluster-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("dir");
        let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let routes: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let name = format!("c{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
        for i in 0..n {
            let others: Vec<String> = (0..n)
                .filter(|j| *j != i)
                .map(|j| format!("nats-route://127.0.0.1:{}", routes[j]))
                .collect();
            let conf = format!(
                "server_name: n{i}\nlisten: 127.0.0.1:{}\njetstream {{ store_dir: \"{}\" }}\n\
                 cluster {{ name: {name}\n listen: 127.0.0.1:{}\n routes: [{}] }}\n",
                ports[i],
                dir.join(format!("n{i}")).display(),
                routes[i],
                others.join(", ")
            );
            std::fs::write(dir.join(format!("n{i}.conf")), conf).expect("config");
        }
        let mut me = Self {
            nodes: (0..n).map(|_| None).collect(),
            ports,
            dir,
        };
        for i in 0..n {
            me.restart(i);
        }
        me
    }

    /// (Re)starts server `i` with its configuration and store; waits until it listens.
    pub fn restart(&mut self, i: usize) {
        self.kill(i);
        let child = Command::new(nats_server())
            .arg("-c")
            .arg(self.dir.join(format!("n{i}.conf")))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a private nats-server");
        self.nodes[i] = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.ports[i])).is_err() {
            assert!(Instant::now() < deadline, "a private nats-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server list, as an operator writes it (spaces after the commas too).
    pub fn url(&self) -> String {
        self.ports
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Kills server `i` (`kill -9`).
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The index of the server named `name` (`n1` → 1).
    pub fn index_of(&self, name: &str) -> Option<usize> {
        name.strip_prefix('n')
            .and_then(|i| i.parse().ok())
            .filter(|i| *i < self.ports.len())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
