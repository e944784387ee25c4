//! Hot pages: a read node's in-memory copy of what most reads ask for — the first pages of
//! channels and conversations, and "may this user read that channel" — kept exactly current by
//! the bus the node already consumes, so most reads never reach Postgres.
//!
//! It is a projector [`Target`] (fed by the runtime like any projection, with the same
//! continuity proof and catch-up from the log) that holds no state of its own: each event it
//! applies *invalidates* what it may change, and its position `V` says up to where every
//! invalidation has been applied. What it stores is loaded from the read models by the read API
//! and offered back with the read models' position `R` at which the load began; the offer is
//! refused when an event after `R` that could change it has already been applied here (the page
//! may not show it, and nothing would come to evict it later). A stored entry is served only to
//! a read whose position is at most `V`: the entry is the truth at every position up to `V`.
//!
//! What invalidates what (the events the read models turn into pages and access):
//! - `message.created` evicts its channel's pages (a new row) and the page showing its parent
//!   (the parent's reply count), wherever that is;
//! - `message.updated|deleted`, `reaction.toggled` evict the pages that show that message; for a
//!   message on no stored page, no page is evicted, but no page loaded before it is accepted;
//! - any other message event evicts every page;
//! - docs, reflection, AI budgets and sign-ins change neither pages nor access;
//! - anything else (membership, channels, workspaces, conversations, profiles, erasure, and any
//!   event type this module does not know) evicts everything: rare events, and always safe.
//!
//! A page also expires after [`PAGE_TTL`], the time a reader may keep an author's opened name
//! (`prism_vault`'s profile cache): pages hold names opened, and an erasure destroys the key
//! before its event reaches the bus. (It also bounds how long a page outlives a projection
//! rebuild, which swaps tables without an event.)

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use futures::future::BoxFuture;
use prism_event_store::StoredEvent;
use uuid::Uuid;

use crate::runtime::Target;
use crate::ProjectionError;

/// Aggregates whose events change no page and no access.
const NO_EFFECT: &[&str] = &["doc", "file", "lens_goal", "mirror_session", "turn", "ai_month", "auth"];

/// Events of other aggregates that change no page and no access either (a user's read marks
/// and invitations: frequent, and nothing a page shows).
const NO_EFFECT_TYPES: &[&str] = &["notification.read", "invitation.received"];

/// How long a page is served at most.
pub const PAGE_TTL: std::time::Duration = std::time::Duration::from_secs(10);

/// Targets whose pages are kept at most (a page is about 20 KB: 10,000 are about 200 MB).
const MAX_TARGETS: usize = 10_000;
/// Access answers kept at most.
const MAX_ACCESS: usize = 200_000;
/// Per-target invalidation marks kept at most, before they fold into the floor.
const MAX_MARKS: usize = 100_000;

/// A stored page: its body, and the messages it shows.
struct Page {
    body: Bytes,
    messages: Vec<Uuid>,
    stored_at: std::time::Instant,
}

#[derive(Default)]
struct Inner {
    /// Up to where every invalidation is applied.
    position: i64,
    /// target → its first pages, by page size.
    pages: HashMap<Uuid, HashMap<i64, Page>>,
    /// A message on a stored page → that page's target.
    shown: HashMap<Uuid, Uuid>,
    /// target → the last position that invalidated its pages.
    marks: HashMap<Uuid, i64>,
    /// No page loaded from before this position is accepted.
    page_floor: i64,
    /// (target, user) pairs known to be readable.
    access: HashSet<(Uuid, Uuid)>,
    /// No access answer loaded from before this position is accepted.
    access_floor: i64,
}

impl Inner {
    fn forget(&mut self, target: Uuid) {
        for p in self
            .pages
            .remove(&target)
            .into_iter()
            .flat_map(|by_size| by_size.into_values())
        {
            for m in p.messages {
                self.shown.remove(&m);
            }
        }
    }

