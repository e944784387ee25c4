//! The fragments the page asks for, each rendered from the API's answers to the caller. A
//! refusal is rendered with the API's status and words, so the page can tell "sign in again"
//! (401) from "not yours" (403, 404).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDateTime, Utc};
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::api::{Answer, Caller};
use super::Console;

/// Events the timeline reads per request at most (pages of the API's largest size), and the
/// matches it shows at most: a narrow filter over a long log goes on with "continue".
const SCAN_PAGES: usize = 5;
const PAGE: i64 = 1000;
const SHOWN: usize = 200;

fn refusal(a: &Answer) -> Response {
    (
        a.status,
        html! { p .error role="alert" { (a.status.as_u16()) " — " (a.message()) } },
    )
        .into_response()
}

fn invalid(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        html! { p .error role="alert" { "400 — " (message) } },
    )
        .into_response()
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

/// Empty fields of a form come as `""`: they mean "not given".
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn uuid_field(v: &Option<String>, name: &str) -> Result<Option<Uuid>, String> {
    given(v)
        .map(|s| Uuid::parse_str(s).map_err(|_| format!("{name} is not an id")))
        .transpose()
}

fn position_field(v: &Option<String>, name: &str) -> Result<Option<i64>, String> {
    given(v)
        .map(|s| crate::extract::position(s).ok_or_else(|| format!("{name} is not a position")))
        .transpose()
}

/// A time from a `datetime-local` field (read as UTC) or RFC 3339.
fn time_field(v: &Option<String>, name: &str) -> Result<Option<DateTime<Utc>>, String> {
    let Some(s) = given(v) else { return Ok(None) };
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(|t| Some(t.and_utc()))
        .ok_or_else(|| format!("{name} is not a time"))
}

/// Who is signed in, and the workspaces they may pick (as `<option>`s for the page's list of
/// workspaces).
pub(super) async fn me(State(c): State<Console>, headers: HeaderMap) -> Response {
    let caller = Caller::of(&headers);
    let me = c.api.get(&caller, "/v1/me", &[]).await;
    if !me.ok() {
        return refusal(&me);
    }
    let auditor = c.api.auditor(&caller);
    html! {
        span .name { (text(&me.body, "name")) }
        @if auditor { " " span .badge { "auditor" } }
        template #workspace-options {
            @for m in me.body["memberships"].as_array().into_iter().flatten() {
                option value=(text(m, "workspace_id")) label=(format!("{} ({})", text(m, "name"), text(m, "role"))) {}
            }
        }
    }
    .into_response()
}

#[derive(Deserialize)]
pub(super) struct TimelineQuery {
    workspace_id: Option<String>,
    aggregate_type: Option<String>,
    aggregate_id: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    actor: Option<String>,
    from: Option<String>,
    to: Option<String>,
    after: Option<String>,
}

