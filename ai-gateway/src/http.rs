//! The HTTP provider: an OpenAI-compatible chat-completions endpoint (vLLM, Ollama, …), asked
//! for JSON and held to the expected shape, with bounded retries and a circuit breaker.
//! [`Fallback`] puts the built-in provider behind it: when the model is slow, broken or switched
//! off by the breaker, people still get an answer.
//!
//! **One deadline per request.** A person's request makes one [`Deadline`] (`PRISM_AI_BUDGET_MS`,
//! 3 s by default) and every model call it makes (the safety reading, generation, any retry)
//! runs inside what is left of it: an attempt's timeout is the smaller of the provider's own and
//! the time left, a retry is made only when a useful attempt still fits, and past the deadline
//! the built-in provider answers. A model that accepts connections and never answers costs a
//! person at most the budget, and only until the breaker opens.
//!
//! **The breaker** ([`Breaker`]) counts every failed call (a timeout, a reset, a 5xx, an answer
//! of the wrong shape) and opens after `breaker_threshold` failures within `breaker_window`.
//! While it is open no request waits on the model at all. It is closed again only by a probe
//! sent in the background every `breaker_cooldown`, never by a person's request. Its state is the
//! gauge `prism_ai_breaker_open{model}` in `/metrics`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::time::Instant;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::builtin::Builtin;
use crate::{Distortion, Fragment, GatewayError, Provider, Reframe, Usage};

#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// E.g. `http://127.0.0.1:11434` (the path `/v1/chat/completions` is added).
    pub base_url: String,
    pub model: String,
    /// Sent as a bearer token when set; never logged.
    pub api_key: Option<String>,
    /// One attempt's longest wait (a person's request also stops at its [`Deadline`]).
    pub timeout: Duration,
    /// Connecting: well inside any request's budget, so a dead host leaves time to answer.
    pub connect_timeout: Duration,
    /// Further attempts after a failed one (only while one fits before the deadline).
    pub retries: u32,
    /// Failed calls within `breaker_window` that open the breaker.
    pub breaker_threshold: u32,
    pub breaker_window: Duration,
    /// How often an open breaker probes the model in the background.
    pub breaker_cooldown: Duration,
    /// The safety reading's own, shorter timeout (a person is waiting; no retry).
    pub safety_timeout: Duration,
}

impl HttpConfig {
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_millis(750),
            retries: 2,
            breaker_threshold: 3,
            breaker_window: Duration::from_secs(10),
            breaker_cooldown: Duration::from_secs(5),
            safety_timeout: Duration::from_secs(3),
        }
    }
}

/// When a request stops waiting on models: made once per request, shared by every call it makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(Instant);

impl Deadline {
    /// An attempt shorter than this is not worth starting: the built-in provider answers instead.
    pub const MIN_ATTEMPT: Duration = Duration::from_millis(100);

    pub fn after(budget: Duration) -> Self {
        Self(Instant::now() + budget)
    }

