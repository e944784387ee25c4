//! The write path every command follows: load → authorize on the aggregate's own state →
//! handle → append with the expected version; retried on a conflict, idempotent by key.

use std::future::Future;

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use prism_domain::event::{to_parts, KernelEvent};
use prism_domain::DomainError;
use prism_event_store::Guard as StoreGuard;
use prism_event_store::{AppendBatch, Claim, IdempotencyWrite, Loaded, Metadata, NewEvent, StoreError};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::{CommandContext, CommandError, Commands, Outcome};

/// How many times a command is decided again after losing a race.
const MAX_ATTEMPTS: usize = 5;

/// What to append besides the events.
#[derive(Default, Clone)]
pub struct Effects {
    pub claims: Vec<Claim>,
    pub releases: Vec<Claim>,
    /// 201 for a creation.
    pub status: Option<u16>,
    /// Extra answer fields (e.g. `join_code`).
    pub extra: Map<String, Value>,
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
            status: Some(201),
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

    /// Handles `command` on `loaded` and appends what it decided. No events: a no-op answer
    /// with the current version.
    pub async fn decide<A: Kernel>(
        &self,
        ctx: &CommandContext,
        id: Uuid,
        tenant: Option<Uuid>,
        loaded: Loaded<A>,
        command: A::Command,
        effects: Effects,
    ) -> Result<Outcome, CommandError> {
        self.decide_on(None, ctx, id, tenant, loaded, command, effects).await
    }

    /// [`decide`](Self::decide) on a caller's connection (inside the caller's transaction, for
    /// commands with writes of their own). The cache is updated at once, which is safe: if the
    /// caller rolls back, the next append's expected version refuses the cached state.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn decide_on<A: Kernel>(
        &self,
        conn: Option<&mut sqlx::PgConnection>,
        ctx: &CommandContext,
        id: Uuid,
        tenant: Option<Uuid>,
        mut loaded: Loaded<A>,
        command: A::Command,
        effects: Effects,
    ) -> Result<Outcome, CommandError> {
        if let Some(expected) = ctx.if_match {
            if expected != loaded.version {
                return Err(CommandError::PreconditionFailed {
                    current: loaded.version,
                });
            }
        }
        let before = loaded.version;
        let sink = EventSink::<A>::default();
        loaded.state.handle(command, &(), &sink).await?;
        let events = sink.collect().await;
        let status = effects.status.unwrap_or(200);
        if events.is_empty() {
            return Ok(Outcome::new(
                status,
                id,
                loaded.last_position,
                loaded.version,
                effects.extra,
            ));
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
            let mut response = Outcome::new(status, id, 0, version, effects.extra.clone()).body;
            if let Value::Object(m) = &mut response {
                m.remove("position");
                // Which aggregate the answer is about: deleting it deletes the answer too
                // (`forget_answers_about`). Never shown to the client.
                m.insert(SUBJECT.into(), Value::String(id.to_string()));
            }
            IdempotencyWrite {
                scope: idempotency_scope(ctx),
                key: key.clone(),
                fingerprint: fingerprint.clone(),
                status,
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
                actor_kind: "user".into(),
                correlation_id: ctx.correlation_id,
                causation_id: None,
                request_id: ctx.request_id.clone(),
                impersonator: None,
            },
            claims: effects.claims,
            releases: effects.releases,
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
                match e {
                    StoreError::VersionConflict { .. } => self.cache.evict::<A>(id),
                    // Reload what moved (we do not know which guard it was) on the retry.
                    StoreError::GuardMoved => {
                        for g in &effects.guards {
                            self.cache.evict_key(g.aggregate_type, g.id);
                        }
                    }
                    _ => {}
                }
                return Err(e.into());
            }
        };
        loaded.version = appended.version;
        loaded.last_hash = appended.last_hash;
        loaded.last_position = appended.last_position;
        self.maybe_snapshot(id, before, &loaded);
        self.cache.put(id, loaded);
        Ok(Outcome::new(
            status,
            id,
            appended.last_position,
            appended.version,
            effects.extra,
        ))
    }

    /// The generic command path for a command that needs nothing but its own aggregate:
    /// load (cache or snapshot + tail) → handle → append, retried on a conflict.
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

    /// [`execute`](Self::execute) with effects: claims written with the events, an answer's
    /// status and extra fields.
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
        self.retrying(ctx, Some(id), || async {
            let loaded = self.load::<A>(id).await?;
            self.decide(ctx, id, tenant, loaded, command.clone(), effects.clone())
                .await
        })
        .await
    }

    /// The creation path: a new aggregate under a freshly minted (UUIDv7) id has no history,
    /// so nothing is loaded; the append expects version 0, and the log's unique sequence
    /// refuses the (practically impossible) case of an id already in use.
    pub async fn create<A: Kernel>(
        &self,
        ctx: &CommandContext,
        id: Uuid,
        tenant: Option<Uuid>,
        command: A::Command,
    ) -> Result<Outcome, CommandError> {
        self.decide(ctx, id, tenant, Loaded::<A>::default(), command, Effects::created())
            .await
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
    pub async fn retrying<F, Fut>(
        &self,
        ctx: &CommandContext,
        key: Option<Uuid>,
        attempt: F,
    ) -> Result<Outcome, CommandError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Outcome, CommandError>>,
    {
        let tries = if ctx.if_match.is_some() { 1 } else { MAX_ATTEMPTS };
        let mut last = CommandError::Conflict;
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
                Err(CommandError::Conflict) => last = CommandError::Conflict,
                other => return other,
            }
        }
        // A conflict with If-Match means the client's version is stale.
        if ctx.if_match.is_some() {
            return Err(CommandError::PreconditionFailed { current: -1 });
        }
        Err(last)
    }

    /// Honors `Idempotency-Key`: a repeat returns the stored first answer and appends nothing;
    /// the key with another request is refused.
    pub async fn idempotent<F, Fut>(&self, ctx: &CommandContext, run: F) -> Result<Outcome, CommandError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Outcome, CommandError>>,
    {
        let Some((key, fingerprint)) = &ctx.idempotency else {
            return run().await;
        };
        let scope = idempotency_scope(ctx);
        if let Some(stored) = self.replay(&scope, key, fingerprint).await? {
            return Ok(stored);
        }
        match run().await {
            // A concurrent twin may have committed first: then answer what it answered.
            Err(e @ (CommandError::DuplicateRequest | CommandError::Conflict | CommandError::Taken(_))) => {
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
                Ok(Some(Outcome {
                    status: s.status,
                    body: s.response,
                    replayed: true,
                }))
            }
            None => Ok(None),
        }
    }
}

/// The stored answer's field naming the aggregate it is about.
const SUBJECT: &str = "_subject";

/// Keys are per caller: two users may pick the same key.
pub(crate) fn idempotency_scope(ctx: &CommandContext) -> String {
    ctx.actor.user_id.to_string()
}
