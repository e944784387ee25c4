//! The write path every command follows, one way: [`Commands::run`] makes it idempotent by
//! key and retries it when it loses a race; inside, a command loads what it decides on and
//! hands a [`Decision`] to [`Commands::decide`], which authorizes on the aggregate's own state
//! (its `handle`), appends with the expected version and answers an [`Outcome`].
//! [`Commands::execute`] / [`execute_with`](Commands::execute_with) /
//! [`create`](Commands::create) are that whole path for a command that needs nothing but its
//! own aggregate.

use std::future::Future;

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use prism_domain::event::{to_parts, KernelEvent};
use prism_domain::DomainError;
use prism_event_store::Guard as StoreGuard;
use prism_event_store::{AppendBatch, Claim, IdempotencyWrite, Loaded, Metadata, NewEvent, StoreError};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::{CommandContext, CommandError, Commands, Expected, Happened, Outcome};

/// How many times a command is decided again after losing a race.
const MAX_ATTEMPTS: usize = 5;

/// What to append besides the events, and what to answer.
#[derive(Default, Clone)]
pub struct Effects {
    pub claims: Vec<Claim>,
    pub releases: Vec<Claim>,
    /// What the answer says happened ([`Happened::Done`] unless told).
    pub happened: Happened,
    /// Extra answer fields (e.g. `join_code`).
    pub extra: Map<String, Value>,
    /// The id the answer names when it is not the aggregate's (an action inside a goal).
    pub answer_id: Option<Uuid>,
    /// The other aggregates the command was decided on, at the versions read ([`guard`]).
    pub guards: Vec<Guard>,
}

/// Another aggregate a decision rested on (type, id, version read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guard {
    pub aggregate_type: &'static str,
    pub id: Uuid,
    pub version: i64,
}

/// A guard on `loaded`: the append fails if it changes before the command commits.
pub fn guard<A: Aggregate>(id: Uuid, loaded: &Loaded<A>) -> Guard {
    Guard {
        aggregate_type: A::TYPE,
        id,
        version: loaded.version,
    }
}

impl Effects {
    pub fn created() -> Self {
        Self {
            happened: Happened::Created,
            ..Default::default()
        }
    }
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }
    pub fn guarded(mut self, guards: impl IntoIterator<Item = Guard>) -> Self {
        self.guards.extend(guards);
        self
    }
    /// The answer names `id` instead of the aggregate's.
    pub fn answering(mut self, id: Uuid) -> Self {
        self.answer_id = Some(id);
        self
    }
}

/// A command decided on a loaded aggregate: what [`Commands::decide`] handles and appends.
pub struct Decision<A: Kernel> {
    pub id: Uuid,
    /// The workspace the events belong to (`None` for a user's own aggregates).
    pub tenant: Option<Uuid>,
    pub loaded: Loaded<A>,
    pub command: A::Command,
    pub effects: Effects,
}

impl<A: Kernel> Decision<A> {
    pub fn new(id: Uuid, tenant: Option<Uuid>, loaded: Loaded<A>, command: A::Command) -> Self {
        Self {
            id,
            tenant,
            loaded,
            command,
            effects: Effects::default(),
        }
    }
    pub fn with(mut self, effects: Effects) -> Self {
        self.effects = effects;
        self
    }
}

/// Aggregates the pipeline can run: the domain's, with its one error type and no services.
pub trait Kernel: Aggregate<Error = DomainError, Services = (), Event: KernelEvent> + Clone + 'static {}
impl<A> Kernel for A where A: Aggregate<Error = DomainError, Services = (), Event: KernelEvent> + Clone + 'static {}

impl Commands {
    /// Loads an aggregate, from the cache when it is there (it may be stale: fine for the
    /// aggregate a command appends to, whose expected version is checked by the append).
    pub async fn load<A: Kernel>(&self, id: Uuid) -> Result<Loaded<A>, CommandError> {
        if let Some(hit) = self.cache.get::<A>(id) {
            return Ok(hit);
        }
        let loaded = self.store.load::<A>(id).await?;
        if loaded.exists() {
            self.cache.put(id, loaded.clone());
        }
        Ok(loaded)
    }