    pub fn remaining(&self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    /// An attempt's timeout: `own`, cut to the time left; none when too little is left.
    pub fn slice(&self, own: Duration) -> Option<Duration> {
        let left = self.remaining();
        (left >= Self::MIN_ATTEMPT).then(|| own.min(left))
    }
}

/// The circuit breaker's state, shared with its background probe.
#[derive(Debug, Default)]
struct BreakerState {
    /// When recent calls failed (those older than the window are forgotten).
    failures: VecDeque<Instant>,
    open: bool,
    /// Probes sent while open, and whether one task is sending them.
    probing: bool,
}

/// Opens on repeated failures; only a background probe closes it (see the module's docs).
#[derive(Debug)]
pub struct Breaker {
    state: Mutex<BreakerState>,
    threshold: u32,
    window: Duration,
    model: String,
}

impl Breaker {
    fn new(cfg: &HttpConfig) -> Arc<Self> {
        metrics::gauge!("prism_ai_breaker_open", "model" => cfg.model.clone()).set(0.0);
        Arc::new(Self {
            state: Mutex::new(BreakerState::default()),
            threshold: cfg.breaker_threshold.max(1),
            window: cfg.breaker_window,
            model: cfg.model.clone(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BreakerState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_open(&self) -> bool {
        self.lock().open
    }

    /// A call succeeded: forget earlier failures (an open breaker stays open: only probes close it).
    fn success(&self) {
        self.lock().failures.clear();
    }

    /// A call failed. True when this failure opened the breaker and nobody probes yet: the
    /// caller starts the probe.
    fn failure(&self) -> bool {
        let now = Instant::now();
        let mut s = self.lock();
        s.failures.push_back(now);
        while s.failures.front().is_some_and(|t| now.duration_since(*t) > self.window) {
            s.failures.pop_front();
        }
        if !s.open && s.failures.len() >= self.threshold as usize {
            s.open = true;
            metrics::gauge!("prism_ai_breaker_open", "model" => self.model.clone()).set(1.0);
            metrics::counter!("prism_ai_breaker_opened_total", "model" => self.model.clone()).increment(1);
            tracing::warn!(
                failures = s.failures.len(),
                model = %self.model,
                "model provider circuit opened; the built-in provider answers until a background probe succeeds"
            );
        }
        let start_probe = s.open && !s.probing;
        if start_probe {
            s.probing = true;
        }
        start_probe
    }

    fn close(&self) {
        let mut s = self.lock();
        s.open = false;
        s.probing = false;
        s.failures.clear();
        metrics::gauge!("prism_ai_breaker_open", "model" => self.model.clone()).set(0.0);
        tracing::info!(model = %self.model, "model provider circuit closed: a probe was answered");
    }

    /// No runtime to probe from (or the probe ended): the next failure starts one.
    fn stop_probing(&self) {
        self.lock().probing = false;
    }
}

pub struct HttpProvider {
    client: reqwest::Client,
    cfg: HttpConfig,
    breaker: Arc<Breaker>,
}

/// What a probe asks: the smallest well-formed JSON answer.
const PROBE_PROMPT: &str = "Answer only JSON: {\"ok\": true}.";

const DETECT_PROMPT: &str = "You find distorted thinking in a journal entry. Answer only JSON: \
{\"fragments\": [{\"category\": one of all_or_nothing, overgeneralisation, catastrophising, mind_reading, \
should_statements, labelling, personalisation, \"start\": character offset, \"end\": character offset, \
\"confidence\": 0..1}]}.";

const REFRAME_PROMPT: &str = "You offer gentle reframes of a thought. Answer only JSON: \
{\"reframes\": [three short strings], \"micro_action\": one small concrete step}.";

const INSIGHT_PROMPT: &str = "You write a short, warm weekly insight (at most three sentences) for a \
reflection journal, from counts only: sessions, distorted-thinking fragments per category, turns, saved \
reframes, lens actions added and completed. Never diagnose. Answer only JSON: {\"insight\": string}.";

const RISK_PROMPT: &str = "You screen a private journal entry for suicide and self-harm risk to the writer, \
as a clinician using the Columbia scale would. Idioms, fiction, news, other people and past recovered episodes are \
not risk to the writer. Answer only JSON: {\"level\": \"none\" | \"concern\" | \"crisis\", \"categories\": [zero or \
more of wish_dead, passive_ideation, active_ideation, method, intent, plan, preparation, self_harm, indirect]}.";

const AFFIRMATIONS_PROMPT: &str = "You write short, warm, everyday affirmations for a reflection app's daily \
focus: no advice about health, no promises. Answer only JSON: {\"affirmations\": [seven strings of at most 140 \
characters]}.";

/// An insight longer than this is not a short insight: refused.
const MAX_INSIGHT_CHARS: usize = 800;

impl HttpProvider {
    /// A weekly insight written by the model from `week` (counts only, never text). Background
    /// work: it has the provider's whole retry budget.
    pub async fn insight(&self, week: &crate::WeekSummary) -> Result<(String, Usage), GatewayError> {
        let user = serde_json::to_string(week).map_err(|e| GatewayError::Malformed(e.to_string()))?;
        let (v, usage) = self.complete(INSIGHT_PROMPT, &user, self.background()).await?;
        let text = v
            .get("insight")
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or_default();
        if text.is_empty() || text.chars().count() > MAX_INSIGHT_CHARS {
            self.record(false);
            return Err(GatewayError::Malformed("no insight, or one too long".into()));
        }
        Ok((text.to_owned(), usage))
    }

    /// The model this provider asks (for metrics and logs).
    pub fn model(&self) -> &str {
        &self.cfg.model
    }

    /// Seven affirmations for Lens's daily focus, each checked (background work, as insights).
    pub async fn affirmations(&self) -> Result<(Vec<String>, Usage), GatewayError> {
        let (v, usage) = self
            .complete(AFFIRMATIONS_PROMPT, "Today's set, please.", self.background())
            .await?;
        let list: Vec<String> = v
            .get("affirmations")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(|s| s.trim().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        if list.is_empty() || list.len() > 12 || list.iter().any(|a| a.is_empty() || a.chars().count() > 280) {
            self.record(false);
            return Err(GatewayError::Malformed(
                "affirmations: 1 to 12 short strings expected".into(),
            ));
        }
        Ok((list, usage))
    }

    /// The model's reading of `text` for risk, with the safety timeout as its own deadline.
    pub async fn assess_risk(&self, text: &str) -> Result<(crate::RiskReading, Usage), GatewayError> {
        self.assess_risk_until(text, Deadline::after(self.cfg.safety_timeout))
            .await
    }

    /// The model's reading of `text` for risk, held to `{level, categories}` with known
    /// categories. One attempt, within the safety timeout and the request's deadline: the gate's
    /// own answer stands when this fails.
    pub async fn assess_risk_until(
        &self,
        text: &str,
        deadline: Deadline,
    ) -> Result<(crate::RiskReading, Usage), GatewayError> {
        if self.is_open() {
            return Err(GatewayError::CircuitOpen);
        }
        let Some(timeout) = deadline.slice(self.cfg.safety_timeout) else {
            return Err(GatewayError::Timeout);
        };
        let r = self.attempt(RISK_PROMPT, text, timeout).await;
        let r = r.and_then(|(v, usage)| {
            if !v.is_object() {
                // serde would read `["crisis"]` as a struct; the schema is an object.
                return Err(GatewayError::Malformed("the reading is not an object".into()));
            }
            let reading: crate::RiskReading =
                serde_json::from_value(v).map_err(|e| GatewayError::Malformed(e.to_string()))?;
            if let Some(c) = reading
                .categories
                .iter()
                .find(|c| !crate::RISK_CATEGORIES.contains(&c.as_str()))
            {
                return Err(GatewayError::Malformed(format!("unknown category {c:?}")));
            }
            Ok((reading, usage))
        });
        self.record(r.is_ok());
        r
    }

    pub fn new(cfg: HttpConfig) -> Result<Self, GatewayError> {
        let client = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.timeout)
            .build()
            .map_err(|e| GatewayError::Unavailable(e.to_string()))?;
        Ok(Self {
            client,
            breaker: Breaker::new(&cfg),
            cfg,
        })
    }

    /// Whether the breaker keeps calls away from the model (until a background probe succeeds).
    pub fn is_open(&self) -> bool {
        self.breaker.is_open()
    }

    /// The deadline of work nobody waits on: every attempt and its retries may run.
    fn background(&self) -> Deadline {
        let pauses: u64 = (1..=self.cfg.retries).map(|a| 50u64 << a.min(4)).sum();
        Deadline::after(self.cfg.timeout * (self.cfg.retries + 1) + Duration::from_millis(pauses))
    }

    /// Counts a call's outcome; the failure that opens the breaker starts its probe.
    fn record(&self, ok: bool) {
        if ok {
            self.breaker.success();
        } else if self.breaker.failure() {
            self.spawn_probe();
        }
    }

    /// Probes the model every cooldown, in the background, until one answers well; then the
    /// breaker closes. The task holds only a weak reference: a dropped provider ends it.
    fn spawn_probe(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.breaker.stop_probing();
            return;
        };
        let breaker: Weak<Breaker> = Arc::downgrade(&self.breaker);
        let client = self.client.clone();
        let cfg = self.cfg.clone();
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(cfg.breaker_cooldown).await;
                let Some(b) = breaker.upgrade() else { return };
                let timeout = cfg.timeout.min(cfg.breaker_cooldown.max(Deadline::MIN_ATTEMPT));
                let ok = attempt(&client, &cfg, PROBE_PROMPT, "ping", timeout)
                    .await
                    .is_ok_and(|(v, _)| v.is_object());
                let result = if ok { "answered" } else { "failed" };
                metrics::counter!("prism_ai_breaker_probes_total", "model" => cfg.model.clone(), "result" => result)
                    .increment(1);
                if ok {
                    b.close();
                    return;
                }
            }
        });
    }

