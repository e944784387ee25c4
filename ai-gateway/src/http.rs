//! The HTTP provider: an OpenAI-compatible chat-completions endpoint (vLLM, Ollama, …), asked
//! for JSON and held to the expected shape, with a timeout per call, bounded retries and a
//! circuit breaker. [`Fallback`] puts the built-in provider behind it: when the model is slow,
//! broken or switched off by the breaker, people still get an answer.

use std::sync::Mutex;
use std::time::{Duration, Instant};

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
    pub timeout: Duration,
    /// Further attempts after a failed one.
    pub retries: u32,
    /// Consecutive failed calls that open the breaker.
    pub breaker_threshold: u32,
    /// How long an open breaker keeps calls away from the model.
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
            retries: 2,
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(30),
            safety_timeout: Duration::from_secs(3),
        }
    }
}

#[derive(Debug, Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
}

pub struct HttpProvider {
    client: reqwest::Client,
    cfg: HttpConfig,
    breaker: Mutex<Breaker>,
}

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
    /// A weekly insight written by the model from `week` (counts only, never text).
    pub async fn insight(&self, week: &crate::WeekSummary) -> Result<(String, Usage), GatewayError> {
        let user = serde_json::to_string(week).map_err(|e| GatewayError::Malformed(e.to_string()))?;
        let (v, usage) = self.complete(INSIGHT_PROMPT, &user).await?;
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

    /// Seven affirmations for Lens's daily focus, each checked.
    pub async fn affirmations(&self) -> Result<(Vec<String>, Usage), GatewayError> {
        let (v, usage) = self.complete(AFFIRMATIONS_PROMPT, "Today's set, please.").await?;
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

    /// The model's reading of `text` for risk, held to `{level, categories}` with known
    /// categories. One attempt, with the safety timeout: the gate's own answer stands when this
    /// fails.
    pub async fn assess_risk(&self, text: &str) -> Result<(crate::RiskReading, Usage), GatewayError> {
        if self.is_open() {
            return Err(GatewayError::Unavailable("circuit open".into()));
        }
        let r = self
            .attempt_with(RISK_PROMPT, text, Some(self.cfg.safety_timeout))
            .await;
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
            .timeout(cfg.timeout)
            .build()
            .map_err(|e| GatewayError::Unavailable(e.to_string()))?;
        Ok(Self {
            client,
            cfg,
            breaker: Mutex::new(Breaker::default()),
        })
    }

    /// Whether the breaker lets a call through now (after the cooldown, one call tries).
    pub fn is_open(&self) -> bool {
        let b = self.breaker.lock().unwrap_or_else(|e| e.into_inner());
        b.open_until.is_some_and(|t| Instant::now() < t)
    }

    fn record(&self, ok: bool) {
        let mut b = self.breaker.lock().unwrap_or_else(|e| e.into_inner());
        if ok {
            *b = Breaker::default();
        } else {
            b.failures += 1;
            if b.failures >= self.cfg.breaker_threshold {
                b.open_until = Some(Instant::now() + self.cfg.breaker_cooldown);
                tracing::warn!(failures = b.failures, "model provider circuit opened");
            }
        }
    }

    /// One chat completion, retried; the parsed JSON content and the usage.
    async fn complete(&self, system: &str, user: &str) -> Result<(Value, Usage), GatewayError> {
        if self.is_open() {
            return Err(GatewayError::Unavailable("circuit open".into()));
        }
        let mut last = GatewayError::Unavailable("no attempt".into());
        for attempt in 0..=self.cfg.retries {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(50 << attempt.min(4))).await;
            }
            match self.attempt(system, user).await {
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

    async fn attempt(&self, system: &str, user: &str) -> Result<(Value, Usage), GatewayError> {
        self.attempt_with(system, user, None).await
    }

    async fn attempt_with(
        &self,
        system: &str,
        user: &str,
        timeout: Option<Duration>,
    ) -> Result<(Value, Usage), GatewayError> {
        let url = format!("{}/v1/chat/completions", self.cfg.base_url.trim_end_matches('/'));
        let body = json!({
            "model": self.cfg.model,
            "temperature": 0,
            "response_format": {"type": "json_object"},
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        });
        let mut req = self.client.post(url).json(&body);
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        if let Some(k) = &self.cfg.api_key {
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

impl Provider for HttpProvider {
    async fn detect(&self, text: &str) -> Result<(Vec<Fragment>, Usage), GatewayError> {
        let (v, usage) = self.complete(DETECT_PROMPT, text).await?;
        match valid_fragments(text, v) {
            Ok(f) => Ok((f, usage)),
            Err(e) => {
                self.record(false);
                Err(e)
            }
        }
    }

    async fn reframe(&self, text: &str, category: Option<Distortion>) -> Result<(Reframe, Usage), GatewayError> {
        let user = match category {
            Some(c) => format!("Category: {}\n{text}", serde_json::to_string(&c).unwrap_or_default()),
            None => text.to_owned(),
        };
        let (v, usage) = self.complete(REFRAME_PROMPT, &user).await?;
        match valid_reframe(v) {
            Ok(r) => Ok((r, usage)),
            Err(e) => {
                self.record(false);
                Err(e)
            }
        }
    }
}

/// The model provider when it works, the built-in one when it does not. Two lanes: the
/// standard model (`PRISM_AI_MODEL`) for Turn and Mirror, and an optional economy model
/// (`PRISM_AI_MODEL_ECONOMY`) for Lens and Spectrum (the standard one when unset).
pub struct Fallback {
    pub primary: Option<HttpProvider>,
    pub builtin: Builtin,
    pub economy: Option<HttpProvider>,
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
    /// A gateway with a standard model (or none) and no economy lane.
    pub fn new(primary: Option<HttpProvider>) -> Self {
        Self {
            primary,
            builtin: Builtin,
            economy: None,
        }
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
        self.detect_on(Lane::Standard, text).await
    }

    pub async fn detect_on(&self, lane: Lane, text: &str) -> (Vec<Fragment>, Usage, Answered) {
        let model = self.provider(lane).map(|p| p.detect(text));
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
        self.reframe_on(Lane::Standard, text, category).await
    }

    pub async fn reframe_on(&self, lane: Lane, text: &str, category: Option<Distortion>) -> (Reframe, Usage, Answered) {
        let model = self.provider(lane).map(|p| p.reframe(text, category));
        Self::first(model, || (crate::builtin::reframe(text, category), Self::read(text))).await
    }

    /// A model's reading of `text` for risk, when there is a model and it answers well. Never
    /// the built-in provider: it has nothing to add to the gate's own rules.
    pub async fn assess_risk(&self, text: &str) -> Option<(crate::RiskReading, Usage)> {
        let model = self.primary.as_ref()?;
        match model.assess_risk(text).await {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(error = %e, "the model's safety reading failed; the gate's own answer stands");
                None
            }
        }
    }
}