    fn evict_target(&mut self, target: Uuid, at: i64) {
        self.forget(target);
        self.marks.insert(target, at);
        if self.marks.len() > MAX_MARKS {
            self.marks.clear();
            self.page_floor = at;
        }
    }

    fn evict_all(&mut self, at: i64) {
        self.pages.clear();
        self.shown.clear();
        self.marks.clear();
        self.access.clear();
        self.page_floor = at;
        self.access_floor = at;
    }

    /// `message` changed: evict the page showing it; on no stored page, nothing to evict, but
    /// a page loaded before this may show the message as it was.
    fn message_changed(&mut self, message: Uuid, at: i64) {
        match self.shown.get(&message).copied() {
            Some(target) => self.evict_target(target, at),
            None => self.page_floor = at,
        }
    }

    fn apply(&mut self, e: &StoredEvent) {
        let at = e.global_position;
        let id = |field: &str| {
            e.payload
                .get(field)
                .and_then(|c| c.as_str())
                .and_then(|c| c.parse::<Uuid>().ok())
        };
        if e.aggregate_type == "message" {
            match e.event_type.as_str() {
                "message.created" => {
                    match id("channel_id") {
                        Some(channel) => self.evict_target(channel, at),
                        None => self.evict_all(at),
                    }
                    // A reply changes its parent's reply count, on whatever page shows it.
                    if let Some(parent) = id("parent_id") {
                        self.message_changed(parent, at);
                    }
                }
                "message.updated" | "message.deleted" | "reaction.toggled" => self.message_changed(e.aggregate_id, at),
                _ => self.evict_all(at),
            }
        } else if !NO_EFFECT.contains(&e.aggregate_type.as_str()) && !NO_EFFECT_TYPES.contains(&e.event_type.as_str()) {
            self.evict_all(at);
        }
        self.position = self.position.max(at);
    }
}

/// The node's hot pages. Clones share one cache.
#[derive(Clone)]
pub struct HotPages {
    inner: Arc<RwLock<Inner>>,
    consumer: String,
}

impl HotPages {
    /// An empty cache whose invalidations start after `position` (the log's safe horizon when
    /// the node starts): nothing loaded from before it is accepted.
    pub fn new(position: i64) -> Self {
        Self {
            inner: Arc::new(RwLock::new(Inner {
                position,
                page_floor: position,
                access_floor: position,
                ..Default::default()
            })),
            consumer: "hot_pages".into(),
        }
    }

    /// Names its bus consumer after the node (each read node keeps its own cache).
    pub fn for_node(mut self, node: &str) -> Self {
        self.consumer = format!("hot_pages_{node}");
        self
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Up to where every invalidation is applied.
    pub fn position(&self) -> i64 {
        self.read().position
    }

    /// The first page of `target` with `limit` rows, if stored and true at position `at`.
    pub fn page(&self, target: Uuid, limit: i64, at: i64) -> Option<Bytes> {
        let inner = self.read();
        if inner.position < at {
            return None;
        }
        inner
            .pages
            .get(&target)?
            .get(&limit)
            .filter(|p| p.stored_at.elapsed() < PAGE_TTL)
            .map(|p| p.body.clone())
    }

    /// Offers the first page of `target`, loaded from the read models at position `loaded_at`
    /// or later, showing `messages`. Kept only if nothing that could change it was applied
    /// after `loaded_at`.
    pub fn offer_page(&self, target: Uuid, limit: i64, loaded_at: i64, body: Bytes, messages: Vec<Uuid>) {
        let mut inner = self.write();
        if loaded_at < inner.page_floor || inner.marks.get(&target).is_some_and(|m| *m > loaded_at) {
            return;
        }
        if inner.pages.len() >= MAX_TARGETS && !inner.pages.contains_key(&target) {
            // Full: make room by forgetting one target (a miss costs a query, never a stale read).
            if let Some(k) = inner.pages.keys().next().copied() {
                inner.forget(k);
            }
        }
        for m in &messages {
            inner.shown.insert(*m, target);
        }
        if let Some(old) = inner.pages.entry(target).or_default().insert(
            limit,
            Page {
                body,
                messages,
                stored_at: std::time::Instant::now(),
            },
        ) {
            // The same page again (two misses at once): keep the messages the new one shows.
            for m in old.messages {
                if !inner
                    .pages
                    .get(&target)
                    .is_some_and(|p| p.values().any(|p| p.messages.contains(&m)))
                {
                    inner.shown.remove(&m);
                }
            }
        }
    }

    /// Whether `user` is known to read `target` at position `at`.
    pub fn may_read(&self, target: Uuid, user: Uuid, at: i64) -> bool {
        let inner = self.read();
        inner.position >= at && inner.access.contains(&(target, user))
    }

    /// Offers "`user` may read `target`", checked in the read models at `loaded_at` or later.
    pub fn offer_access(&self, target: Uuid, user: Uuid, loaded_at: i64) {
        let mut inner = self.write();
        if loaded_at < inner.access_floor {
            return;
        }
        if inner.access.len() >= MAX_ACCESS {
            inner.access.clear();
        }
        inner.access.insert((target, user));
    }

    /// Pages and access answers stored (for tests and metrics).
    pub fn len(&self) -> (usize, usize) {
        let inner = self.read();
        (inner.pages.values().map(HashMap::len).sum(), inner.access.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0)
    }
}

impl Target for HotPages {
    fn name(&self) -> &'static str {
        "hot_pages"
    }