/// The timeline: events in log order from `after` (default: the last pages of the log), as the
/// caller may see them through `/v1/events`, narrowed by the filters. The filters only narrow
/// what the API answered; they never widen it.
pub(super) async fn timeline(State(c): State<Console>, headers: HeaderMap, Query(q): Query<TimelineQuery>) -> Response {
    let caller = Caller::of(&headers);
    let fields = || -> Result<_, String> {
        Ok((
            uuid_field(&q.workspace_id, "workspace")?,
            uuid_field(&q.aggregate_id, "aggregate id")?,
            uuid_field(&q.actor, "actor")?,
            time_field(&q.from, "from")?,
            time_field(&q.to, "to")?,
            position_field(&q.after, "after")?,
        ))
    };
    let (workspace, aggregate, actor, from, to, after) = match fields() {
        Ok(f) => f,
        Err(m) => return invalid(&m),
    };
    let aggregate_type = given(&q.aggregate_type);
    let event_type = given(&q.event_type);
    let scope = workspace.map(|w| w.to_string()).unwrap_or_default();
    // Where to start: where the caller asked, or far enough back from the head for a few pages.
    let mut after = match after {
        Some(p) => p,
        None => {
            let probe = c
                .api
                .get(
                    &caller,
                    "/v1/events",
                    &[("limit", "1".into()), ("workspace_id", scope.clone())],
                )
                .await;
            if !probe.ok() {
                return refusal(&probe);
            }
            (probe.position.unwrap_or(0) - SCAN_PAGES as i64 * PAGE).max(0)
        }
    };
    let mut rows = Vec::new();
    let mut at_end = false;
    for _ in 0..SCAN_PAGES {
        let page = c
            .api
            .get(
                &caller,
                "/v1/events",
                &[
                    ("after", after.to_string()),
                    ("limit", PAGE.to_string()),
                    ("workspace_id", scope.clone()),
                ],
            )
            .await;
        if !page.ok() {
            return refusal(&page);
        }
        for e in page.body["items"].as_array().into_iter().flatten() {
            let recorded = e["recorded_at"]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc));
            let keep = aggregate_type.is_none_or(|t| text(e, "aggregate_type") == t)
                && aggregate.is_none_or(|a| text(e, "aggregate_id") == a.to_string())
                && event_type.is_none_or(|t| text(e, "event_type").starts_with(t))
                && actor.is_none_or(|a| e["metadata"]["actor_id"].as_str() == Some(&a.to_string()))
                && from.is_none_or(|f| recorded.is_some_and(|r| r >= f))
                && to.is_none_or(|t| recorded.is_some_and(|r| r <= t));
            if keep && rows.len() < SHOWN {
                rows.push(e.clone());
            }
        }
        match page.body["next_after"].as_i64() {
            Some(next) if rows.len() < SHOWN => after = next,
            Some(next) => {
                after = next;
                break;
            }
            None => {
                // The end of the log: the next look starts after the last event read.
                if let Some(last) = page.body["items"].as_array().and_then(|i| i.last()) {
                    after = last["global_position"].as_i64().unwrap_or(after);
                }
                at_end = true;
                break;
            }
        }
    }
    html! {
        div .timeline data-head=(after) {
            table {
                thead { tr { th { "Position" } th { "Recorded" } th { "Type" } th { "Aggregate" } th { "Actor" } th { "Payload" } } }
                tbody {
                    @for e in &rows { (event_row(e)) }
                }
            }
            @if rows.is_empty() { p .empty { "No events match." } }
            p .scan {
                @if at_end { "Read to the head of the log (position " (after) ")." }
                @else {
                    "Read to position " (after) ". "
                    button type="button" data-after=(after) { "Continue" }
                }
                " "
                button type="button" data-after="0" { "From the start" }
            }
        }
    }
    .into_response()
}

fn event_row(e: &Value) -> Markup {
    let payload = serde_json::to_string_pretty(&e["payload"]).unwrap_or_default();
    let ty = text(e, "aggregate_type");
    let id = text(e, "aggregate_id");
    html! {
        tr data-position=(e["global_position"]) {
            td .num { (e["global_position"]) }
            td { time { (text(e, "recorded_at")) } }
            td .type { (text(e, "event_type")) " v" (e["event_version"]) }
            td { a href="#inspector" data-inspect=(format!("{ty}/{id}")) { (ty) " " code { (id) } } " #" (e["sequence"]) }
            td { code { (e["metadata"]["actor_id"].as_str().unwrap_or("—")) } }
            td { details { summary { (summary(&e["payload"])) } pre { (payload) } } }
        }
    }
}

/// The first fields of a payload, on one line.
fn summary(v: &Value) -> String {
    let line = v.to_string();
    if line.chars().count() > 80 {
        line.chars().take(79).chain(['…']).collect()
    } else {
        line
    }
}

#[derive(Deserialize)]
pub(super) struct InspectQuery {
    #[serde(rename = "type")]
    ty: Option<String>,
    id: Option<String>,
    at: Option<String>,
    diff_from: Option<String>,
}

