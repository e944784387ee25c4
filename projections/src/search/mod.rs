//! Full-text search over messages and docs: a Tantivy index on local disk, kept by its own
//! projector ([`indexer::SearchIndexer`]) and read through [`SearchIndex::search`].
//!
//! The index is a node-local projection: each read-API process keeps its own in
//! `PRISM_DATA_DIR/search`, from the same stream, with its checkpoint in the Tantivy commit
//! payload (so the index and its position can never disagree). Its durable consumer is named
//! after the node, so nodes do not share one.
//!
//! Tenancy is enforced inside the query: every document has an `audience` term
//! (`ws:<workspace>` for channel messages and docs, `conv:<conversation>` for a direct
//! conversation's messages) and a search is `user query AND audience ∈ the caller's`. Another
//! tenant's documents are neither returned nor counted.

pub mod bounds;
pub mod gate;
pub mod indexer;

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};

use serde::Serialize;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, Occur, Query, QueryParser, RegexQuery, TermQuery, TermSetQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED, STRING,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DateTime as TantivyDate, Index, IndexReader, ReloadPolicy, TantivyDocument, Term};
use uuid::Uuid;

pub use gate::{Cancel, CancelOnDrop, Gate, GateLimits, Refused, Ticket};
pub use indexer::SearchIndexer;

/// What can go wrong with a search.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The query text does not parse: the caller's mistake, answered with a 400.
    #[error("{0}")]
    BadQuery(String),
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search index directory: {0}")]
    Directory(String),
    /// The request ended, the search passed its deadline or the node is stopping.
    #[error("the search was cancelled")]
    Cancelled,
}

#[derive(Clone, Copy)]
pub(crate) struct Fields {
    pub id: Field,
    pub kind: Field,
    pub audience: Field,
    pub workspace: Field,
    pub channel: Field,
    pub author: Field,
    pub status: Field,
    pub time: Field,
    pub title: Field,
    pub body: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default().set_stored().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("default")
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED),
        kind: b.add_text_field("kind", STRING | STORED),
        audience: b.add_text_field("audience", STRING),
        workspace: b.add_text_field("workspace", STRING | STORED),
        channel: b.add_text_field("channel", STRING | STORED),
        author: b.add_text_field("author", STRING | STORED),
        status: b.add_text_field("status", STRING | STORED),
        time: b.add_date_field("time", INDEXED | STORED | FAST),
        title: b.add_text_field("title", text.clone()),
        body: b.add_text_field("body", text),
    };
    (b.build(), fields)
}

/// The index audiences a reader with `reach` may see: a workspace's documents are indexed for
/// `ws:<id>`, a direct conversation's for `conv:<id>` only (the indexer writes the same form).
pub fn audiences(reach: &crate::read_models::workspaces::Reach) -> Vec<String> {
    let ws = reach.workspaces.iter().map(|w| format!("ws:{w}"));
    ws.chain(reach.conversations.iter().map(|c| format!("conv:{c}")))
        .collect()
}

/// A search request, already authorized: `audiences` are the caller's.
#[derive(Debug, Clone)]
pub struct SearchQuery {
    pub text: String,
    pub audiences: Vec<String>,
    pub kind: Option<String>,
    pub limit: usize,
    pub offset: usize,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Hit {
    pub kind: String,
    pub id: Uuid,
    pub workspace_id: Option<Uuid>,
    pub channel_id: Option<Uuid>,
    pub author_id: Option<Uuid>,
    pub title: Option<String>,
    /// The best fragment, with the matched terms in `<mark>…</mark>` (the text is HTML-escaped).
    pub snippet: String,
    pub score: f32,
    pub at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone)]
pub struct SearchPage {
    pub hits: Vec<Hit>,
    /// Matches the caller may see, in all.
    pub total: usize,
}

/// The index as readers see it (the last commit).
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    /// The log position of the last commit: what readers see.
    position: AtomicI64,
    /// Who may search now; cancels every search when the node stops.
    gate: Gate,
}

impl SearchIndex {
    /// Opens the index in `dir`, creating it if needed.
    pub fn open(dir: &Path) -> Result<Self, SearchError> {
        std::fs::create_dir_all(dir).map_err(|e| SearchError::Directory(format!("{}: {e}", dir.display())))?;
        let (schema, fields) = schema();
        let mmap = tantivy::directory::MmapDirectory::open(dir)
            .map_err(|e| SearchError::Directory(format!("{}: {e}", dir.display())))?;
        let index = Index::open_or_create(mmap, schema)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let this = Self {
            index,
            reader,
            fields,
            position: AtomicI64::new(0),
            gate: Gate::new(GateLimits::default()),
        };
        let (position, _) = this.committed()?;
        this.position.store(position, Ordering::SeqCst);
        Ok(this)
    }

