//! Read-your-writes: `X-Min-Position: N` (or `?min_position=N`) waits, bounded, until the
//! projection a route reads has applied position N; past the bound the answer is 503
//! `projection_behind` with `Retry-After`. Every answer says where that projection stands in
//! `X-Projection-Position`.
//!
//! Which projection a route reads is declared with the routes (`crate::app` groups them by
//! [`Source`]): search reads the node's Tantivy index, audit and spectrum routes their own
//! tables, history routes the log itself (its safe horizon), everything else the read models.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ReadError;
use crate::AppState;

fn min_position(req: &Request) -> Result<Option<i64>, ReadError> {
    let bad = || ReadError::BadRequest {
        code: "invalid_min_position",
        message: "min_position must be a non-negative integer".into(),
    };
    // Both ways are checked whenever present (a bad one is never silently ignored); the
    // header wins.
    let mut query = None;
    for pair in req.uri().query().unwrap_or("").split('&') {
        if let Some(v) = pair.strip_prefix("min_position=") {
            if query.is_some() {
                return Err(bad());
            }
            query = Some(crate::extract::position(v).ok_or_else(bad)?);
        }
    }
    match req.headers().get("x-min-position") {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(crate::extract::position)
            .map(Some)
            .ok_or_else(bad),
        None => Ok(query),
    }
}

/// The position of its source this read reflects (at least): set by [`consistency`] for the
/// handler, sent back as `X-Projection-Position`.
#[derive(Debug, Clone, Copy)]
pub struct At(pub i64);

/// A source's position as last read, shared by a node's requests.
#[derive(Debug)]
pub struct CachedPosition {
    position: AtomicI64,
    /// Microseconds after `epoch` when it was read (0: never).
    read_at: AtomicU64,
    epoch: std::time::Instant,
    /// One request is reading it again.
    refreshing: AtomicBool,
}

impl Default for CachedPosition {
    fn default() -> Self {
        Self {
            position: AtomicI64::new(0),
            read_at: AtomicU64::new(0),
            epoch: std::time::Instant::now(),
            refreshing: AtomicBool::new(false),
        }
    }
}

/// Every source a route may read, each with its cached position (built once; read without a
/// lock).
pub(crate) fn position_cache() -> crate::PositionCache {
    let sources = [
        Source::Projection(prism_projections::read_models::NAME),
        Source::Projection(prism_projections::audit::NAME),
        Source::Projection(prism_projections::spectrum::NAME),
        Source::Projection(prism_projections::webhooks::NAME),
        Source::Search,
        Source::Log,
    ];
    std::sync::Arc::new(sources.into_iter().map(|s| (s, CachedPosition::default())).collect())
}

/// Clears a source's `refreshing` mark when its refresher finishes, however it finishes.
struct Refreshing<'a>(&'a AtomicBool);

impl Drop for Refreshing<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// What a route reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    Projection(&'static str),
    Search,
    Log,
}

pub async fn consistency(State((s, source)): State<(AppState, Source)>, req: Request, next: Next) -> Response {
    // Reads are GETs: any other method is the router's 405 (with `Allow`), whatever it carries.
    if !matches!(*req.method(), axum::http::Method::GET | axum::http::Method::HEAD) {
        return next.run(req).await;
    }
    // Every route behind this layer needs a caller: an anonymous request is refused before it
    // can make the node wait (or query anything) on its behalf.
    // The bearer is verified (and, for an API key, counted) once: the extractors find it here.
    let bearer = match crate::extract::authenticate(req.headers(), &s).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let mut req = req;
    req.extensions_mut().insert(bearer);
    let wanted = match min_position(&req) {
        Ok(w) => w,
        Err(e) => return e.into_response(),
    };
    if let Some(w) = wanted {
        // A position the log has not reached was never answered by a write: refuse it at once
        // rather than wait for it.
        match s.history.store().head().await {
            Ok(head) if w > head => {
                return ReadError::NotReached {
                    code: "position_not_reached",
                    message: format!("position {w} is past the end of the log ({head})"),
                }
                .into_response()
            }
            Ok(_) => {}
            Err(e) => return ReadError::Unavailable(e.to_string()).into_response(),
        }
    }
    let position = match wanted {
        // Nothing to wait for: a position at most a few milliseconds old will do for the header.
        None => s.recent_position(source).await,
        Some(w) => s.wait_for(source, w).await,
    };
    let position = match position {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    if let Some(w) = wanted {
        if position < w {
            return ReadError::ProjectionBehind {
                wanted: w,
                at: position,
            }
            .into_response();
        }
    }
    req.extensions_mut().insert(At(position));
    let mut res = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&position.to_string()) {
        res.headers_mut().insert("x-projection-position", v);
    }
    res
}

impl AppState {
    async fn position_of(&self, source: Source) -> Result<i64, ReadError> {
        match source {
            Source::Projection(name) => Ok(prism_projections::status::position(&self.reads(), name).await?),
            Source::Search => Ok(self.search.as_ref().map_or(0, |s| s.position())),
            Source::Log => self
                .history
                .store()
                .safe_horizon()
                .await
                .map_err(|e| ReadError::Unavailable(e.to_string())),
        }
    }

