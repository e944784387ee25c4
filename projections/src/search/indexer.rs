//! The search projection: applies events to the Tantivy index and commits at most once a
//! second, with the last applied position in the commit payload and an explicit reader reload
//! after each commit.
//!
//! Between commits, documents staged in the writer are not searchable, so an edit of a message
//! created moments ago finds it in `pending` (the staged documents) rather than the index. A
//! crash loses only what was staged: the projector starts again from the committed position,
//! and re-applying is harmless (every add first deletes the document's id).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use prism_domain::aggregates::{ChannelEvent, ConversationEvent, DocEvent, FileEvent, MessageEvent, WorkspaceEvent};
use prism_event_store::StoredEvent;
use tantivy::collector::{DocSetCollector, TopDocs};
use tantivy::query::TermQuery;
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{IndexWriter, TantivyDocument, Term};
use uuid::Uuid;

use super::{to_date, SearchError, SearchIndex};
use crate::read_models::typed;
use crate::{ProjectionError, Target};

pub const NAME: &str = "search";

/// How often, at most, the index commits.
const COMMIT_EVERY: Duration = Duration::from_secs(1);

/// Staged documents kept for lookups before a commit is forced anyway (a safety valve: a
/// rebuild stages millions, and each costs about a hundred bytes here).
const MAX_PENDING: usize = 2_000_000;

/// One indexed document's fields (what an edit must carry over).
#[derive(Debug, Clone)]
struct Entry {
    kind: &'static str,
    id: Uuid,
    audience: String,
    workspace: Uuid,
    channel: Option<Uuid>,
    author: Uuid,
    archived: bool,
    at: chrono::DateTime<chrono::Utc>,
    title: Option<String>,
    body: String,
    /// The names of the files attached (searchable; `has:attachment` finds the entry).
    files: Vec<String>,
}

impl Entry {
    fn key(kind: &str, id: Uuid) -> String {
        format!("{}:{id}", &kind[..1])
    }
}

struct State {
    writer: IndexWriter<TantivyDocument>,
    applied: i64,
    committed: i64,
    last_commit: Instant,
    /// Documents added since the last commit, by key.
    pending: HashMap<String, Entry>,
    /// Every direct conversation's id: their messages have a narrower audience.
    conversations: HashSet<Uuid>,
    /// Names of files uploaded since this process started (older ones are read from their
    /// marker documents).
    file_names: HashMap<Uuid, String>,
}

pub struct SearchIndexer {
    index: Arc<SearchIndex>,
    /// The node's name, for its own durable consumer (every node keeps its own index).
    node: String,
    store_id: String,
    state: Mutex<State>,
}

impl SearchIndexer {
    /// A writer for `index`, for the log whose identity is `store_id`. An index built from
    /// another log is emptied and rebuilt (it is a derived view), loudly.
    pub fn new(index: Arc<SearchIndex>, store_id: Uuid, heap_bytes: usize) -> Result<Self, SearchError> {
        let store_id = store_id.to_string();
        let writer: IndexWriter<TantivyDocument> = index.index.writer(heap_bytes)?;
        let (mut applied, theirs) = index.committed()?;
        if theirs.as_deref().is_some_and(|s| s != store_id) {
            tracing::warn!(index_store = ?theirs, %store_id, "search index was built from another log; rebuilding it");
            writer.delete_all_documents()?;
            applied = 0;
        }
        let conversations = Self::known_conversations(&index)?;
        Ok(Self {
            node: "local".into(),
            store_id,
            state: Mutex::new(State {
                writer,
                applied,
                committed: applied,
                last_commit: Instant::now(),
                pending: HashMap::new(),
                conversations,
                file_names: HashMap::new(),
            }),
            index,
        })
    }

    /// Names this node (its durable consumer is `search_<node>`).
    pub fn for_node(mut self, node: &str) -> Self {
        self.node = node.to_owned();
        self
    }

    fn known_conversations(index: &SearchIndex) -> Result<HashSet<Uuid>, SearchError> {
        let f = index.fields;
        let searcher = index.reader.searcher();
        let q = TermQuery::new(Term::from_field_text(f.kind, "conversation"), IndexRecordOption::Basic);
        let found = searcher.search(&q, &DocSetCollector)?;
        let mut out = HashSet::with_capacity(found.len());
        for addr in found {
            let doc: TantivyDocument = searcher.doc(addr)?;
            if let Some(id) = doc
                .get_first(f.channel)
                .and_then(|v| v.as_str())
                .and_then(|s| s.parse().ok())
            {
                out.insert(id);
            }
        }
        Ok(out)
    }