    /// The position and store id in the last commit's payload.
    pub(crate) fn committed(&self) -> Result<(i64, Option<String>), SearchError> {
        let payload = self.index.load_metas()?.payload;
        let v: serde_json::Value = payload
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or_default();
        Ok((
            v.get("position").and_then(serde_json::Value::as_i64).unwrap_or(0),
            v.get("store_id").and_then(serde_json::Value::as_str).map(str::to_owned),
        ))
    }

    /// The log position readers see.
    pub fn position(&self) -> i64 {
        self.position.load(Ordering::SeqCst)
    }

    pub(crate) fn published(&self, position: i64) -> Result<(), SearchError> {
        self.reader.reload()?;
        self.position.store(position, Ordering::SeqCst);
        Ok(())
    }

    /// Documents readers see (conversation markers included).
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Sets how many searches may run at once, per node and per caller.
    pub fn with_limits(mut self, limits: GateLimits) -> Self {
        self.gate = Gate::new(limits);
        self
    }

    /// A place for one of `caller`'s searches (see [`gate`]).
    pub fn admit(&self, caller: Uuid) -> Result<(Ticket, CancelOnDrop), Refused> {
        self.gate.admit(caller)
    }

    /// Searches running now, on their threads.
    pub fn in_flight(&self) -> usize {
        self.gate.in_flight()
    }

    /// Cancels every running search and admits no more: the node is stopping.
    pub fn close(&self) {
        self.gate.close();
    }

    /// A search nobody cancels but its deadline (tools, tests).
    pub fn search(&self, q: &SearchQuery) -> Result<SearchPage, SearchError> {
        self.search_until(q, &Cancel::never())
    }

    /// A search that stops, with [`SearchError::Cancelled`], once `cancel` says so.
    pub fn search_until(&self, q: &SearchQuery, cancel: &Cancel) -> Result<SearchPage, SearchError> {
        let out = self.run(q, cancel);
        match out {
            Err(SearchError::Index(_)) if cancel.is_cancelled() => Err(SearchError::Cancelled),
            other => other,
        }
    }