    fn consumer(&self) -> String {
        self.consumer.clone()
    }

    fn per_node(&self) -> bool {
        true
    }

    fn position(&self) -> BoxFuture<'_, Result<i64, ProjectionError>> {
        let p = HotPages::position(self);
        Box::pin(async move { Ok(p) })
    }

    fn apply<'a>(&'a self, events: &'a [StoredEvent]) -> BoxFuture<'a, Result<Option<i64>, ProjectionError>> {
        let moved = {
            let mut inner = self.write();
            let before = inner.position;
            for e in events.iter().filter(|e| e.global_position > before) {
                inner.apply(e);
            }
            (inner.position > before).then_some(inner.position)
        };
        Box::pin(async move { Ok(moved) })
    }

    fn record_error<'a>(&'a self, e: &'a ProjectionError) -> BoxFuture<'a, ()> {
        tracing::warn!(error = %e, "hot pages could not follow the log");
        Box::pin(async {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(
        position: i64,
        aggregate_type: &str,
        event_type: &str,
        id: Uuid,
        payload: serde_json::Value,
    ) -> StoredEvent {
        StoredEvent {
            global_position: position,
            event_id: Uuid::now_v7(),
            tenant_id: None,
            aggregate_type: aggregate_type.into(),
            aggregate_id: id,
            sequence: 1,
            event_type: event_type.into(),
            event_version: 1,
            payload,
            metadata: json!({}),
            recorded_at: chrono::Utc::now(),
            hash: vec![],
        }
    }

    fn apply(hot: &HotPages, e: StoredEvent) {
        let mut inner = hot.write();
        inner.apply(&e);
    }

    fn body(s: &str) -> Bytes {
        Bytes::from(s.to_owned())
    }

    #[test]
    fn a_page_is_served_only_up_to_the_position_its_invalidations_reached() {
        let (hot, channel, m) = (HotPages::new(10), Uuid::now_v7(), Uuid::now_v7());
        hot.offer_page(channel, 50, 10, body("p"), vec![m]);
        assert_eq!(hot.page(channel, 50, 10), Some(body("p")));
        assert_eq!(hot.page(channel, 50, 11), None, "a read past what the cache has seen");
        assert_eq!(hot.page(channel, 20, 10), None, "another page size");
        apply(&hot, event(11, "doc", "doc.created", Uuid::now_v7(), json!({})));
        assert_eq!(hot.page(channel, 50, 11), Some(body("p")), "a doc changes no page");
    }

    #[test]
    fn a_new_message_evicts_its_channel_and_refuses_pages_loaded_before_it() {
        let (hot, channel, other) = (HotPages::new(0), Uuid::now_v7(), Uuid::now_v7());
        hot.offer_page(channel, 50, 0, body("old"), vec![]);
        hot.offer_page(other, 50, 0, body("other"), vec![]);
        apply(
            &hot,
            event(
                5,
                "message",
                "message.created",
                Uuid::now_v7(),
                json!({"channel_id": channel}),
            ),
        );
        assert_eq!(hot.page(channel, 50, 5), None);
        assert_eq!(hot.page(other, 50, 5), Some(body("other")), "another channel stays");
        hot.offer_page(channel, 50, 4, body("loaded before the message"), vec![]);
        assert_eq!(
            hot.page(channel, 50, 5),
            None,
            "a page that may not show the message is refused"
        );
        hot.offer_page(channel, 50, 5, body("new"), vec![]);
        assert_eq!(hot.page(channel, 50, 5), Some(body("new")));
    }

    #[test]
    fn a_change_to_a_shown_message_evicts_its_page_and_to_an_unseen_one_refuses_older_loads() {
        let (hot, channel, shown, unseen) = (HotPages::new(0), Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        hot.offer_page(channel, 50, 0, body("p"), vec![shown]);
        apply(&hot, event(3, "message", "reaction.toggled", shown, json!({})));
        assert_eq!(hot.page(channel, 50, 3), None);
        hot.offer_page(channel, 50, 3, body("p2"), vec![shown]);
        apply(&hot, event(4, "message", "message.updated", unseen, json!({})));
        assert_eq!(hot.page(channel, 50, 4), Some(body("p2")), "not on the page: kept");
        hot.offer_page(Uuid::now_v7(), 50, 3, body("q"), vec![]);
        assert_eq!(hot.len().0, 1, "a page loaded before an unattributed change is refused");
    }

    #[test]
    fn membership_profiles_and_unknown_events_evict_everything() {
        for (aggregate_type, event_type) in [
            ("workspace", "member.removed"),
            ("user", "user.erased"),
            ("channel", "channel.deleted"),
            ("conversation", "conversation.created"),
            ("something_new", "something_new.happened"),
        ] {
            let (hot, channel, user) = (HotPages::new(0), Uuid::now_v7(), Uuid::now_v7());
            hot.offer_page(channel, 50, 0, body("p"), vec![]);
            hot.offer_access(channel, user, 0);
            apply(&hot, event(7, aggregate_type, event_type, Uuid::now_v7(), json!({})));
            assert!(hot.is_empty(), "{event_type} left something behind");
            assert!(!hot.may_read(channel, user, 7));
            hot.offer_access(channel, user, 6);
            assert!(
                !hot.may_read(channel, user, 7),
                "{event_type}: an access answer from before it"
            );
            hot.offer_access(channel, user, 7);
            assert!(hot.may_read(channel, user, 7));
        }
    }

    #[test]
    fn a_reply_evicts_the_page_showing_its_parent_and_unknown_message_events_evict_all() {
        let (hot, a, b, parent) = (HotPages::new(0), Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        hot.offer_page(a, 50, 0, body("a"), vec![parent]);
        hot.offer_page(b, 50, 0, body("b"), vec![]);
        let reply = json!({"channel_id": b, "parent_id": parent});
        apply(&hot, event(2, "message", "message.created", Uuid::now_v7(), reply));
        assert_eq!(hot.page(a, 50, 2), None, "the parent's reply count changed");
        hot.offer_page(a, 50, 2, body("a2"), vec![]);
        apply(&hot, event(3, "message", "message.pinned", Uuid::now_v7(), json!({})));
        assert!(
            hot.is_empty(),
            "a message event this cache does not know evicts everything"
        );
    }

    #[test]
    fn nothing_loaded_before_the_cache_started_is_accepted() {
        let (hot, channel, user) = (HotPages::new(100), Uuid::now_v7(), Uuid::now_v7());
        hot.offer_page(channel, 50, 99, body("p"), vec![]);
        hot.offer_access(channel, user, 99);
        assert!(hot.is_empty());
    }
}