/// Stream types with a state to replay (the others only have events).
const WITH_STATE: &[&str] = &["user", "workspace", "channel", "message", "conversation", "doc"];

/// An aggregate: its events, its state at a position (through the upcasters, as the API
/// replays it) and, with `diff_from`, what changed between the two positions.
pub(super) async fn inspect(State(c): State<Console>, headers: HeaderMap, Query(q): Query<InspectQuery>) -> Response {
    let caller = Caller::of(&headers);
    let Some(ty) = given(&q.ty).filter(|t| t.chars().all(|c| c.is_ascii_lowercase())) else {
        return invalid("choose a type");
    };
    let fields = || -> Result<_, String> {
        Ok((
            uuid_field(&q.id, "id")?.ok_or("give the aggregate's id")?,
            position_field(&q.at, "the position")?,
            position_field(&q.diff_from, "the position to compare with")?,
        ))
    };
    let (id, at, from) = match fields() {
        Ok(f) => f,
        Err(m) => return invalid(&m),
    };
    let events = c
        .api
        .get(&caller, &format!("/v1/aggregates/{ty}/{id}/events"), &[])
        .await;
    if !events.ok() {
        return refusal(&events);
    }
    let state_at = |p: Option<i64>| {
        let api = c.api.clone();
        let caller = caller.clone();
        let path = format!("/v1/aggregates/{ty}/{id}/state");
        async move {
            api.get(
                &caller,
                &path,
                &[("at_position", p.map(|p| p.to_string()).unwrap_or_default())],
            )
            .await
        }
    };
    let has_state = WITH_STATE.contains(&ty);
    let (now, before) = if has_state {
        let now = state_at(at).await;
        let before = match from {
            Some(p) => Some(state_at(Some(p)).await),
            None => None,
        };
        (Some(now), before)
    } else {
        (None, None)
    };
    let items = events.body["items"].as_array().cloned().unwrap_or_default();
    html! {
        div .inspector {
            h3 { (ty) " " code { (id) } }
            div .columns {
                div {
                    h4 { "Events (" (items.len()) ")" }
                    table {
                        thead { tr { th { "Position" } th { "#" } th { "Type" } th { "Recorded" } th {} } }
                        tbody {
                            @for e in &items {
                                tr {
                                    td .num { (e["global_position"]) }
                                    td .num { (e["sequence"]) }
                                    td .type { (text(e, "event_type")) " v" (e["event_version"]) }
                                    td { (text(e, "recorded_at")) }
                                    td {
                                        @if has_state {
                                            button type="button" data-at=(e["global_position"]) { "State here" }
                                            " "
                                            button type="button" data-diff-from=(e["global_position"]) { "Compare from here" }
                                        }
                                    }
                                }
                                tr .payload { td colspan="5" { pre { (serde_json::to_string_pretty(&e["payload"]).unwrap_or_default()) } } }
                            }
                        }
                    }
                }
                div {
                    @if let Some(now) = &now { (state_block(now, at)) }
                    @if let (Some(before), Some(now)) = (&before, &now) { (diff_block(before, now)) }
                }
            }
        }
    }
    .into_response()
}

fn state_block(a: &Answer, at: Option<i64>) -> Markup {
    html! {
        div .state {
            @if a.ok() {
                h4 {
                    "State at "
                    @if let Some(p) = at { "position " (p) } @else { "the head" }
                    " — version " (a.body["version"]) ", last event at " (a.body["position"])
                }
                pre #state-json { (serde_json::to_string_pretty(&a.body["state"]).unwrap_or_default()) }
            } @else {
                p .error role="alert" { (a.status.as_u16()) " — " (a.message()) }
            }
        }
    }
}