    /// One chat completion, retried while an attempt fits before `deadline`; the parsed JSON
    /// content and the usage. An open breaker answers at once.
    async fn complete(&self, system: &str, user: &str, deadline: Deadline) -> Result<(Value, Usage), GatewayError> {
        if self.is_open() {
            return Err(GatewayError::CircuitOpen);
        }
        let mut last = GatewayError::Timeout;
        for n in 0..=self.cfg.retries {
            if n > 0 {
                let pause = Duration::from_millis(50 << n.min(4));
                if deadline.remaining() < pause + Deadline::MIN_ATTEMPT {
                    break;
                }
                tokio::time::sleep(pause).await;
            }
            let Some(timeout) = deadline.slice(self.cfg.timeout) else {
                break;
            };
            match self.attempt(system, user, timeout).await {
                Ok(v) => {
                    self.record(true);
                    return Ok(v);
                }
                Err(e) => {
                    let retry = !matches!(e, GatewayError::Unavailable(ref m) if m.starts_with("refused"));
                    last = e;
                    if !retry {
                        break;
                    }
                }
            }
        }
        self.record(false);
        Err(last)
    }

    async fn attempt(&self, system: &str, user: &str, timeout: Duration) -> Result<(Value, Usage), GatewayError> {
        attempt(&self.client, &self.cfg, system, user, timeout).await
    }
}

/// One request to the model, bounded by `timeout` from connecting to the last byte of its body
/// (reqwest's own timeout covers the body read too).
async fn attempt(
    client: &reqwest::Client,
    cfg: &HttpConfig,
    system: &str,
    user: &str,
    timeout: Duration,
) -> Result<(Value, Usage), GatewayError> {
    let url = format!("{}/v1/chat/completions", cfg.base_url.trim_end_matches('/'));
    let body = json!({
        "model": cfg.model,
        "temperature": 0,
        "response_format": {"type": "json_object"},
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
    });
    let mut req = client.post(url).json(&body).timeout(timeout);
    if let Some(k) = &cfg.api_key {
        req = req.bearer_auth(k);
    }
    let res = req.send().await.map_err(|e| {
        if e.is_timeout() {
            GatewayError::Timeout
        } else {
            GatewayError::Unavailable(e.without_url().to_string())
        }
    })?;
    let status = res.status();
    if status.is_client_error() && status.as_u16() != 429 {
        // Our request is wrong (or the key): retrying will not help.
        return Err(GatewayError::Unavailable(format!("refused with {status}")));
    }
    if !status.is_success() {
        return Err(GatewayError::Unavailable(format!("answered {status}")));
    }
    let v: Value = res.json().await.map_err(|e| {
        if e.is_timeout() {
            GatewayError::Timeout
        } else {
            GatewayError::Malformed(e.without_url().to_string())
        }
    })?;
    if let Some(refusal) = v["choices"][0]["message"]["refusal"].as_str() {
        return Err(GatewayError::Malformed(format!(
            "the model refused ({} characters)",
            refusal.len()
        )));
    }
    let content = v["choices"][0]["message"]["content"]
        .as_str()
        .ok_or_else(|| GatewayError::Malformed("no choices[0].message.content".into()))?;
    let parsed: Value =
        serde_json::from_str(content).map_err(|e| GatewayError::Malformed(format!("content is not JSON: {e}")))?;
    let usage = Usage {
        prompt_tokens: v["usage"]["prompt_tokens"].as_u64().unwrap_or(0) as u32,
        completion_tokens: v["usage"]["completion_tokens"].as_u64().unwrap_or(0) as u32,
    };
    Ok((parsed, usage))
}

#[derive(Deserialize)]
struct Fragments {
    fragments: Vec<Fragment>,
}

#[derive(Deserialize)]
struct Reframes {
    reframes: Vec<String>,
    micro_action: String,
}

/// Holds a model's fragments to the text: known categories (serde), spans inside it, a
/// confidence in 0..=1.
fn valid_fragments(text: &str, v: Value) -> Result<Vec<Fragment>, GatewayError> {
    let f: Fragments = serde_json::from_value(v).map_err(|e| GatewayError::Malformed(e.to_string()))?;
    let len = text.chars().count();
    for x in &f.fragments {
        if x.start >= x.end || x.end > len || !(0.0..=1.0).contains(&x.confidence) {
            return Err(GatewayError::Malformed(format!(
                "fragment {}..{} (confidence {}) does not fit a text of {len} characters",
                x.start, x.end, x.confidence
            )));
        }
    }
    Ok(f.fragments)
}

fn valid_reframe(v: Value) -> Result<Reframe, GatewayError> {
    let r: Reframes = serde_json::from_value(v).map_err(|e| GatewayError::Malformed(e.to_string()))?;
    let reframes: [String; 3] = r
        .reframes
        .try_into()
        .map_err(|got: Vec<String>| GatewayError::Malformed(format!("{} reframes, not 3", got.len())))?;
    if reframes.iter().any(|s| s.trim().is_empty()) || r.micro_action.trim().is_empty() {
        return Err(GatewayError::Malformed("an empty reframe or micro-action".into()));
    }
    Ok(Reframe {
        reframes,
        micro_action: r.micro_action,
    })
}

impl HttpProvider {
    /// Fragments of distorted thinking in `text`, within `deadline`.
    pub async fn detect_until(&self, text: &str, deadline: Deadline) -> Result<(Vec<Fragment>, Usage), GatewayError> {
        let (v, usage) = self.complete(DETECT_PROMPT, text, deadline).await?;
        match valid_fragments(text, v) {
            Ok(f) => Ok((f, usage)),
            Err(e) => {
                self.record(false);
                Err(e)
            }
        }
    }