    /// Handles the decision's command on its loaded aggregate and appends what it decided. No
    /// events: a no-op answer with the current version.
    pub async fn decide<A: Kernel>(&self, ctx: &CommandContext, d: Decision<A>) -> Result<Outcome, CommandError> {
        self.decide_on(None, ctx, d).await
    }

    /// [`decide`](Self::decide) on a caller's connection (inside the caller's transaction, for
    /// commands with writes of their own). The cache is updated at once, which is safe: if the
    /// caller rolls back, the next append's expected version refuses the cached state.
    pub(crate) async fn decide_on<A: Kernel>(
        &self,
        conn: Option<&mut sqlx::PgConnection>,
        ctx: &CommandContext,
        d: Decision<A>,
    ) -> Result<Outcome, CommandError> {
        let Decision {
            id,
            tenant,
            mut loaded,
            command,
            effects,
        } = d;
        if let Expected::Exactly(expected) = ctx.expected {
            if expected != loaded.version {
                return Err(CommandError::PreconditionFailed {
                    expected,
                    actual: Some(loaded.version),
                });
            }
        }
        let before = loaded.version;
        let sink = EventSink::<A>::default();
        loaded.state.handle(command, &(), &sink).await?;
        let events = sink.collect().await;
        let answer = |position: i64, version: i64| Outcome {
            extra: effects.extra.clone(),
            ..Outcome::new(effects.happened, effects.answer_id.unwrap_or(id), position, version)
        };
        if events.is_empty() {
            return Ok(answer(loaded.last_position, loaded.version));
        }
        let new_events = events
            .iter()
            .map(|e| {
                let (event_type, payload) = to_parts(e).map_err(StoreError::from)?;
                Ok(NewEvent {
                    event_type,
                    event_version: e.schema_version(),
                    payload,
                })
            })
            .collect::<Result<Vec<_>, CommandError>>()?;
        let version = before + new_events.len() as i64;
        let idempotency = ctx.idempotency.as_ref().map(|(key, fingerprint)| {
            let first = Outcome {
                position: None,
                ..answer(0, version)
            };
            let mut response = first.body();
            if let Value::Object(m) = &mut response {
                // Which aggregate the answer is about: deleting it deletes the answer too
                // (`forget_answers_about`). Never shown to the client.
                m.insert(SUBJECT.into(), Value::String(id.to_string()));
            }
            IdempotencyWrite {
                scope: idempotency_scope(ctx),
                key: key.clone(),
                fingerprint: fingerprint.clone(),
                status: effects.happened.stored(),
                response,
            }
        });
        let batch = AppendBatch {
            tenant_id: tenant,
            aggregate_type: A::TYPE.to_owned(),
            aggregate_id: id,
            expected_version: before,
            prev_hash: loaded.last_hash,
            events: new_events,
            metadata: Metadata {
                actor_id: Some(ctx.actor.user_id.0),
                actor_kind: ctx.actor.kind_name().into(),
                correlation_id: ctx.correlation_id,
                causation_id: None,
                request_id: ctx.request_id.clone(),
                impersonator: ctx.actor.impersonator.map(|u| u.0),
            },
            claims: effects.claims.clone(),
            releases: effects.releases.clone(),
            guards: effects
                .guards
                .iter()
                .map(|g| StoreGuard {
                    aggregate_type: g.aggregate_type.to_owned(),
                    aggregate_id: g.id,
                    version: g.version,
                })
                .collect(),
            idempotency,
        };
        let result = match conn {
            Some(conn) => self.store.append_on(conn, batch).await,
            None => self.store.append(batch).await,
        };
        let appended = match result {
            Ok(a) => a,
            Err(e) => {
                match &e {
                    StoreError::VersionConflict { .. } => self.cache.evict::<A>(id),
                    // Reload what moved (we do not know which guard it was) on the retry.
                    StoreError::GuardMoved => {
                        for g in &effects.guards {
                            self.cache.evict_key(g.aggregate_type, g.id);
                        }
                    }
                    _ => {}
                }
                return Err(match CommandError::from(e) {
                    // The version this decision was made on, known here if not to the store.
                    CommandError::Conflict { expected: None, actual } => CommandError::Conflict {
                        expected: Some(before),
                        actual,
                    },
                    other => other,
                });
            }
        };
        loaded.version = appended.version;
        loaded.last_hash = appended.last_hash;
        loaded.last_position = appended.last_position;
        self.maybe_snapshot(id, before, &loaded);
        self.cache.put(id, loaded);
        Ok(answer(appended.last_position, appended.version))
    }

