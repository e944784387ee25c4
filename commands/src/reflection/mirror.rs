//! Mirror sessions: start, write messages (the gate, then the gateway's fragments), reframe a
//! fragment, close with an optional reflection, delete. A session's text is sealed with a key
//! of its own, so deleting the session shreds its text in the log as well.

use prism_ai_gateway::Distortion;
use prism_domain::aggregates::mirror_session::DetectedFragment;
use prism_domain::aggregates::{MirrorSession, MirrorSessionCommand as C};
use prism_domain::values::JournalText;
use prism_domain::{DomainError, MirrorSessionId};
use prism_event_store::Claim;
use prism_vault::Scope;
use serde_json::json;
use uuid::Uuid;

use super::{AiFeature, Feature};
use crate::pipeline::Effects;
use crate::{valid, CommandContext, CommandError, Commands, Outcome};

/// The uniqueness scope that maps a fragment id to its session (the routes name fragments alone).
const FRAGMENT: &str = "mirror_fragment";

impl Commands {
    /// `POST /v1/mirror/sessions`: 201.
    pub async fn start_session(&self, ctx: &CommandContext) -> Result<Outcome, CommandError> {
        self.idempotent(ctx, || async {
            let id = MirrorSessionId::new();
            let owner = ctx.actor.user_id;
            self.create::<MirrorSession>(ctx, id.0, None, C::Start { id, owner }, Effects::created())
                .await
        })
        .await
    }

    /// The session, if the caller may see it (anyone else: 404, before anything is charged).
    pub(crate) async fn my_session(&self, ctx: &CommandContext, id: Uuid) -> Result<(), CommandError> {
        let s = self.load::<MirrorSession>(id).await?;
        if !s.state.visible_to(ctx.actor.user_id) {
            return Err(DomainError::NotFound("session").into());
        }
        Ok(())
    }

    /// `POST /v1/mirror/sessions/{id}/messages`: 201 `{id, fragments}`; crisis text gets the
    /// crisis answer (200), is not kept, and is not charged.
    pub async fn submit_message(
        &self,
        ctx: &CommandContext,
        session: MirrorSessionId,
        text: &str,
    ) -> Result<Outcome, CommandError> {
        let text = valid(JournalText::parse(text))?;
        self.idempotent(ctx, || async {
            let me = ctx.actor.user_id;
            self.my_session(ctx, session.0).await?;
            let message_id = Uuid::now_v7();
            let deadline = self.gateway.deadline();
            let (gate, second) = self.safety_gate(me, text.as_str(), deadline).await;
            let submit = |stored: String, fragments: Vec<DetectedFragment>| C::Submit {
                actor: me,
                message_id,
                text: text.clone(),
                stored,
                fragments,
                second: second.clone(),
            };
            if gate.is_crisis() {
                let cmd = submit(String::new(), Vec::new());
                return self
                    .execute_with::<MirrorSession>(ctx, session.0, None, cmd, self.crisis_effects())
                    .await;
            }
            let submit = &submit;
            let text = &text;
            let gate = &gate;
            self.charged(me, Feature::MirrorMessage, |charge| async move {
                let lane = self.ai_lane(AiFeature::Mirror, Some(me)).await;
                let (found, usage, answered) = self.gateway.detect_on(lane, text.as_str(), deadline).await;
                self.meter(charge, usage, answered).await;
                self.ai_spent(AiFeature::Mirror, Some(me), lane, usage, answered).await;
                let fragments: Vec<DetectedFragment> = found
                    .into_iter()
                    .map(|f| DetectedFragment {
                        fragment_id: Uuid::now_v7(),
                        message_id,
                        category: f.category.as_str().to_owned(),
                        start: f.start,
                        end: f.end,
                        confidence: f.confidence,
                    })
                    .collect();
                let stored = self.vault.seal(Scope::of(me, session.0), text.as_str()).await?;
                let answer: Vec<_> = fragments
                    .iter()
                    .map(|f| {
                        json!({"id": f.fragment_id, "category": f.category, "start": f.start,
                               "end": f.end, "confidence": f.confidence})
                    })
                    .collect();
                let effects = Effects {
                    claims: fragments
                        .iter()
                        .map(|f| Claim::new(FRAGMENT, f.fragment_id.to_string()))
                        .collect(),
                    ..self.checked_in(gate, Effects::created())
                }
                .with("session_id", json!(session.0))
                .with("id", json!(message_id))
                .with("crisis", false)
                .with("fragments", json!(answer));
                self.execute_with::<MirrorSession>(ctx, session.0, None, submit(stored, fragments), effects)
                    .await
            })
            .await
        })
        .await
    }