    /// Reframes for `text`, within `deadline`.
    pub async fn reframe_until(
        &self,
        text: &str,
        category: Option<Distortion>,
        deadline: Deadline,
    ) -> Result<(Reframe, Usage), GatewayError> {
        let user = match category {
            Some(c) => format!("Category: {}\n{text}", serde_json::to_string(&c).unwrap_or_default()),
            None => text.to_owned(),
        };
        let (v, usage) = self.complete(REFRAME_PROMPT, &user, deadline).await?;
        match valid_reframe(v) {
            Ok(r) => Ok((r, usage)),
            Err(e) => {
                self.record(false);
                Err(e)
            }
        }
    }
}

/// Without a request's deadline: the provider's own retry budget.
impl Provider for HttpProvider {
    async fn detect(&self, text: &str) -> Result<(Vec<Fragment>, Usage), GatewayError> {
        self.detect_until(text, self.background()).await
    }

    async fn reframe(&self, text: &str, category: Option<Distortion>) -> Result<(Reframe, Usage), GatewayError> {
        self.reframe_until(text, category, self.background()).await
    }
}

/// The model provider when it works, the built-in one when it does not. Two lanes: the
/// standard model (`PRISM_AI_MODEL`) for Turn and Mirror, and an optional economy model
/// (`PRISM_AI_MODEL_ECONOMY`) for Lens and Spectrum (the standard one when unset).
pub struct Fallback {
    pub primary: Option<HttpProvider>,
    pub builtin: Builtin,
    pub economy: Option<HttpProvider>,
    /// What one person's request may spend waiting on models, all calls together
    /// (`PRISM_AI_BUDGET_MS`).
    pub budget: Duration,
}

/// Which model a call may use: the caller decides (budgets, pressure), the gateway obeys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Standard,
    Economy,
    /// The built-in provider only.
    Builtin,
}

