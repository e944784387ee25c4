//! API keys as every node knows them: a set kept current from the log (`api_key.created`
//! names the SHA-256 of the key's secret, `api_key.revoked` ends it), so verifying a key costs
//! a hash and a map lookup, and both APIs, on every node, answer the same. A key this node has
//! not heard of yet (created a moment ago on another node) makes it read the log once more
//! before the key is refused; such reads are shared by concurrent requests and spaced out, so a
//! flood of made-up keys cannot turn into a flood of queries.

use std::collections::HashMap;
use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use prism_domain::aggregates::KeyScope;
use uuid::Uuid;

use crate::{token_digest, BearerRefusal};

/// What every API key starts with: tells a key from a JWT at a glance (and to secret scanners).
pub const API_KEY_PREFIX: &str = "prism_";

/// A key as the log describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    pub key_id: Uuid,
    pub workspace: Uuid,
    pub scopes: Vec<KeyScope>,
    /// Unix seconds.
    pub expires_at: Option<i64>,
    pub revoked: bool,
}

impl ApiKey {
    pub fn allows(&self, scope: KeyScope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// One key event read from the log.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyChange {
    Created { digest: String, key: ApiKey },
    Revoked { key_id: Uuid },
}

impl KeyChange {
    /// What a logged event says about keys, if anything (`tenant` is the workspace).
    pub fn from_event(event_type: &str, tenant: Option<Uuid>, payload: &serde_json::Value) -> Option<Self> {
        let key_id = payload.get("key_id")?.as_str()?.parse::<Uuid>().ok()?;
        match event_type {
            "api_key.created" => Some(Self::Created {
                digest: payload.get("secret_sha256")?.as_str()?.to_owned(),
                key: ApiKey {
                    key_id,
                    workspace: tenant?,
                    scopes: serde_json::from_value(payload.get("scopes")?.clone()).ok()?,
                    expires_at: payload.get("expires_at").and_then(serde_json::Value::as_i64),
                    revoked: false,
                },
            }),
            "api_key.revoked" => Some(Self::Revoked { key_id }),
            _ => None,
        }
    }
}

type Fetch = dyn Fn(i64) -> Pin<Box<dyn Future<Output = Result<(Vec<KeyChange>, i64), String>> + Send>> + Send + Sync;

/// Each key's allowance: `requests` per `per`, refilled evenly.
fn limiter(requests: u32, per: Duration) -> DefaultKeyedRateLimiter<Uuid> {
    let n = NonZeroU32::new(requests.max(1)).unwrap_or(NonZeroU32::MIN);
    let period = (per / n.get()).max(Duration::from_nanos(1));
    let quota = Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(n))
        .allow_burst(n);
    DefaultKeyedRateLimiter::keyed(quota)
}

/// The default allowance of one key on one node.
pub const API_KEY_QUOTA: (u32, Duration) = (100, Duration::from_secs(1));

/// The keys this node knows, and how it learns more.
#[derive(Clone)]
pub struct ApiKeys {
    known: Arc<RwLock<Known>>,
    /// Serialises reads of the log: the position read up to, and when the last read began.
    reader: Arc<tokio::sync::Mutex<(i64, Option<Instant>)>>,
    fetch: Option<Arc<Fetch>>,
    limiter: Arc<DefaultKeyedRateLimiter<Uuid>>,
}

#[derive(Default)]
struct Known {
    /// secret digest → key.
    by_digest: HashMap<String, ApiKey>,
    /// key id → secret digest.
    digests: HashMap<Uuid, String>,
}

/// Why a request with an API key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    Bearer(BearerRefusal),
    /// Past the key's rate limit: try again after this long.
    Limited(Duration),
}

impl ApiKeys {
    /// Reads between two fetches caused by unknown keys are at least this far apart.
    const MIN_GAP: Duration = Duration::from_millis(25);
    /// How often the set is brought up to date in the background.
    pub const POLL: Duration = Duration::from_millis(500);