    /// `POST /v1/mirror/fragments/{id}/reframe`: 201 `{reframe}`; once per fragment.
    pub async fn reframe_fragment(&self, ctx: &CommandContext, fragment: Uuid) -> Result<Outcome, CommandError> {
        self.idempotent(ctx, || async {
            let me = ctx.actor.user_id;
            let session = self
                .claim_owner(FRAGMENT, &fragment.to_string())
                .await?
                .ok_or(DomainError::NotFound("fragment"))?;
            let loaded = self.load::<MirrorSession>(session).await?;
            let s = &loaded.state;
            let f = match s.fragment(fragment) {
                Some(f) if s.visible_to(me) => f.clone(),
                _ => return Err(DomainError::NotFound("fragment").into()),
            };
            // Refused before anything is charged.
            if s.closed {
                return Err(DomainError::rule("session_closed", "this session is closed").into());
            }
            if s.reframed.contains(&fragment) {
                return Err(DomainError::conflict("already_reframed", "this fragment has its reframe").into());
            }
            let deadline = self.gateway.deadline();
            let scope = Scope::of(me, session);
            let stored = s.message(f.message_id).unwrap_or_default().to_owned();
            let message = self.vault.opener(scope).await?.open(&stored)?;
            let piece: String = message.chars().skip(f.start).take(f.end - f.start).collect();
            self.charged(me, Feature::Reframe, |charge| async move {
                let lane = self.ai_lane(AiFeature::Reframe, Some(me)).await;
                let category = Distortion::parse(&f.category);
                let (r, usage, answered) = self.gateway.reframe_on(lane, &piece, category, deadline).await;
                self.meter(charge, usage, answered).await;
                self.ai_spent(AiFeature::Reframe, Some(me), lane, usage, answered).await;
                let [reframe, _, _] = r.reframes.clone();
                let sealed = self.vault.seal(scope, &reframe).await?;
                let effects = Effects::created()
                    .with("session_id", json!(session))
                    .with("id", json!(fragment))
                    .with("reframe", reframe)
                    .with("micro_action", r.micro_action);
                let cmd = C::Reframe {
                    actor: me,
                    fragment_id: fragment,
                    reframe: sealed,
                };
                self.execute_with::<MirrorSession>(ctx, session, None, cmd, effects)
                    .await
            })
            .await
        })
        .await
    }

    /// `POST /v1/mirror/sessions/{id}/close`: 200, with an optional reflection.
    pub async fn close_session(
        &self,
        ctx: &CommandContext,
        session: MirrorSessionId,
        reflection: Option<&str>,
    ) -> Result<Outcome, CommandError> {
        let reflection = reflection
            .map(JournalText::parse)
            .transpose()
            .map_err(CommandError::Domain)?;
        self.idempotent(ctx, || async {
            let me = ctx.actor.user_id;
            self.my_session(ctx, session.0).await?;
            let reflection = match &reflection {
                Some(r) => Some(self.vault.seal(Scope::of(me, session.0), r.as_str()).await?),
                None => None,
            };
            self.execute::<MirrorSession>(ctx, session.0, None, C::Close { actor: me, reflection })
                .await
        })
        .await
    }

    /// `DELETE /v1/mirror/sessions/{id}`: the session's key is destroyed first (its text is
    /// unreadable from then on, in the log too), then `mirror_session.deleted` is appended and
    /// the projections drop what they derived from it. A retry after a failure between the two
    /// finishes the job.
    pub async fn delete_session(
        &self,
        ctx: &CommandContext,
        session: MirrorSessionId,
    ) -> Result<Outcome, CommandError> {
        let me = ctx.actor.user_id;
        // A repeat with the same Idempotency-Key gets the first answer, not the 404 of a
        // session already gone.
        self.idempotent(ctx, || async {
            self.my_session(ctx, session.0).await?;
            self.vault.destroy(Scope::of(me, session.0)).await?;
            let out = self
                .execute::<MirrorSession>(ctx, session.0, None, C::Delete { actor: me })
                .await?;
            // Answers stored for the session's Idempotency-Keys quote its reframes: they go too.
            self.store
                .forget_answers_about(
                    &crate::pipeline::idempotency_scope(ctx),
                    session.0,
                    ctx.idempotency.as_ref().map(|(k, _)| k.as_str()),
                )
                .await?;
            Ok(out)
        })
        .await
    }

    /// The aggregate that holds a uniqueness claim (how a child id finds its aggregate).
    pub(crate) async fn claim_owner(&self, scope: &str, value: &str) -> Result<Option<Uuid>, CommandError> {
        Ok(
            sqlx::query_scalar("SELECT owner_id FROM uniqueness WHERE scope = $1 AND value = $2")
                .bind(scope)
                .bind(value)
                .fetch_optional(self.store.pool())
                .await?,
        )
    }
}