    /// The whole path for a command that needs nothing but its own aggregate: idempotent by
    /// key, load (cache or snapshot + tail) → handle → append, retried on a conflict.
    pub async fn execute<A: Kernel>(
        &self,
        ctx: &CommandContext,
        id: Uuid,
        tenant: Option<Uuid>,
        command: A::Command,
    ) -> Result<Outcome, CommandError>
    where
        A::Command: Clone,
    {
        self.execute_with::<A>(ctx, id, tenant, command, Effects::default())
            .await
    }

    /// [`execute`](Self::execute) with effects: claims written with the events, what the
    /// answer says happened and its extra fields.
    pub async fn execute_with<A: Kernel>(
        &self,
        ctx: &CommandContext,
        id: Uuid,
        tenant: Option<Uuid>,
        command: A::Command,
        effects: Effects,
    ) -> Result<Outcome, CommandError>
    where
        A::Command: Clone,
    {
        self.run(ctx, Some(id), || async {
            let loaded = self.load::<A>(id).await?;
            let d = Decision::new(id, tenant, loaded, command.clone()).with(effects.clone());
            self.decide(ctx, d).await
        })
        .await
    }

    /// The creation path: a new aggregate under a freshly minted (UUIDv7) id has no history,
    /// so nothing is loaded; the append expects version 0, and the log's unique sequence
    /// refuses the (practically impossible) case of an id already in use. Idempotent by key.
    pub async fn create<A: Kernel>(
        &self,
        ctx: &CommandContext,
        id: Uuid,
        tenant: Option<Uuid>,
        command: A::Command,
        effects: Effects,
    ) -> Result<Outcome, CommandError>
    where
        A::Command: Clone,
    {
        self.run(ctx, None, || async {
            let d = Decision::new(id, tenant, Loaded::<A>::default(), command.clone()).with(effects.clone());
            self.decide(ctx, d).await
        })
        .await
    }

    /// The one way a command runs: idempotent by `Idempotency-Key` ([`idempotent`]), and
    /// `attempt` run again while it loses races ([`retrying`]) on aggregate `key`.
    ///
    /// [`idempotent`]: Self::idempotent
    /// [`retrying`]: Self::retrying
    pub async fn run<F, Fut>(
        &self,
        ctx: &CommandContext,
        key: Option<Uuid>,
        attempt: F,
    ) -> Result<Outcome, CommandError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Outcome, CommandError>>,
    {
        self.idempotent(ctx, || self.retrying(ctx, key, attempt)).await
    }

    fn maybe_snapshot<A: Kernel>(&self, id: Uuid, before: i64, loaded: &Loaded<A>) {
        let every = self.store.snapshot_every();
        if every <= 0 || loaded.version / every == before / every {
            return;
        }
        let Ok(snap) = loaded.snapshot() else { return };
        let store = self.store.clone();
        // Best effort, off the request path: a snapshot is only ever a shortcut.
        tokio::spawn(async move {
            if let Err(e) = store.save_snapshot(A::TYPE, id, &snap).await {
                tracing::warn!(aggregate_type = A::TYPE, %id, error = %e, "snapshot not saved");
            }
        });
    }