/// Which provider answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answered {
    Model,
    Builtin,
}

impl Fallback {
    /// The default `PRISM_AI_BUDGET_MS`.
    pub const DEFAULT_BUDGET: Duration = Duration::from_secs(3);

    /// A gateway with a standard model (or none), no economy lane and the default budget.
    pub fn new(primary: Option<HttpProvider>) -> Self {
        Self {
            primary,
            builtin: Builtin,
            economy: None,
            budget: Self::DEFAULT_BUDGET,
        }
    }

    /// The deadline of a request starting now: make one per request, before its first model call.
    pub fn deadline(&self) -> Deadline {
        Deadline::after(self.budget)
    }

    /// The provider a lane asks, if any.
    pub fn provider(&self, lane: Lane) -> Option<&HttpProvider> {
        match lane {
            Lane::Standard => self.primary.as_ref(),
            Lane::Economy => self.economy.as_ref().or(self.primary.as_ref()),
            Lane::Builtin => None,
        }
    }

    /// The model's answer if the lane has a model and it answers well; the built-in one otherwise.
    async fn first<T>(
        model: Option<impl std::future::Future<Output = Result<(T, Usage), GatewayError>>>,
        builtin: impl FnOnce() -> (T, Usage),
    ) -> (T, Usage, Answered) {
        if let Some(call) = model {
            match call.await {
                Ok((t, u)) => return (t, u, Answered::Model),
                // An open breaker is said once, when it opens: not again on every request.
                Err(GatewayError::CircuitOpen) => {}
                Err(e) => tracing::warn!(error = %e, "model provider failed; using the built-in one"),
            }
        }
        let (t, u) = builtin();
        (t, u, Answered::Builtin)
    }