    /// A source's position, refreshed at most every 5 ms across all requests, by one request at
    /// a time: the others answer with the position just read (positions only move forward, so
    /// it is a true lower bound), rather than all asking Postgres at once when it ages. Every
    /// read passes here, so it takes no lock: under a saturated CPU a preempted lock holder
    /// stalled every other read behind it.
    pub async fn recent_position(&self, source: Source) -> Result<i64, ReadError> {
        let Some(c) = self.position_cache.get(&source) else {
            return self.position_of(source).await;
        };
        let now = c.epoch.elapsed().as_micros() as u64;
        let read_at = c.read_at.load(Ordering::Acquire);
        let fresh = read_at != 0 && now.saturating_sub(read_at) < 5_000;
        if fresh || (read_at != 0 && c.refreshing.swap(true, Ordering::AcqRel)) {
            return Ok(c.position.load(Ordering::Acquire));
        }
        // This request refreshes; whatever happens to it (an error, a client gone mid-read),
        // the next one may refresh.
        let _refreshing = Refreshing(&c.refreshing);
        let p = self.position_of(source).await?;
        let p = c.position.fetch_max(p, Ordering::AcqRel).max(p);
        c.read_at
            .store((c.epoch.elapsed().as_micros() as u64).max(1), Ordering::Release);
        Ok(p)
    }

    /// A source's position, once it reaches `wanted` or the bound passes. Waiters do not
    /// poll: they wait on the node's [`Positions`], which reads every source once per tick
    /// while anyone waits (so a thousand waiting reads cost what one does).
    pub async fn wait_for(&self, source: Source, wanted: i64) -> Result<i64, ReadError> {
        let now = self.position_of(source).await?;
        if now >= wanted {
            return Ok(now);
        }
        let mut rx = self.positions.watch(self.clone());
        // The watch's guard never lives across an await (it is not `Send`).
        let reached = tokio::time::timeout(self.max_wait, async {
            rx.wait_for(|seen| seen.get(&source).is_some_and(|p| *p >= wanted))
                .await
                .ok()
                .and_then(|seen| seen.get(&source).copied())
        })
        .await
        .ok()
        .flatten();
        match reached {
            Some(p) => Ok(p),
            None => self.position_of(source).await,
        }
    }
}

/// Every source's position, read by one task per node while anyone waits.
#[derive(Default)]
pub struct Positions {
    tx: tokio::sync::watch::Sender<std::collections::HashMap<Source, i64>>,
    waiting: std::sync::atomic::AtomicUsize,
    wake: tokio::sync::Notify,
    started: std::sync::atomic::AtomicBool,
}

/// How often the positions are read while someone waits.
const TICK: Duration = Duration::from_millis(2);

/// One more waiter while it lives.
pub struct Waiting<'a> {
    positions: &'a Positions,
    pub rx: tokio::sync::watch::Receiver<std::collections::HashMap<Source, i64>>,
}

impl std::ops::Deref for Waiting<'_> {
    type Target = tokio::sync::watch::Receiver<std::collections::HashMap<Source, i64>>;
    fn deref(&self) -> &Self::Target {
        &self.rx
    }
}

impl std::ops::DerefMut for Waiting<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.rx
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.positions.waiting.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

impl Positions {
    /// Registers a waiter (starting the node's reader on first use) and answers its view.
    fn watch(&self, state: AppState) -> Waiting<'_> {
        if !self.started.swap(true, std::sync::atomic::Ordering::AcqRel) {
            let positions = std::sync::Arc::downgrade(&state.positions);
            tokio::spawn(read_positions(positions, state));
        }
        let rx = self.tx.subscribe();
        self.waiting.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        self.wake.notify_one();
        Waiting { positions: self, rx }
    }
}

/// The node's reader: while anyone waits, every source's position each tick.
async fn read_positions(positions: std::sync::Weak<Positions>, state: AppState) {
    // The reader must not keep the state's `Positions` alive through `state` itself.
    let mut shared = (*state).clone();
    shared.positions = Default::default();
    let state = AppState(std::sync::Arc::new(shared));
    loop {
        let Some(p) = positions.upgrade() else { return };
        if p.waiting.load(std::sync::atomic::Ordering::Acquire) == 0 {
            // Wake-ups can be missed between the check and here: look again every second.
            let _ = tokio::time::timeout(Duration::from_secs(1), p.wake.notified()).await;
            continue;
        }
        let mut seen = std::collections::HashMap::new();
        if let Ok(rows) = prism_projections::status::all(&state.reads()).await {
            for (st, _) in rows {
                for name in [
                    prism_projections::read_models::NAME,
                    prism_projections::audit::NAME,
                    prism_projections::spectrum::NAME,
                ] {
                    if st.name == name {
                        seen.insert(Source::Projection(name), st.position);
                    }
                }
            }
        }
        if let Ok(h) = state.history.store().safe_horizon().await {
            seen.insert(Source::Log, h);
        }
        seen.insert(Source::Search, state.search.as_ref().map_or(0, |s| s.position()));
        p.tx.send_replace(seen);
        drop(p);
        tokio::time::sleep(TICK).await;
    }
}