    /// Runs `attempt` on aggregate `key` again while it loses races (each run reloads what it
    /// decides on), at most [`MAX_ATTEMPTS`] times; with `If-Match` the client decides, so
    /// there is no retry.
    ///
    /// Commands on one aggregate within this process take turns (a striped lock on `key`): a
    /// hot message with many reactions queues instead of conflicting. Conflicts then come only
    /// from other processes or from a guard that moved, and a jittered backoff keeps those
    /// from colliding again. Creations pass no key: their aggregate is new, nobody else has it.
    async fn retrying<F, Fut>(
        &self,
        ctx: &CommandContext,
        key: Option<Uuid>,
        attempt: F,
    ) -> Result<Outcome, CommandError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Outcome, CommandError>>,
    {
        let tries = match ctx.expected {
            Expected::Exactly(_) => 1,
            Expected::Current => MAX_ATTEMPTS,
        };
        let mut last = None;
        for n in 0..tries {
            if n > 0 {
                let jitter = rand::random::<u64>() % (2 << n);
                tokio::time::sleep(std::time::Duration::from_millis(jitter)).await;
            }
            let _turn = match key {
                Some(k) => Some(self.locks.lock(k).await),
                None => None,
            };
            match attempt().await {
                Err(CommandError::Conflict { expected, actual }) => last = Some((expected, actual)),
                other => return other,
            }
        }
        let (expected, actual) = last.unwrap_or_default();
        Err(match ctx.expected {
            // A conflict with If-Match means the client's version is stale.
            Expected::Exactly(expected) => CommandError::PreconditionFailed { expected, actual },
            Expected::Current => CommandError::Conflict { expected, actual },
        })
    }

    /// Honors `Idempotency-Key`: a repeat returns the stored first answer and appends nothing;
    /// the key with another request is refused.
    ///
    /// Commands that do work before their decision (a safety gate, a charge) wrap that work in
    /// `idempotent` too, so a repeat neither charges nor runs the gate again; the
    /// [`execute`](Self::execute) inside then knows (a task-local mark of the key) that the
    /// key was looked up already and does not look again.
    pub async fn idempotent<F, Fut>(&self, ctx: &CommandContext, run: F) -> Result<Outcome, CommandError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Outcome, CommandError>>,
    {
        let Some((key, fingerprint)) = &ctx.idempotency else {
            return run().await;
        };
        if CHECKED.try_with(|k| k == key).unwrap_or(false) {
            return run().await;
        }
        let scope = idempotency_scope(ctx);
        if let Some(stored) = self.replay(&scope, key, fingerprint).await? {
            return Ok(stored);
        }
        match CHECKED.scope(key.clone(), run()).await {
            // A concurrent twin may have committed first: then answer what it answered.
            Err(e @ (CommandError::DuplicateRequest | CommandError::Conflict { .. } | CommandError::Taken(_))) => {
                Ok(self.replay(&scope, key, fingerprint).await?.ok_or(e)?)
            }
            other => other,
        }
    }

    async fn replay(&self, scope: &str, key: &str, fingerprint: &str) -> Result<Option<Outcome>, CommandError> {
        match self.store.idempotent_response(scope, key, self.idempotency_ttl).await? {
            Some(s) if s.fingerprint != fingerprint => Err(CommandError::IdempotencyKeyReused),
            Some(mut s) => {
                if let Value::Object(m) = &mut s.response {
                    m.remove(SUBJECT);
                }
                let stored = Outcome::stored(s.status, s.response)
                    .ok_or_else(|| CommandError::Internal("a stored answer is not one we wrote".into()))?;
                Ok(Some(stored))
            }
            None => Ok(None),
        }
    }
}

tokio::task_local! {
    /// The `Idempotency-Key` an enclosing [`Commands::idempotent`] has looked up already.
    static CHECKED: String;
}

/// The stored answer's field naming the aggregate it is about.
const SUBJECT: &str = "_subject";

/// Keys are per caller: two users may pick the same key.
pub(crate) fn idempotency_scope(ctx: &CommandContext) -> String {
    // An admin acting as a user keeps answers apart from the user's own: neither replays the
    // other's.
    match ctx.actor.impersonator {
        None => ctx.actor.user_id.to_string(),
        Some(admin) => format!("{}/as/{admin}", ctx.actor.user_id),
    }
}