    /// Commits now, whatever the time since the last commit (tests, shutdown, offline rebuild).
    pub fn commit(&self) -> Result<i64, ProjectionError> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        self.commit_locked(&mut st)
    }

    fn commit_locked(&self, st: &mut State) -> Result<i64, ProjectionError> {
        let payload = serde_json::json!({"position": st.applied, "store_id": self.store_id}).to_string();
        let mut prepared = st.writer.prepare_commit().map_err(search_err)?;
        prepared.set_payload(&payload);
        prepared.commit().map_err(search_err)?;
        st.committed = st.applied;
        st.last_commit = Instant::now();
        st.pending.clear();
        self.index.published(st.committed).map_err(search_err)?;
        Ok(st.committed)
    }

    /// The stored fields of an indexed (or staged) document.
    fn lookup(&self, st: &State, key: &str) -> Result<Option<Entry>, ProjectionError> {
        if let Some(e) = st.pending.get(key) {
            return Ok(Some(e.clone()));
        }
        let f = self.index.fields;
        let searcher = self.index.reader.searcher();
        let q = TermQuery::new(Term::from_field_text(f.id, key), IndexRecordOption::Basic);
        let Some((_, addr)) = searcher.search(&q, &TopDocs::with_limit(1)).map_err(search_err)?.pop() else {
            return Ok(None);
        };
        let doc: TantivyDocument = searcher.doc(addr).map_err(search_err)?;
        let s = |field| doc.get_first(field).and_then(|v| v.as_str()).map(str::to_owned);
        let u = |field| s(field).and_then(|v| v.parse::<Uuid>().ok());
        let kind = if s(f.kind).as_deref() == Some("doc") {
            "doc"
        } else {
            "message"
        };
        Ok(Some(Entry {
            kind,
            id: key
                .split_once(':')
                .and_then(|(_, id)| id.parse().ok())
                .unwrap_or_default(),
            audience: match u(f.channel) {
                Some(c) if st.conversations.contains(&c) => format!("conv:{c}"),
                _ => format!("ws:{}", u(f.workspace).unwrap_or_default()),
            },
            workspace: u(f.workspace).unwrap_or_default(),
            channel: u(f.channel),
            author: u(f.author).unwrap_or_default(),
            archived: s(f.status).as_deref() == Some("archived"),
            at: doc
                .get_first(f.time)
                .and_then(|v| v.as_datetime())
                .and_then(|d| chrono::DateTime::from_timestamp_micros(d.into_timestamp_micros()))
                .unwrap_or_default(),
            title: s(f.title),
            body: s(f.body).unwrap_or_default(),
            // The body's first value is the text; the others are the files' names.
            files: doc
                .get_all(f.body)
                .skip(1)
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        }))
    }

    /// The names of `files`, from this run's uploads or their marker documents.
    fn file_names(&self, st: &State, files: &[prism_domain::FileId]) -> Result<Vec<String>, ProjectionError> {
        let f = self.index.fields;
        let mut out = Vec::with_capacity(files.len());
        for id in files {
            if let Some(n) = st.file_names.get(&id.0) {
                out.push(n.clone());
                continue;
            }
            let searcher = self.index.reader.searcher();
            let q = TermQuery::new(
                Term::from_field_text(f.id, &format!("f:{}", id.0)),
                IndexRecordOption::Basic,
            );
            if let Some((_, addr)) = searcher.search(&q, &TopDocs::with_limit(1)).map_err(search_err)?.pop() {
                let doc: TantivyDocument = searcher.doc(addr).map_err(search_err)?;
                if let Some(n) = doc.get_first(f.title).and_then(|v| v.as_str()) {
                    out.push(n.to_owned());
                }
            }
        }
        Ok(out)
    }

    fn put(&self, st: &mut State, e: Entry) -> Result<(), ProjectionError> {
        let f = self.index.fields;
        let key = Entry::key(e.kind, e.id);
        st.writer.delete_term(Term::from_field_text(f.id, &key));
        let mut doc = TantivyDocument::default();
        doc.add_text(f.id, &key);
        doc.add_text(f.kind, e.kind);
        doc.add_text(f.audience, &e.audience);
        doc.add_text(f.workspace, e.workspace.to_string());
        if let Some(c) = e.channel {
            doc.add_text(f.channel, c.to_string());
        }
        doc.add_text(f.author, e.author.to_string());
        doc.add_text(f.status, if e.archived { "archived" } else { "live" });
        doc.add_date(f.time, to_date(e.at));
        if let Some(t) = &e.title {
            doc.add_text(f.title, t);
        }
        doc.add_text(f.body, &e.body);
        if !e.files.is_empty() {
            doc.add_text(f.status, "attachment");
            for name in &e.files {
                doc.add_text(f.body, name);
            }
        }
        st.writer.add_document(doc).map_err(search_err)?;
        // An edit of a message replaces its whole body, so a staged message is kept without
        // it; a doc's edit may change only the title, so a doc keeps its body.
        let kept = if e.kind == "message" {
            Entry {
                body: String::new(),
                ..e
            }
        } else {
            e
        };
        st.pending.insert(key, kept);
        Ok(())
    }

    fn remove(&self, st: &mut State, kind: &str, id: Uuid) {
        let key = Entry::key(kind, id);
        st.writer.delete_term(Term::from_field_text(self.index.fields.id, &key));
        st.pending.remove(&key);
    }

    fn apply_one(&self, st: &mut State, e: &StoredEvent) -> Result<(), ProjectionError> {
        let f = self.index.fields;
        match e.aggregate_type.as_str() {
            "message" => match typed::<MessageEvent>(e)? {
                MessageEvent::Created {
                    message_id,
                    workspace_id,
                    channel_id,
                    author_id,
                    body,
                    attachments,
                    ..
                } => {
                    let files = self.file_names(st, &attachments)?;
                    let audience = if st.conversations.contains(&channel_id) {
                        format!("conv:{channel_id}")
                    } else {
                        format!("ws:{}", workspace_id.0)
                    };
                    let entry = Entry {
                        kind: "message",
                        id: message_id.0,
                        audience,
                        workspace: workspace_id.0,
                        channel: Some(channel_id),
                        author: author_id.0,
                        archived: false,
                        at: e.recorded_at,
                        title: None,
                        body,
                        files,
                    };
                    self.put(st, entry)?;
                }
                MessageEvent::Updated { body, .. } => {
                    if let Some(mut entry) = self.lookup(st, &Entry::key("message", e.aggregate_id))? {
                        entry.body = body;
                        self.put(st, entry)?;
                    }
                }
                MessageEvent::Deleted { .. } => self.remove(st, "message", e.aggregate_id),
                MessageEvent::ReactionToggled { .. } => {}
            },
            "doc" => match typed::<DocEvent>(e)? {
                DocEvent::Created {
                    doc_id,
                    workspace_id,
                    author_id,
                    title,
                    body,
                    attachments,
                    ..
                } => {
                    let files = self.file_names(st, &attachments)?;
                    let entry = Entry {
                        kind: "doc",
                        id: doc_id.0,
                        audience: format!("ws:{}", workspace_id.0),
                        workspace: workspace_id.0,
                        channel: None,
                        author: author_id.0,
                        archived: false,
                        at: e.recorded_at,
                        title: Some(title),
                        body,
                        files,
                    };
                    self.put(st, entry)?;
                }
                DocEvent::Updated {
                    title,
                    body,
                    attachments,
                    ..
                } => {
                    if let Some(mut entry) = self.lookup(st, &Entry::key("doc", e.aggregate_id))? {
                        if let Some(t) = title {
                            entry.title = Some(t);
                        }
                        if let Some(b) = body {
                            entry.body = b;
                        }
                        if let Some(a) = attachments {
                            entry.files = self.file_names(st, &a)?;
                        }
                        self.put(st, entry)?;
                    }
                }
                DocEvent::Archived { .. } | DocEvent::Restored { .. } => {
                    let archived = e.event_type == "doc.archived";
                    if let Some(mut entry) = self.lookup(st, &Entry::key("doc", e.aggregate_id))? {
                        entry.archived = archived;
                        self.put(st, entry)?;
                    }
                }
                DocEvent::Deleted { .. } => self.remove(st, "doc", e.aggregate_id),
            },
            "file" => {
                if e.event_type == "file.deleted" {
                    let key = format!("f:{}", e.aggregate_id);
                    st.writer.delete_term(Term::from_field_text(f.id, &key));
                    st.file_names.remove(&e.aggregate_id);
                } else if let FileEvent::Uploaded { file_id, name, .. } = typed::<FileEvent>(e)? {
                    // A marker with the file's name, for what attaches it later.
                    let key = format!("f:{}", file_id.0);
                    st.writer.delete_term(Term::from_field_text(f.id, &key));
                    let mut doc = TantivyDocument::default();
                    doc.add_text(f.id, &key);
                    doc.add_text(f.kind, "file");
                    doc.add_text(f.title, &name);
                    st.writer.add_document(doc).map_err(search_err)?;
                    if st.file_names.len() >= 1_000_000 {
                        // The markers have them all; memory is finite.
                        st.file_names.clear();
                    }
                    st.file_names.insert(file_id.0, name);
                }
            }
            "conversation" => {
                let ConversationEvent::Created {
                    conversation_id,
                    workspace_id,
                    ..
                } = typed::<ConversationEvent>(e)?;
                {
                    // A marker, so the set of conversations survives a restart.
                    let key = format!("c:{}", conversation_id.0);
                    st.writer.delete_term(Term::from_field_text(f.id, &key));
                    let mut doc = TantivyDocument::default();
                    doc.add_text(f.id, &key);
                    doc.add_text(f.kind, "conversation");
                    doc.add_text(f.workspace, workspace_id.0.to_string());
                    doc.add_text(f.channel, conversation_id.0.to_string());
                    st.writer.add_document(doc).map_err(search_err)?;
                    st.conversations.insert(conversation_id.0);
                }
            }
            "channel" => {
                if let ChannelEvent::Deleted { .. } = typed::<ChannelEvent>(e)? {
                    let ch = e.aggregate_id.to_string();
                    st.writer.delete_term(Term::from_field_text(f.channel, &ch));
                    st.pending.retain(|_, p| p.channel != Some(e.aggregate_id));
                }
            }
            "workspace" => {
                if let WorkspaceEvent::Deleted { .. } = typed::<WorkspaceEvent>(e)? {
                    let ws = e.aggregate_id.to_string();
                    st.writer.delete_term(Term::from_field_text(f.workspace, &ws));
                    st.pending.retain(|_, p| p.workspace != e.aggregate_id);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Applies events without the runtime (offline rebuilds); commit with [`Self::commit`].
    pub fn apply_events(&self, events: &[StoredEvent]) -> Result<(), ProjectionError> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for e in events {
            if e.global_position <= st.applied {
                continue;
            }
            self.apply_one(&mut st, e)?;
            st.applied = e.global_position;
            if st.pending.len() >= MAX_PENDING {
                self.commit_locked(&mut st)?;
            }
        }
        Ok(())
    }
}

fn search_err(e: impl Into<SearchError>) -> ProjectionError {
    ProjectionError::Search(e.into().to_string())
}

impl From<tantivy::TantivyError> for ProjectionError {
    fn from(e: tantivy::TantivyError) -> Self {
        search_err(e)
    }
}

impl Target for SearchIndexer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn consumer(&self) -> String {
        format!("{NAME}_{}", self.node)
    }

    fn per_node(&self) -> bool {
        true
    }

    fn position(&self) -> BoxFuture<'_, Result<i64, ProjectionError>> {
        Box::pin(async move { Ok(self.state.lock().unwrap_or_else(|e| e.into_inner()).applied) })
    }

    fn apply<'a>(&'a self, events: &'a [StoredEvent]) -> BoxFuture<'a, Result<Option<i64>, ProjectionError>> {
        Box::pin(async move {
            // Tantivy's calls are synchronous but short (documents go to the writer's threads).
            self.apply_events(events)?;
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if st.applied > st.committed && st.last_commit.elapsed() >= COMMIT_EVERY {
                return Ok(Some(self.commit_locked(&mut st)?));
            }
            Ok(None)
        })
    }

    fn flush(&self, force: bool) -> BoxFuture<'_, Result<Option<i64>, ProjectionError>> {
        Box::pin(async move {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if st.applied > st.committed && (force || st.last_commit.elapsed() >= COMMIT_EVERY) {
                return Ok(Some(self.commit_locked(&mut st)?));
            }
            Ok(None)
        })
    }

    fn record_error<'a>(&'a self, e: &'a ProjectionError) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            tracing::error!(projection = NAME, error = %e, "search projection halted");
        })
    }
}