    /// What the built-in provider is charged for reading `text`.
    fn read(text: &str) -> Usage {
        Usage {
            prompt_tokens: crate::estimate_tokens(text),
            completion_tokens: 0,
        }
    }

    pub async fn detect(&self, text: &str) -> (Vec<Fragment>, Usage, Answered) {
        self.detect_on(Lane::Standard, text, self.deadline()).await
    }

    pub async fn detect_on(&self, lane: Lane, text: &str, deadline: Deadline) -> (Vec<Fragment>, Usage, Answered) {
        let model = self.provider(lane).map(|p| p.detect_until(text, deadline));
        Self::first(model, || (crate::builtin::detect(text), Self::read(text))).await
    }

    /// A weekly insight from counts only.
    pub async fn insight(&self, week: &crate::WeekSummary) -> (String, Usage, Answered) {
        self.insight_on(Lane::Economy, week).await
    }

    pub async fn insight_on(&self, lane: Lane, week: &crate::WeekSummary) -> (String, Usage, Answered) {
        let model = self.provider(lane).map(|p| p.insight(week));
        Self::first(model, || (crate::builtin::insight(week), Usage::default())).await
    }

    /// Lens's affirmations for a day: the model's, or the templates.
    pub async fn affirmations_on(&self, lane: Lane) -> (Vec<String>, Usage, Answered) {
        let model = self.provider(lane).map(|p| p.affirmations());
        let templates = || {
            let list = crate::builtin::AFFIRMATIONS.iter().map(|s| (*s).to_owned()).collect();
            (list, Usage::default())
        };
        Self::first(model, templates).await
    }

    pub async fn reframe(&self, text: &str, category: Option<Distortion>) -> (Reframe, Usage, Answered) {
        self.reframe_on(Lane::Standard, text, category, self.deadline()).await
    }

    pub async fn reframe_on(
        &self,
        lane: Lane,
        text: &str,
        category: Option<Distortion>,
        deadline: Deadline,
    ) -> (Reframe, Usage, Answered) {
        let model = self.provider(lane).map(|p| p.reframe_until(text, category, deadline));
        Self::first(model, || (crate::builtin::reframe(text, category), Self::read(text))).await
    }

    /// A model's reading of `text` for risk, when there is a model and it answers well within
    /// `deadline`. Never the built-in provider: it has nothing to add to the gate's own rules.
    pub async fn assess_risk(&self, text: &str, deadline: Deadline) -> Option<(crate::RiskReading, Usage)> {
        let model = self.primary.as_ref()?;
        match model.assess_risk_until(text, deadline).await {
            Ok(r) => Some(r),
            Err(GatewayError::CircuitOpen) => None,
            Err(e) => {
                tracing::warn!(error = %e, "the model's safety reading failed; the gate's own answer stands");
                None
            }
        }
    }
}
