//! Who is online, per workspace: a person is online in a workspace while they have a live
//! stream of it open on some node. Each node says so on the bus ([`prism_bus::presence`]):
//! at once when a person's first stream opens or last one closes, and again every heartbeat;
//! every node keeps what it hears (its own beats included) and counts someone online while a
//! node said so within three heartbeats. Ephemeral: never in the log, gone with the process.
//!
//! Changes are told to the workspace's streams as `presence.changed`, and the member list
//! shows `online`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use prism_bus::presence::{Beat, HEARTBEAT};
use prism_bus::Bus;
use tokio::sync::broadcast;
use uuid::Uuid;

/// A beat older than this no longer counts.
const EXPIRES: Duration = Duration::from_secs(3 * HEARTBEAT.as_secs());

/// A change of someone's presence in a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    pub workspace_id: Uuid,
    pub user_id: Uuid,
    pub online: bool,
}

type Key = (Uuid, Uuid);

#[derive(Default)]
struct State {
    /// Streams open on this node, per (workspace, user).
    open: HashMap<Key, usize>,
    /// What each node last said, per (workspace, user): when.
    heard: HashMap<Key, HashMap<String, Instant>>,
}

/// The node's presence. Clones share it.
#[derive(Clone)]
pub struct Presence {
    inner: Arc<Inner>,
}

struct Inner {
    bus: Arc<dyn Bus>,
    node: String,
    state: Mutex<State>,
    changes: broadcast::Sender<Change>,
    started: tokio::sync::OnceCell<()>,
}

impl Presence {
    /// Presence told over `bus`, this node called `node`.
    pub fn new(bus: Arc<dyn Bus>, node: &str) -> Self {
        let node: String = node.chars().take(64).collect();
        Self {
            inner: Arc::new(Inner {
                bus,
                node: if node.is_empty() { "local".into() } else { node },
                state: Mutex::new(State::default()),
                changes: broadcast::channel(1024).0,
                started: tokio::sync::OnceCell::new(),
            }),
        }
    }

    /// One process alone (an in-process bus).
    pub fn local() -> Self {
        Self::new(Arc::new(prism_bus::LocalBus::new()), "local")
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts listening and beating on first use.
    async fn start(&self) {
        let me = self.clone();
        self.inner
            .started
            .get_or_init(|| async move {
                match me.inner.bus.beats().await {
                    Ok(beats) => {
                        tokio::spawn(listen(Arc::downgrade(&me.inner), beats));
                    }
                    Err(e) => tracing::warn!(error = %e, "presence: cannot hear other nodes"),
                }
                tokio::spawn(heartbeat(Arc::downgrade(&me.inner)));
            })
            .await;
    }

    /// Changes from now on (every workspace's: a stream keeps its own).
    pub async fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.start().await;
        self.inner.changes.subscribe()
    }

    /// `user` opened a stream of `workspace`: online until the guard drops (with the others).
    pub async fn open(&self, workspace: Uuid, user: Uuid) -> PresenceGuard {
        self.start().await;
        let first = {
            let mut st = self.state();
            let n = st.open.entry((workspace, user)).or_insert(0);
            *n += 1;
            *n == 1
        };
        if first {
            say(&self.inner, workspace, user, true).await;
        }
        PresenceGuard {
            presence: self.clone(),
            key: (workspace, user),
        }
    }

    /// Which of `users` are online in `workspace` now.
    pub fn online(&self, workspace: Uuid, users: &[Uuid]) -> HashSet<Uuid> {
        let st = self.state();
        users
            .iter()
            .copied()
            .filter(|u| is_online(&st, (workspace, *u)))
            .collect()
    }
}

fn is_online(st: &State, key: Key) -> bool {
    st.heard
        .get(&key)
        .is_some_and(|nodes| nodes.values().any(|at| at.elapsed() < EXPIRES))
}

/// Sends a beat; a bus that is down makes presence stale, nothing else.
async fn say(inner: &Inner, workspace: Uuid, user: Uuid, online: bool) {
    let beat = Beat {
        workspace_id: workspace,
        user_id: user,
        node: inner.node.clone(),
        online,
    };
    if let Err(e) = inner.bus.beat(&beat).await {
        tracing::debug!(error = %e, "presence beat not sent");
    }
}

/// Folds what nodes say into the state, telling streams what changed.
async fn listen(inner: std::sync::Weak<Inner>, mut beats: prism_bus::presence::Beats) {
    while let Some(beat) = beats.next().await {
        let Some(inner) = inner.upgrade() else { return };
        let key = (beat.workspace_id, beat.user_id);
        let change = {
            let mut st = inner.state.lock().unwrap_or_else(|e| e.into_inner());
            let before = is_online(&st, key);
            let nodes = st.heard.entry(key).or_default();
            if beat.online {
                nodes.insert(beat.node, Instant::now());
            } else {
                nodes.remove(&beat.node);
            }
            if nodes.is_empty() {
                st.heard.remove(&key);
            }
            let after = is_online(&st, key);
            (before != after).then_some(Change {
                workspace_id: key.0,
                user_id: key.1,
                online: after,
            })
        };
        if let Some(c) = change {
            let _ = inner.changes.send(c);
        }
    }
}

/// Every heartbeat: repeats who is online here, and lets the silent expire.
async fn heartbeat(inner: std::sync::Weak<Inner>) {
    loop {
        tokio::time::sleep(HEARTBEAT).await;
        let Some(inner) = inner.upgrade() else { return };
        let (mine, expired) = {
            let mut st = inner.state.lock().unwrap_or_else(|e| e.into_inner());
            let mine: Vec<Key> = st.open.keys().copied().collect();
            let mut expired = Vec::new();
            st.heard.retain(|key, nodes| {
                nodes.retain(|_, at| at.elapsed() < EXPIRES);
                if nodes.is_empty() {
                    expired.push(*key);
                }
                !nodes.is_empty()
            });
            (mine, expired)
        };
        for (workspace_id, user_id) in expired {
            let _ = inner.changes.send(Change {
                workspace_id,
                user_id,
                online: false,
            });
        }
        for (ws, user) in mine {
            say(&inner, ws, user, true).await;
        }
    }
}

/// One open stream's share of its person's presence.
pub struct PresenceGuard {
    presence: Presence,
    key: Key,
}

impl Drop for PresenceGuard {
    fn drop(&mut self) {
        let last = {
            let mut st = self.presence.state();
            match st.open.get_mut(&self.key) {
                Some(n) if *n > 1 => {
                    *n -= 1;
                    false
                }
                Some(_) => {
                    st.open.remove(&self.key);
                    true
                }
                None => false,
            }
        };
        if last {
            let inner = self.presence.inner.clone();
            let (ws, user) = self.key;
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move { say(&inner, ws, user, false).await });
            }
        }
    }
}
