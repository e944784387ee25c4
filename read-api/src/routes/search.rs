//! `/v1/search`: full-text hits over messages and docs, with snippets, in the caller's
//! workspaces (and direct conversations) only. The restriction is part of the index query, so
//! another tenant's documents are neither returned nor counted.

use axum::extract::State;
use axum::Json;
use prism_domain::WorkspaceId;
use prism_projections::read_models::workspaces;
use prism_projections::search::{self, Hit, SearchError, SearchQuery};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ReadError;
use crate::extract::{ApiQuery, Caller};
use crate::AppState;

fn answer(e: SearchError) -> ReadError {
    match e {
        SearchError::BadQuery(m) => ReadError::bad("invalid_search_query", m),
        SearchError::Cancelled => ReadError::Unavailable("the search was cancelled".into()),
        other => ReadError::Unavailable(other.to_string()),
    }
}

/// Deeper than this, refine the query instead.
const MAX_OFFSET: usize = 1000;
const MAX_QUERY_CHARS: usize = 500;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The query: words, "phrases", prefix*, AND / OR / NOT (or + and -), title: and body:,
    /// `has:attachment`. Text outside that language is searched as the words it holds.
    #[param(min_length = 1, max_length = 500, pattern = r"\S")]
    pub q: String,
    /// Only this workspace (one of the caller's).
    pub workspace_id: Option<Uuid>,
    /// `message` or `doc`.
    #[param(value_type = Option<SearchKind>, inline)]
    pub kind: Option<String>,
    /// 1–50, default 20.
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    #[param(value_type = Option<usize>, minimum = 0, maximum = 1000)]
    pub cursor: Option<String>,
}

/// What `kind` may be.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SearchKind {
    Message,
    Doc,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SearchAnswer {
    pub items: Vec<Hit>,
    /// Matches the caller may see, in all.
    pub total: usize,
    pub next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/search", tag = "search", description = "full-text hits (messages, docs) with snippets, only the caller's workspaces",
    params(SearchParams), responses((status = 200, body = SearchAnswer), (status = 400), (status = 401), (status = 404), (status = 429), (status = 503)))]
pub async fn search(
    State(s): State<AppState>,
    Caller(user): Caller,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> Result<Json<SearchAnswer>, ReadError> {
    let Some(index) = s.search.clone() else {
        return Err(ReadError::Unavailable("this node keeps no search index".into()));
    };
    if p.q.trim().is_empty() {
        return Err(ReadError::bad("invalid_query", "q must not be empty"));
    }
    if p.q.chars().count() > MAX_QUERY_CHARS {
        return Err(ReadError::bad(
            "invalid_query",
            format!("q is limited to {MAX_QUERY_CHARS} characters"),
        ));
    }
    if let Some(k) = p.kind.as_deref() {
        if k != "message" && k != "doc" {
            return Err(ReadError::bad("invalid_query", "kind must be message or doc"));
        }
    }
    let limit = match p.limit {
        None => 20,
        Some(n) if (1..=50).contains(&n) => n,
        Some(_) => return Err(ReadError::bad("invalid_query", "limit must be between 1 and 50")),
    };
    let offset = match p.cursor.as_deref() {
        None => 0,
        Some(c) => c
            .parse::<usize>()
            .ok()
            .filter(|o| *o <= MAX_OFFSET)
            .ok_or_else(|| ReadError::bad("invalid_cursor", "the cursor is not one we gave"))?,
    };
    let reach = workspaces::reach(&s.reads(), user, p.workspace_id.map(WorkspaceId)).await?;
    if p.workspace_id.is_some() && reach.workspaces.is_empty() {
        return Err(ReadError::NotFound);
    }
    let audiences = search::audiences(&reach);
    let query = SearchQuery {
        text: p.q,
        audiences,
        kind: p.kind,
        limit,
        offset,
    };
    // Past the bounds is the caller's mistake: said before a thread or a place is taken.
    search::bounds::check(&query.text).map_err(answer)?;
    let (ticket, _cancel_when_done) = index.admit(user.0).map_err(|why| match why {
        search::Refused::Closing => ReadError::Unavailable("the node is stopping".into()),
        search::Refused::Node => ReadError::TooMany {
            code: "too_many_searches",
            message: "this node is running as many searches as it can; try again in a second",
            retry_after: 1,
        },
        search::Refused::Caller => ReadError::TooMany {
            code: "too_many_searches",
            message: "you have searches running; wait for them before starting another",
            retry_after: 1,
        },
    })?;
    // The ticket goes with the thread (its place comes back when the work really ends); the
    // guard stays with this future, so a request that ends, however, cancels its search.
    let page = tokio::task::spawn_blocking(move || index.search_until(&query, ticket.cancel()))
        .await
        .map_err(|e| ReadError::Unavailable(e.to_string()))?
        .map_err(answer)?;
    let next = offset + page.hits.len();
    Ok(Json(SearchAnswer {
        next_cursor: (next < page.total && next <= MAX_OFFSET && !page.hits.is_empty()).then(|| next.to_string()),
        total: page.total,
        items: page.hits,
    }))
}