/// Leaves of a JSON value by path (`members[0].role`), for the difference of two states.
fn leaves(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&path, x, out);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for (i, x) in a.iter().enumerate() {
                leaves(&format!("{prefix}[{i}]"), x, out);
            }
        }
        _ => {
            out.insert(prefix.to_owned(), v.clone());
        }
    }
}

/// What changed from `before` to `now`, field by field.
pub(super) fn difference(before: &Value, now: &Value) -> Vec<(String, Option<Value>, Option<Value>)> {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    leaves("", before, &mut a);
    leaves("", now, &mut b);
    let mut paths: Vec<&String> = a.keys().chain(b.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter(|p| a.get(*p) != b.get(*p))
        .map(|p| (p.clone(), a.get(p).cloned(), b.get(p).cloned()))
        .collect()
}

fn diff_block(before: &Answer, now: &Answer) -> Markup {
    if !before.ok() {
        return html! { p .error role="alert" { (before.status.as_u16()) " — " (before.message()) } };
    }
    let changes = difference(&before.body["state"], &now.body["state"]);
    let shown = |v: &Option<Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_else(|| "—".into());
    html! {
        div .diff {
            h4 { "From position " (before.body["position"]) " to " (now.body["position"]) }
            @if changes.is_empty() { p .empty { "No difference." } }
            @else {
                table #diff {
                    thead { tr { th { "Field" } th { "Before" } th { "After" } } }
                    tbody {
                        @for (path, was, is) in &changes {
                            tr class=(match (was, is) { (None, _) => "added", (_, None) => "removed", _ => "changed" }) {
                                td { code { (path) } } td { code { (shown(was)) } } td { code { (shown(is)) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub(super) struct WorkspaceQuery {
    workspace_id: Option<String>,
}

/// The workspace's hash chains recomputed from the log (`/v1/workspaces/{id}/audit/verify`),
/// with the first event that does not verify.
pub(super) async fn verify(State(c): State<Console>, headers: HeaderMap, Query(q): Query<WorkspaceQuery>) -> Response {
    let caller = Caller::of(&headers);
    let ws = match uuid_field(&q.workspace_id, "workspace") {
        Ok(Some(ws)) => ws,
        Ok(None) => return invalid("choose a workspace"),
        Err(m) => return invalid(&m),
    };
    let a = c
        .api
        .get(&caller, &format!("/v1/workspaces/{ws}/audit/verify"), &[])
        .await;
    if !a.ok() {
        return refusal(&a);
    }
    let bad = &a.body["first_bad"];
    html! {
        div .verification {
            @if a.body["ok"] == true {
                p .ok #verdict { "Intact: " (a.body["checked"]) " events verified." }
            } @else {
                p .bad #verdict role="alert" {
                    @if a.body["bad"] == 0 {
                        "Not intact: events you may not see (a direct conversation you are not in) do not verify; "
                        "a platform auditor can see which. The " (a.body["checked"]) " events you may see verify."
                    } @else {
                        "Not intact: " (a.body["bad"]) " of the " (a.body["checked"]) " events you may see do not verify."
                    }
                }
                @if bad.is_object() {
                    h4 { "First bad event" }
                    dl #first-bad {
                        dt { "Position" } dd { (bad["position"]) }
                        dt { "Aggregate" } dd {
                            a href="#inspector" data-inspect=(format!("{}/{}", text(bad, "aggregate_type"), text(bad, "aggregate_id"))) {
                                (text(bad, "aggregate_type")) " " code { (text(bad, "aggregate_id")) }
                            }
                        }
                        dt { "Sequence" } dd { (bad["sequence"]) }
                        dt { "Why" } dd { (text(bad, "reason")) }
                    }
                }
            }
        }
    }
    .into_response()
}

/// Recent readings of each projection's position and lag, taken when the projections view is
/// rendered (at most once a second), for its rate and chart. Only readings the API gave an
/// auditor are kept, and only auditors are shown them.
#[derive(Default)]
pub(super) struct Samples(Mutex<HashMap<String, VecDeque<Reading>>>);

/// When, the position, the lag.
type Reading = (Instant, i64, i64);

/// Readings kept per projection: two minutes at the page's refresh of two seconds.
const READINGS: usize = 60;

impl Samples {
    fn record(&self, name: &str, position: i64, lag: i64) -> Vec<Reading> {
        let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let series = all.entry(name.to_owned()).or_default();
        if series
            .back()
            .is_none_or(|(t, ..)| now.duration_since(*t).as_millis() >= 1000)
        {
            series.push_back((now, position, lag));
            if series.len() > READINGS {
                series.pop_front();
            }
        }
        series.iter().copied().collect()
    }
}

/// Each projection's position, lag, rate and last error (from `/readyz`, whose details are an
/// auditor's), with a chart of its lag.
pub(super) async fn projections(State(c): State<Console>, headers: HeaderMap) -> Response {
    let caller = Caller::of(&headers);
    let a = c.api.get(&caller, "/readyz", &[]).await;
    let Some(list) = a.body["projections"].as_array() else {
        if a.status == StatusCode::SERVICE_UNAVAILABLE && !a.body["error"].is_object() {
            return refusal(&a);
        }
        return html! {
            p .note { "Status: " (text(&a.body, "status")) ". Each projection's progress is for platform auditors." }
        }
        .into_response();
    };
    html! {
        p #status { "Status: " strong { (text(&a.body, "status")) } }
        table #projections {
            thead { tr { th { "Projection" } th { "Position" } th { "Lag" } th { "Rate (events/s)" } th { "Last error" } th { "Rate and lag, last two minutes" } } }
            tbody {
                @for p in list {
                    @let name = text(p, "name");
                    @let position = p["position"].as_i64().unwrap_or(0);
                    @let lag = p["lag"].as_i64().unwrap_or(0);
                    @let series = c.samples.record(name, position, lag);
                    tr data-projection=(name) {
                        td { (name) }
                        td .num { (position) }
                        td .num { (lag) }
                        td .num { (rate(&series)) }
                        td { @match p["last_error"].as_str() { Some(e) => span .error { (e) }, None => "—" } }
                        td { (chart(&series)) }
                    }
                }
            }
        }
    }
    .into_response()
}

fn rate(series: &[Reading]) -> String {
    match (series.first(), series.last()) {
        (Some((t0, p0, _)), Some((t1, p1, _))) if t1 > t0 => {
            let secs = t1.duration_since(*t0).as_secs_f64();
            format!("{:.1}", (p1 - p0) as f64 / secs)
        }
        _ => "—".into(),
    }
}

/// A small chart of the readings, as SVG (attributes only: the CSP allows no inline style):
/// the rate between consecutive readings and the lag, each scaled to its own top, a dot per
/// reading.
fn chart(series: &[Reading]) -> Markup {
    const W: f64 = 180.0;
    const H: f64 = 36.0;
    let rates: Vec<f64> = series
        .windows(2)
        .map(|w| {
            let secs = w[1].0.duration_since(w[0].0).as_secs_f64().max(0.001);
            (w[1].1 - w[0].1) as f64 / secs
        })
        .collect();
    let lags: Vec<f64> = series.iter().skip(1).map(|(.., l)| *l as f64).collect();
    let step = W / (READINGS - 1) as f64;
    let points = |values: &[f64]| -> Vec<(f64, f64)> {
        let top = values.iter().copied().fold(1.0, f64::max);
        let start = READINGS.saturating_sub(values.len() + 1);
        values
            .iter()
            .enumerate()
            .map(|(i, v)| ((start + i + 1) as f64 * step, H - 3.0 - (v / top) * (H - 6.0)))
            .collect()
    };
    let line = |pts: &[(f64, f64)]| {
        pts.iter()
            .map(|(x, y)| format!("{x:.1},{y:.1}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (rate, lag) = (points(&rates), points(&lags));
    let top_rate = rates.iter().copied().fold(0.0, f64::max);
    let top_lag = lags.iter().copied().fold(0.0, f64::max);
    html! {
        svg .chart width=(W) height=(H) viewBox=(format!("0 0 {W} {H}")) role="img"
            aria-label=(format!("rate up to {top_rate:.0}/s, lag up to {top_lag:.0}")) {
            line x1="0" y1=(H - 3.0) x2=(W) y2=(H - 3.0) class="axis" {}
            polyline points=(line(&lag)) class="lag" fill="none" {}
            polyline points=(line(&rate)) class="rate" fill="none" {}
            @for (x, y) in &rate { circle cx=(format!("{x:.1}")) cy=(format!("{y:.1}")) r="1.5" class="rate" {} }
        }
    }
}

#[derive(Deserialize)]
pub(super) struct SearchQuery {
    q: Option<String>,
    workspace_id: Option<String>,
}

/// Full-text search through `/v1/search`: only the caller's workspaces, as the API answers.
pub(super) async fn search(State(c): State<Console>, headers: HeaderMap, Query(q): Query<SearchQuery>) -> Response {
    let caller = Caller::of(&headers);
    let Some(words) = given(&q.q) else {
        return invalid("type some words");
    };
    let ws = match uuid_field(&q.workspace_id, "workspace") {
        Ok(ws) => ws.map(|w| w.to_string()).unwrap_or_default(),
        Err(m) => return invalid(&m),
    };
    let a = c
        .api
        .get(&caller, "/v1/search", &[("q", words.to_owned()), ("workspace_id", ws)])
        .await;
    if !a.ok() {
        return refusal(&a);
    }
    let hits = a.body["items"].as_array().cloned().unwrap_or_default();
    html! {
        @if hits.is_empty() { p .empty { "Nothing found." } }
        ol .hits {
            @for h in &hits {
                li {
                    span .kind { (text(h, "kind")) } " "
                    @if let Some(t) = h["title"].as_str() { strong { (t) } " " }
                    // The index escapes the text and adds only <mark> around matched words.
                    span .snippet { (PreEscaped(marked(text(h, "snippet")))) }
                    " " time { (text(h, "at")) }
                }
            }
        }
    }
    .into_response()
}

/// A snippet as the index gives it, with anything but `<mark>`/`</mark>` escaped again: the
/// console does not rely on another module's escaping to keep markup out of the page.
fn marked(snippet: &str) -> String {
    let mut out = String::with_capacity(snippet.len());
    let mut rest = snippet;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("<mark>") {
            out.push_str("<mark>");
            rest = r;
        } else if let Some(r) = rest.strip_prefix("</mark>") {
            out.push_str("</mark>");
            rest = r;
        } else {
            let mut chars = rest.chars();
            match chars.next() {
                Some('<') => out.push_str("&lt;"),
                Some('>') => out.push_str("&gt;"),
                Some('"') => out.push_str("&quot;"),
                Some('\'') => out.push_str("&#39;"),
                // `&` starts an entity the index already escaped: kept as it is.
                Some(c) => out.push(c),
                None => break,
            }
            rest = chars.as_str();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_difference_names_each_changed_added_and_removed_field() {
        let before = json!({"name": "general", "members": ["a"], "topic": "x"});
        let now = json!({"name": "random", "members": ["a", "b"]});
        let d = difference(&before, &now);
        assert_eq!(
            d,
            vec![
                ("members[1]".into(), None, Some(json!("b"))),
                ("name".into(), Some(json!("general")), Some(json!("random"))),
                ("topic".into(), Some(json!("x")), None),
            ]
        );
        assert!(difference(&now, &now).is_empty());
    }

    #[test]
    fn a_snippet_keeps_its_marks_and_nothing_else() {
        assert_eq!(
            marked("a <mark>b</mark> <script>x</script>"),
            "a <mark>b</mark> &lt;script&gt;x&lt;/script&gt;"
        );
    }
}