    /// A set that learns keys only through [`ApiKeys::add`] (tests), at `per_second` requests
    /// per key (the burst as large).
    pub fn new(requests: u32, per: Duration) -> Self {
        Self {
            known: Default::default(),
            reader: Arc::new(tokio::sync::Mutex::new((0, None))),
            fetch: None,
            limiter: Arc::new(limiter(requests, per)),
        }
    }

    /// The same keys, at `requests` per `per` for each key (a burst as large).
    pub fn with_quota(mut self, requests: u32, per: Duration) -> Self {
        self.limiter = Arc::new(limiter(requests, per));
        self
    }

    /// Reads the log with `fetch(after)` — the key events after a position, with the position
    /// read up to — now and every [`ApiKeys::POLL`] while anyone holds the set.
    pub fn following<F, Fut>(mut self, fetch: F) -> Self
    where
        F: Fn(i64) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(Vec<KeyChange>, i64), String>> + Send + 'static,
    {
        self.fetch = Some(Arc::new(move |after| Box::pin(fetch(after))));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let weak = Arc::downgrade(&self.known);
            let me = self.clone();
            let (reader, fetch, limiter) = (me.reader, me.fetch, me.limiter);
            runtime.spawn(async move {
                loop {
                    let Some(known) = weak.upgrade() else { return };
                    let keys = ApiKeys {
                        known,
                        reader: reader.clone(),
                        fetch: fetch.clone(),
                        limiter: limiter.clone(),
                    };
                    keys.catch_up(Instant::now()).await;
                    drop(keys);
                    tokio::time::sleep(Self::POLL).await;
                }
            });
        }
        self
    }

    pub fn add(&self, changes: impl IntoIterator<Item = KeyChange>) {
        let mut known = self.known.write().unwrap_or_else(|e| e.into_inner());
        for c in changes {
            match c {
                KeyChange::Created { digest, key } => {
                    known.digests.insert(key.key_id, digest.clone());
                    known.by_digest.insert(digest, key);
                }
                KeyChange::Revoked { key_id } => {
                    if let Some(d) = known.digests.get(&key_id).cloned() {
                        if let Some(k) = known.by_digest.get_mut(&d) {
                            k.revoked = true;
                        }
                    }
                }
            }
        }
    }

    /// Reads what the log holds beyond what this node has, unless a read began after `since`
    /// (then what it found is all there is to know). Reads are at least [`Self::MIN_GAP`] apart.
    async fn catch_up(&self, since: Instant) {
        let Some(fetch) = &self.fetch else { return };
        let mut reader = self.reader.lock().await;
        if reader.1.is_some_and(|began| began >= since) {
            return;
        }
        if let Some(began) = reader.1 {
            let next = began + Self::MIN_GAP;
            tokio::time::sleep_until(next.into()).await;
        }
        reader.1 = Some(Instant::now());
        match fetch(reader.0).await {
            Ok((changes, upto)) => {
                self.add(changes);
                reader.0 = reader.0.max(upto);
            }
            Err(e) => tracing::warn!(error = %e, "reading API keys from the log failed; retrying"),
        }
    }

    fn lookup(&self, digest: &str) -> Option<ApiKey> {
        let known = self.known.read().unwrap_or_else(|e| e.into_inner());
        known.by_digest.get(digest).cloned()
    }

    /// The key `token` (`prism_…`), if it is live, and within its rate limit.
    pub async fn verify(&self, token: &str) -> Result<ApiKey, KeyRefusal> {
        let asked = Instant::now();
        let digest = token_digest(token);
        let key = match self.lookup(&digest) {
            Some(k) => k,
            None => {
                self.catch_up(asked).await;
                self.lookup(&digest).ok_or(KeyRefusal::Bearer(BearerRefusal::Invalid))?
            }
        };
        if key.revoked {
            return Err(KeyRefusal::Bearer(BearerRefusal::KeyRevoked));
        }
        if key.expires_at.is_some_and(|at| at <= chrono::Utc::now().timestamp()) {
            return Err(KeyRefusal::Bearer(BearerRefusal::KeyExpired));
        }
        if let Err(not_until) = self.limiter.check_key(&key.key_id) {
            return Err(KeyRefusal::Limited(
                not_until.wait_time_from(DefaultClock::default().now()),
            ));
        }
        Ok(key)
    }

    /// Forgets rate-limit state of keys back to a full allowance (keeps memory bounded).
    pub fn shrink(&self) {
        self.limiter.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn created(token: &str, ws: Uuid, scopes: Vec<KeyScope>, expires_at: Option<i64>) -> (Uuid, KeyChange) {
        let key_id = Uuid::now_v7();
        let change = KeyChange::Created {
            digest: token_digest(token),
            key: ApiKey {
                key_id,
                workspace: ws,
                scopes,
                expires_at,
                revoked: false,
            },
        };
        (key_id, change)
    }

    #[tokio::test]
    async fn live_revoked_expired_unknown_and_limited_keys() {
        let keys = ApiKeys::new(3, Duration::from_secs(60));
        let ws = Uuid::now_v7();
        let (id, c) = created("prism_live", ws, vec![KeyScope::Read], None);
        let (old, c2) = created(
            "prism_old",
            ws,
            vec![KeyScope::Write],
            Some(chrono::Utc::now().timestamp() - 1),
        );
        keys.add([c, c2]);
        let live = keys.verify("prism_live").await.expect("live key");
        assert_eq!((live.key_id, live.workspace), (id, ws));
        assert!(live.allows(KeyScope::Read) && !live.allows(KeyScope::Write));
        assert_eq!(
            keys.verify("prism_old").await.err(),
            Some(KeyRefusal::Bearer(BearerRefusal::KeyExpired))
        );
        assert_eq!(
            keys.verify("prism_unknown").await.err(),
            Some(KeyRefusal::Bearer(BearerRefusal::Invalid))
        );
        keys.verify("prism_live").await.expect("second of three");
        keys.verify("prism_live").await.expect("third of three");
        assert!(matches!(keys.verify("prism_live").await, Err(KeyRefusal::Limited(_))));
        keys.add([KeyChange::Revoked { key_id: id }]);
        assert_eq!(
            keys.verify("prism_live").await.err(),
            Some(KeyRefusal::Bearer(BearerRefusal::KeyRevoked))
        );
        let _ = old;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unknown_key_reads_the_log_once_before_it_is_refused() {
        let ws = Uuid::now_v7();
        let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let log: Arc<std::sync::Mutex<Vec<KeyChange>>> = Default::default();
        let (r, l) = (reads.clone(), log.clone());
        let keys = ApiKeys::new(100, Duration::from_secs(1)).following(move |after| {
            let (r, l) = (r.clone(), l.clone());
            async move {
                r.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let all = l.lock().expect("log").clone();
                let upto = all.len() as i64;
                Ok((all.into_iter().skip(after as usize).collect(), upto))
            }
        });
        // Created "on another node" after this one last read the log.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (id, c) = created("prism_new", ws, vec![KeyScope::Write], None);
        log.lock().expect("log").push(c);
        let before = reads.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(keys.verify("prism_new").await.map(|k| k.key_id), Ok(id));
        assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), before + 1);
        // A flood of made-up keys shares reads, spaced at least MIN_GAP apart.
        let before = reads.load(std::sync::atomic::Ordering::SeqCst);
        let started = Instant::now();
        let tries: Vec<_> = (0..40)
            .map(|i| {
                let k = keys.clone();
                tokio::spawn(async move { k.verify(&format!("prism_made_up_{i}")).await })
            })
            .collect();
        for t in tries {
            assert!(t.await.expect("task").is_err());
        }
        let reads = reads.load(std::sync::atomic::Ordering::SeqCst) - before;
        let allowed = (started.elapsed().as_millis() / ApiKeys::MIN_GAP.as_millis()) as usize + 2;
        assert!(
            reads <= allowed,
            "{reads} reads for 40 unknown keys in {:?}",
            started.elapsed()
        );
    }
}