    fn run(&self, q: &SearchQuery, cancel: &Cancel) -> Result<SearchPage, SearchError> {
        let f = self.fields;
        let mut parser = QueryParser::for_index(&self.index, vec![f.title, f.body]);
        parser.set_conjunction_by_default();
        parser.set_field_boost(f.title, 2.0);
        // `has:attachment` is a filter, not words.
        let mut has_attachment = false;
        let text: String = q
            .text
            .split_whitespace()
            .filter(|w| {
                let filter = w.eq_ignore_ascii_case("has:attachment");
                has_attachment |= filter;
                !filter
            })
            .collect::<Vec<_>>()
            .join(" ");
        if text.is_empty() && !has_attachment {
            return Err(SearchError::BadQuery("q must not be empty".into()));
        }
        // Measured before the parser sees it: see `bounds`.
        bounds::check(&text)?;
        let text = bounds::plain_brackets(&text);
        let user: Box<dyn Query> = if text.is_empty() {
            Box::new(tantivy::query::AllQuery)
        } else {
            // Text that is not the query language (an unclosed quote, a stray `:`) is searched
            // as the words it holds: a search box answers, it does not lecture.
            parse(&parser, f, &text).unwrap_or_else(|_| words(&parser, &text))
        };
        if q.audiences.is_empty() {
            return Ok(SearchPage { hits: vec![], total: 0 });
        }
        let audiences = q.audiences.iter().map(|a| Term::from_field_text(f.audience, a));
        let kinds: Vec<Term> = match q.kind.as_deref() {
            Some(k) => vec![Term::from_field_text(f.kind, k)],
            None => ["message", "doc"]
                .iter()
                .map(|k| Term::from_field_text(f.kind, k))
                .collect(),
        };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![
            (Occur::Must, user.box_clone()),
            (Occur::Must, Box::new(TermSetQuery::new(audiences))),
            (Occur::Must, Box::new(TermSetQuery::new(kinds))),
            (
                Occur::MustNot,
                Box::new(TermQuery::new(
                    Term::from_field_text(f.status, "archived"),
                    IndexRecordOption::Basic,
                )),
            ),
        ];
        if has_attachment {
            clauses.push((
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(f.status, "attachment"),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        let filtered = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let collector = gate::Cancellable {
            inner: (TopDocs::with_limit(q.limit.max(1)).and_offset(q.offset), Count),
            cancel,
        };
        let (top, total) = searcher.search(&filtered, &collector)?;
        if cancel.is_cancelled() {
            return Err(SearchError::Cancelled);
        }
        let mut body_snippets = SnippetGenerator::create(&searcher, &*user, f.body)?;
        body_snippets.set_max_num_chars(160);
        let mut title_snippets = SnippetGenerator::create(&searcher, &*user, f.title)?;
        title_snippets.set_max_num_chars(160);
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let doc: TantivyDocument = searcher.doc(addr)?;
            let s = |field: Field| doc.get_first(field).and_then(|v| v.as_str()).map(str::to_owned);
            let u = |field: Field| s(field).and_then(|v| v.parse::<Uuid>().ok());
            let mut snippet = body_snippets.snippet_from_doc(&doc);
            if snippet.highlighted().is_empty() {
                let t = title_snippets.snippet_from_doc(&doc);
                if !t.highlighted().is_empty() {
                    snippet = t;
                }
            }
            snippet.set_snippet_prefix_postfix("<mark>", "</mark>");
            let at = doc
                .get_first(f.time)
                .and_then(|v| v.as_datetime())
                .and_then(|d| chrono::DateTime::from_timestamp_micros(d.into_timestamp_micros()))
                .unwrap_or_default();
            let id = s(f.id)
                .and_then(|v| v.split_once(':').and_then(|(_, id)| id.parse().ok()))
                .unwrap_or_default();
            hits.push(Hit {
                kind: s(f.kind).unwrap_or_default(),
                id,
                workspace_id: u(f.workspace),
                channel_id: u(f.channel),
                author_id: u(f.author),
                title: s(f.title),
                snippet: snippet.to_html(),
                score,
                at,
            });
        }
        Ok(SearchPage { hits, total })
    }
}

/// `text` as plain words: letters and digits only, lowercased (so no word is an operator); no
/// words match nothing.
fn words(parser: &QueryParser, text: &str) -> Box<dyn Query> {
    let plain = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(bounds::MAX_CLAUSES)
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ");
    match plain.is_empty() {
        true => Box::new(tantivy::query::EmptyQuery),
        false => parser
            .parse_query(&plain)
            .unwrap_or_else(|_| Box::new(tantivy::query::EmptyQuery)),
    }
}

/// The parser's language (terms, `"phrases"`, `"phrase prefixes"*`, AND/OR/NOT, `+`/`-`,
/// `title:`/`body:`), plus bare `word*` prefixes, which Tantivy's parser does not take: those
/// are pulled out and required (as if joined with AND) on the title or the body.
fn parse(parser: &QueryParser, f: Fields, text: &str) -> Result<Box<dyn Query>, SearchError> {
    let mut rest = String::with_capacity(text.len());
    let mut prefixes = Vec::new();
    let mut quoted = false;
    for piece in text.split_inclusive(|c: char| c.is_whitespace() || c == '"') {
        let word = piece.trim_end_matches(|c: char| c.is_whitespace() || c == '"');
        let bare = !quoted
            && word.len() > 1
            && word.ends_with('*')
            && word[..word.len() - 1].chars().all(char::is_alphanumeric);
        if bare {
            let stem = word[..word.len() - 1].to_lowercase();
            if stem.chars().count() < 2 {
                return Err(SearchError::BadQuery(format!(
                    "the prefix `{word}` is too short: give at least 2 letters"
                )));
            }
            prefixes.push(stem);
            rest.push_str(&piece[word.len()..]);
        } else {
            rest.push_str(piece);
        }
        quoted ^= piece.ends_with('"');
    }
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    if !rest.trim().is_empty() {
        let q = parser
            .parse_query(&rest)
            .map_err(|e| SearchError::BadQuery(explain(&e)))?;
        clauses.push((Occur::Must, q));
    }
    for stem in prefixes {
        let pattern = format!("{}.*", regex_escape(&stem));
        let either: Vec<(Occur, Box<dyn Query>)> = [f.title, f.body]
            .into_iter()
            .map(|field| {
                RegexQuery::from_pattern(&pattern, field)
                    .map(|q| (Occur::Should, Box::new(q) as Box<dyn Query>))
                    .map_err(|e| SearchError::BadQuery(e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        clauses.push((Occur::Must, Box::new(BooleanQuery::new(either))));
    }
    match clauses.len() {
        1 => Ok(clauses.remove(0).1),
        _ => Ok(Box::new(BooleanQuery::new(clauses))),
    }
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let special = !c.is_alphanumeric();
            special.then_some('\\').into_iter().chain(std::iter::once(c))
        })
        .collect()
}

pub(crate) fn to_date(at: chrono::DateTime<chrono::Utc>) -> TantivyDate {
    TantivyDate::from_timestamp_micros(at.timestamp_micros())
}

/// A parser error in words a person can act on.
fn explain(e: &tantivy::query::QueryParserError) -> String {
    use tantivy::query::QueryParserError as E;
    match e {
        E::SyntaxError(s) => format!("the query has a syntax error ({s}): check quotes, parentheses and operators"),
        E::FieldDoesNotExist(f) => {
            format!("there is no field `{f}`: search the text, or use title: or body:")
        }
        E::AllButQueryForbidden => "a query cannot only exclude terms: add something to look for".into(),
        E::NoDefaultFieldDeclared => "no field to search".into(),
        other => format!("the query cannot be used: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_prefixes_become_regex_queries() {
        let dir = tempfile::tempdir().expect("dir");
        let idx = SearchIndex::open(dir.path()).expect("open");
        let parser = QueryParser::for_index(&idx.index, vec![idx.fields.title, idx.fields.body]);
        let q = parse(&parser, idx.fields, "deploy*").expect("parse");
        assert!(format!("{q:?}").contains("Regex"), "{q:?}");
        let mut w: tantivy::IndexWriter<TantivyDocument> = idx.index.writer(15_000_000).expect("writer");
        let mut doc = TantivyDocument::default();
        doc.add_text(idx.fields.body, "deployment checklist");
        doc.add_text(idx.fields.audience, "ws:a");
        doc.add_text(idx.fields.kind, "message");
        doc.add_text(idx.fields.status, "live");
        w.add_document(doc).expect("add");
        w.commit().expect("commit");
        idx.reader.reload().expect("reload");
        let n = idx.reader.searcher().search(&*q, &Count).expect("search");
        assert_eq!(n, 1);
        let page = idx
            .search(&SearchQuery {
                text: "deploy*".into(),
                audiences: vec!["ws:a".into()],
                kind: None,
                limit: 10,
                offset: 0,
            })
            .expect("search");
        assert_eq!(page.total, 1);
    }

    #[test]
    fn a_cancelled_search_stops_and_says_so_and_an_unbounded_one_is_refused_unparsed() {
        let dir = tempfile::tempdir().expect("dir");
        let idx = SearchIndex::open(dir.path()).expect("open");
        let mut w: tantivy::IndexWriter<TantivyDocument> = idx.index.writer(15_000_000).expect("writer");
        for i in 0..20_000 {
            let mut doc = TantivyDocument::default();
            doc.add_text(idx.fields.body, format!("common words number {i}"));
            doc.add_text(idx.fields.audience, "ws:a");
            doc.add_text(idx.fields.kind, "message");
            doc.add_text(idx.fields.status, "live");
            w.add_document(doc).expect("add");
        }
        w.commit().expect("commit");
        idx.reader.reload().expect("reload");
        let q = SearchQuery {
            text: "common".into(),
            audiences: vec!["ws:a".into()],
            kind: None,
            limit: 10,
            offset: 0,
        };
        let (ticket, request) = idx.admit(Uuid::now_v7()).expect("a place");
        assert_eq!(idx.search_until(&q, ticket.cancel()).expect("runs").total, 20_000);
        // The request ends (dropped): the search on its thread stops instead of running on.
        drop(request);
        assert!(matches!(
            idx.search_until(&q, ticket.cancel()),
            Err(SearchError::Cancelled)
        ));
        drop(ticket);
        assert_eq!(idx.in_flight(), 0);
        // Closing the node cancels whatever runs and admits nothing more.
        let (ticket, _request) = idx.admit(Uuid::now_v7()).expect("a place");
        idx.close();
        assert!(matches!(
            idx.search_until(&q, ticket.cancel()),
            Err(SearchError::Cancelled)
        ));
        assert!(idx.admit(Uuid::now_v7()).is_err());
        // Past the bounds, nothing reaches the parser.
        let deep = SearchQuery {
            text: format!("{}common{}", "(".repeat(240), ")".repeat(240)),
            ..q
        };
        assert!(matches!(idx.search(&deep), Err(SearchError::BadQuery(_))));
    }
}
