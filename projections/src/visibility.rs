//! Who may see what of an event: the one policy every way out of Prism applies to the log
//! (the live stream, history routes, and whatever else hands envelopes to a person).
//!
//! The rules are those of the REST read API, stated on events:
//! - **Direct messages** (a `conversation.*` event, and the `message.*`/`reaction.*` events of a
//!   message posted in a conversation) are shown to the conversation's two participants only.
//!   A workspace admin or owner who is not a participant never sees them, through any route.
//!   A platform auditor sees their envelopes (who wrote to whom, when, the hash) but never
//!   their text: the `body` is removed and the payload says `"redacted": ["body"]`. The chain
//!   itself is verified server-side (`/audit/verify`, `prism audit verify`), which needs no
//!   reader to see the text.
//! - **Join codes** (`workspace.created`, `workspace.join_code_rotated`) go to admins and owners
//!   only; members see `workspace.created` without its `join_code` and never see a rotation;
//!   auditors see both events without the code.
//! - **Under an impersonation** the viewer is shown neither join codes nor API-key events, even
//!   as an admin or owner: a platform admin must not leave with a way in of their own.
//! - **API keys** (`api_key.created|revoked`) go to admins, owners and auditors, and never with
//!   the digest of the key's secret (`secret_sha256`); **webhooks** (`webhook.*`) likewise,
//!   never with their signing secret.
//! - **Invitations** (`invitation.*`) go to admins, owners and auditors, never with the sealed
//!   address and token; **files** (`file.uploaded`) to their uploader, and to auditors without
//!   the name.
//! - **Every event type has a rule** ([`rule`]); one without is shown to auditors only.
//! - **Replays** (events from before the moment a stream went live) carry only text REST would
//!   still show: a message's body only in the event that holds its current text, and no text of
//!   a deleted message, a deleted doc or a message in a deleted channel.
//!
//! The facts the rules need (which channel a message is in, who is in a conversation, what was
//! deleted since) are looked up in the log with a bounded number of queries per batch of events,
//! never per viewer: a node's live tail computes them once and every stream shares them.

use std::collections::{HashMap, HashSet};

use prism_domain::policy::Role;
use prism_event_store::StoredEvent;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::ProjectionError;

/// Shows `events` to `viewer`: those hidden from them are left out, the rest as shown.
pub async fn shown_to(
    pool: &PgPool,
    events: Vec<StoredEvent>,
    viewer: &Viewer,
) -> Result<Vec<StoredEvent>, ProjectionError> {
    let facts = Facts::gather(pool, &events, false, &Facts::default()).await?;
    Ok(events
        .into_iter()
        .filter_map(|e| match facts.show(&e, viewer) {
            Shown::Whole => Some(e),
            Shown::Redacted(r) => Some(*r),
            Shown::Hidden => None,
        })
        .collect())
}

/// The positions of those of `events` that `viewer` is shown nothing of (an event shown
/// redacted is shown). For routes that report on events rather than hand them out — audit
/// entries, verification findings — so that they name only what the caller could read.
pub async fn hidden_from(
    pool: &PgPool,
    events: &[StoredEvent],
    viewer: &Viewer,
    known: &mut Facts,
) -> Result<HashSet<i64>, ProjectionError> {
    let facts = Facts::gather(pool, events, false, known).await?;
    known.remember(&facts);
    Ok(events
        .iter()
        .filter(|e| matches!(facts.show(e, viewer), Shown::Hidden))
        .map(|e| e.global_position)
        .collect())
}

/// Who is looking.
#[derive(Debug, Clone, Copy)]
pub struct Viewer {
    pub user: Uuid,
    /// Their role in the event's workspace, if a member.
    pub role: Option<Role>,
    /// A platform auditor (sees every workspace's envelopes, never direct-message text).
    pub auditor: bool,
    /// A platform admin looking as this viewer (an impersonation): what is an admin's secret
    /// (join codes, API keys) is not shown, so nothing seen lets them in on their own account.
    pub impersonated: bool,
}

impl Viewer {
    fn admin(&self) -> bool {
        !self.impersonated && matches!(self.role, Some(Role::Admin | Role::Owner))
    }
}

/// What a viewer is shown of one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    Whole,
    /// The event with some payload fields removed (named in `payload.redacted`).
    Redacted(Box<StoredEvent>),
    Hidden,
}

impl Shown {
    /// The event as shown, if at all.
    pub fn apply(self, e: &StoredEvent) -> Option<StoredEvent> {
        match self {
            Self::Whole => Some(e.clone()),
            Self::Redacted(r) => Some(*r),
            Self::Hidden => None,
        }
    }
}

/// Who an event type is for, before the conversation and text rules and the redactions.
/// Platform auditors see every type (with what is secret or private taken out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Whoever may read the workspace: what REST shows its members.
    Members,
    /// The workspace's admins and owners, never under an impersonation: join-code rotations,
    /// invitations, API keys, webhooks (what `GET …` answers 403 to members for).
    Admins,
    /// The user whose own stream it is (`aggregate_id` is theirs).
    Subject,
    /// A direct conversation's two participants (decided by the conversation rule).
    Participants,
    /// A file's uploader.
    Uploader,
    /// Platform auditors only: sign-ins, reflection (sealed), the AI budget.
    Auditors,
}

/// The rule for each event type the domain writes; `None` for a type nobody named, which is
/// then shown to auditors only. A test walks the domain's catalog and fails on any `None`.
pub fn rule(event_type: &str) -> Option<Rule> {
    use Rule::*;
    Some(match event_type {
        "workspace.created" | "workspace.renamed" | "workspace.deleted" => Members,
        "member.joined" | "member.role_changed" | "member.left" => Members,
        "channel.created" | "channel.updated" | "channel.deleted" => Members,
        "message.created" | "message.updated" | "message.deleted" | "reaction.toggled" => Members,
        "doc.created" | "doc.updated" | "doc.archived" | "doc.restored" | "doc.deleted" => Members,
        "workspace.join_code_rotated" => Admins,
        "invitation.created" | "invitation.accepted" | "invitation.revoked" | "invitation.expired" => Admins,
        "api_key.created" | "api_key.revoked" => Admins,
        "webhook.created"
        | "webhook.updated"
        | "webhook.secret_rotated"
        | "webhook.deleted"
        | "webhook.disabled"
        | "webhook.replay_requested" => Admins,
        "conversation.created" => Participants,
        "file.uploaded" => Uploader,
        "file.deleted" => Auditors,
        "user.registered"
        | "user.renamed"
        | "user.erased"
        | "entitlement.changed"
        | "invitation.received"
        | "notification.read"
        | "spectrum.session_excluded"
        | "spectrum.reset"
        | "spectrum.insight_written" => Subject,
        t if t.starts_with("auth.") || t.starts_with("impersonation.") => Auditors,
        t if ["mirror_session.", "turn.", "lens_goal.", "safety.", "ai.", "lens."]
            .iter()
            .any(|p| t.starts_with(p)) =>
        {
            Auditors
        }
        _ => return None,
    })
}

/// The facts about a batch of events that the rules need.
#[derive(Debug, Default, Clone)]
pub struct Facts {
    /// message id → the channel or conversation it was posted in.
    pub channel_of: HashMap<Uuid, Uuid>,
    /// conversation id → its two participants (a channel id is absent).
    pub participants: HashMap<Uuid, Vec<Uuid>>,
    /// Channel ids known not to be conversations.
    pub plain: HashSet<Uuid>,
    /// For replays: messages, docs and channels deleted by now.
    pub gone: HashSet<Uuid>,
    /// For replays: message id → the position of the event holding its current body.
    pub current_text: HashMap<Uuid, i64>,
    /// Whether these facts were gathered for a replay (text rules apply).
    pub replay: bool,
}

impl Facts {
    /// The facts for `events`, gathered from the log: at most two queries for the live rules,
    /// two more for a replay. `known` holds facts already gathered (a node's caches); only what
    /// it lacks is asked for.
    pub async fn gather(
        pool: &PgPool,
        events: &[StoredEvent],
        replay: bool,
        known: &Facts,
    ) -> Result<Self, ProjectionError> {
        let mut conn = pool.acquire().await?;
        Self::gather_known(&mut conn, events, replay, known).await
    }

    /// [`Facts::gather`] on a connection (a projection's transaction), knowing nothing yet.
    pub async fn gather_on(
        conn: &mut sqlx::PgConnection,
        events: &[StoredEvent],
        replay: bool,
    ) -> Result<Self, ProjectionError> {
        Self::gather_known(conn, events, replay, &Facts::default()).await
    }

    async fn gather_known(
        conn: &mut sqlx::PgConnection,
        events: &[StoredEvent],
        replay: bool,
        known: &Facts,
    ) -> Result<Self, ProjectionError> {
        let mut f = Facts {
            replay,
            ..Default::default()
        };
        let mut unknown_messages = Vec::new();
        for e in events {
            match (e.aggregate_type.as_str(), e.event_type.as_str()) {
                ("message", "message.created") => {
                    if let Some(c) = uuid_field(&e.payload, "channel_id") {
                        f.channel_of.insert(e.aggregate_id, c);
                    }
                }
                ("message", _) => match known.channel_of.get(&e.aggregate_id) {
                    Some(c) => {
                        f.channel_of.insert(e.aggregate_id, *c);
                    }
                    None => unknown_messages.push(e.aggregate_id),
                },
                ("conversation", "conversation.created") => {
                    f.participants.insert(e.aggregate_id, members(&e.payload));
                }
                _ => {}
            }
        }
        unknown_messages.sort_unstable();
        unknown_messages.dedup();
        if !unknown_messages.is_empty() {
            let rows: Vec<(Uuid, Option<String>)> = sqlx::query_as(
                "SELECT aggregate_id, payload->>'channel_id' FROM events
                  WHERE aggregate_type = 'message' AND sequence = 1 AND aggregate_id = ANY($1)",
            )
            .bind(&unknown_messages)
            .fetch_all(&mut *conn)
            .await?;
            for (m, c) in rows {
                if let Some(c) = c.and_then(|c| c.parse().ok()) {
                    f.channel_of.insert(m, c);
                }
            }
        }
        // Which of those channels are conversations, and who is in them.
        let mut unknown_channels: Vec<Uuid> = Vec::new();
        for c in f.channel_of.values() {
            if f.participants.contains_key(c) || known.plain.contains(c) {
                continue;
            }
            match known.participants.get(c) {
                Some(p) => {
                    f.participants.insert(*c, p.clone());
                }
                None => unknown_channels.push(*c),
            }
        }
        unknown_channels.sort_unstable();
        unknown_channels.dedup();
        if !unknown_channels.is_empty() {
            let rows: Vec<(Uuid, Value)> = sqlx::query_as(
                "SELECT aggregate_id, payload FROM events
                  WHERE aggregate_type = 'conversation' AND sequence = 1 AND aggregate_id = ANY($1)",
            )
            .bind(&unknown_channels)
            .fetch_all(&mut *conn)
            .await?;
            for (c, payload) in rows {
                f.participants.insert(c, members(&payload));
            }
            for c in unknown_channels {
                if !f.participants.contains_key(&c) {
                    f.plain.insert(c);
                }
            }
        }
        if replay {
            f.gather_text(&mut *conn, events).await?;
        }
        Ok(f)
    }

    /// What has been deleted since, and which event holds each message's current body.
    async fn gather_text(
        &mut self,
        conn: &mut sqlx::PgConnection,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        let mut subjects: Vec<Uuid> = events
            .iter()
            .filter(|e| matches!(e.aggregate_type.as_str(), "message" | "doc"))
            .map(|e| e.aggregate_id)
            .chain(self.channel_of.values().copied())
            .collect();
        subjects.sort_unstable();
        subjects.dedup();
        if subjects.is_empty() {
            return Ok(());
        }
        let rows: Vec<(Uuid, String, i64)> = sqlx::query_as(
            "SELECT aggregate_id, event_type, max(global_position) FROM events
              WHERE aggregate_type IN ('message', 'doc', 'channel') AND aggregate_id = ANY($1)
                AND event_type IN ('message.created', 'message.updated', 'message.deleted', 'doc.deleted', 'channel.deleted')
              GROUP BY aggregate_id, event_type",
        )
        .bind(&subjects)
        .fetch_all(&mut *conn)
        .await?;
        for (id, ty, at) in rows {
            match ty.as_str() {
                "message.created" | "message.updated" => {
                    let cur = self.current_text.entry(id).or_insert(at);
                    *cur = (*cur).max(at);
                }
                _ => {
                    self.gone.insert(id);
                }
            }
        }
        Ok(())
    }

    /// Adds what `other` knows (a node keeps its facts across batches: they never change).
    pub fn remember(&mut self, other: &Facts) {
        self.channel_of.extend(other.channel_of.iter().map(|(k, v)| (*k, *v)));
        self.participants
            .extend(other.participants.iter().map(|(k, v)| (*k, v.clone())));
        self.plain.extend(other.plain.iter().copied());
    }

    /// The conversation `e` belongs to, with its participants, if it is a direct message.
    fn conversation(&self, e: &StoredEvent) -> Option<&[Uuid]> {
        let conv = match e.aggregate_type.as_str() {
            "conversation" => e.aggregate_id,
            "message" => *self.channel_of.get(&e.aggregate_id)?,
            _ => return None,
        };
        self.participants.get(&conv).map(Vec::as_slice)
    }

    /// What `viewer` is shown of `e`.
    pub fn show(&self, e: &StoredEvent, viewer: &Viewer) -> Shown {
        let mut participant = false;
        if let Some(people) = self.conversation(e) {
            participant = people.contains(&viewer.user);
            if !participant {
                if !viewer.auditor {
                    return Shown::Hidden;
                }
                // Fail closed: whatever a schema version called the text (`text` in v1 of
                // `message.created`), it goes, and the event says so even if there was none.
                return redact_always(e, &["body", "text", "mentions", "attachments"]);
            }
        } else if e.aggregate_type == "message" && !self.channel_of.contains_key(&e.aggregate_id) {
            // A message whose channel could not be established is not shown: never guess.
            return Shown::Hidden;
        }
        // Who the event type is for; a type with no rule is for auditors alone (fail closed).
        let own = e.aggregate_id == viewer.user;
        let uploader = uuid_field(&e.payload, "uploaded_by") == Some(viewer.user);
        let allowed = viewer.auditor
            || match rule(&e.event_type) {
                Some(Rule::Members) => true,
                Some(Rule::Admins) => viewer.admin(),
                Some(Rule::Subject) => own,
                Some(Rule::Uploader) => uploader,
                Some(Rule::Participants) => participant,
                Some(Rule::Auditors) | None => false,
            };
        if !allowed {
            return Shown::Hidden;
        }
        // What is taken out of what is shown.
        match e.event_type.as_str() {
            "workspace.created" | "workspace.join_code_rotated" if !viewer.admin() => return redact(e, &["join_code"]),
            // The digest of a key's secret leaves to no one.
            "api_key.created" => return redact_always(e, &["secret_sha256"]),
            // A signing secret (sealed) leaves to no one.
            "webhook.created" | "webhook.secret_rotated" => return redact_always(e, &["secret"]),
            // The address and the link's token, sealed: admins read pending invitations (the
            // address opened) through REST; nobody needs the ciphertexts.
            "invitation.created" => return redact_always(e, &["email", "token"]),
            // A file's name is its uploader's until something shows it, and then that thing's
            // own event says so: an auditor sees that a file was uploaded, not what it is called
            // (it may be shown only in a direct conversation).
            "file.uploaded" if !uploader => return redact_always(e, &["name"]),
            _ => {}
        }
        if self.replay {
            let gone = |id: &Uuid| self.gone.contains(id);
            match e.event_type.as_str() {
                "message.created" | "message.updated" => {
                    let channel_gone = self.channel_of.get(&e.aggregate_id).is_some_and(gone);
                    let current = self.current_text.get(&e.aggregate_id) == Some(&e.global_position);
                    if gone(&e.aggregate_id) || channel_gone || !current {
                        return redact(e, &["body"]);
                    }
                }
                "doc.created" | "doc.updated" if gone(&e.aggregate_id) => return redact(e, &["title", "body"]),
                _ => {}
            }
        }
        Shown::Whole
    }
}

/// Removes `fields` and marks the event redacted of all of them, present or not.
fn redact_always(e: &StoredEvent, fields: &[&str]) -> Shown {
    let mut r = e.clone();
    if let Value::Object(map) = &mut r.payload {
        for f in fields {
            map.remove(*f);
        }
        map.insert(
            "redacted".into(),
            Value::Array(fields.iter().map(|f| Value::String((*f).to_owned())).collect()),
        );
    }
    Shown::Redacted(Box::new(r))
}

fn redact(e: &StoredEvent, fields: &[&str]) -> Shown {
    let mut r = e.clone();
    if let Value::Object(map) = &mut r.payload {
        let removed: Vec<Value> = fields
            .iter()
            .filter(|f| map.remove(**f).is_some())
            .map(|f| Value::String((*f).to_owned()))
            .collect();
        if removed.is_empty() {
            return Shown::Whole;
        }
        map.insert("redacted".into(), Value::Array(removed));
    }
    Shown::Redacted(Box::new(r))
}

pub(crate) fn uuid_field(v: &Value, k: &str) -> Option<Uuid> {
    v.get(k).and_then(Value::as_str).and_then(|s| s.parse().ok())
}

fn members(payload: &Value) -> Vec<Uuid> {
    payload
        .get("members")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|m| m.as_str()?.parse().ok()).collect())
        .unwrap_or_default()
}

/// A user's membership of a workspace as the log has it now (not a read model that may lag).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Membership {
    pub role: Role,
    /// Where their current membership began (they see nothing from before).
    pub since: i64,
}

/// Follows one user's membership of one workspace through its events, in order.
#[derive(Debug, Clone, Copy)]
pub struct MembershipTracker {
    pub user: Uuid,
    pub workspace: Uuid,
    pub now: Option<Membership>,
    /// The position of the last workspace event folded in.
    pub at: i64,
}

impl MembershipTracker {
    /// The membership as of the log's current end: one query over the workspace's events.
    pub async fn load(pool: &PgPool, workspace: Uuid, user: Uuid) -> Result<Self, ProjectionError> {
        let rows: Vec<(i64, String, Value)> = sqlx::query_as(
            "SELECT global_position, event_type, payload FROM events
              WHERE aggregate_type = 'workspace' AND aggregate_id = $1 ORDER BY sequence",
        )
        .bind(workspace)
        .fetch_all(pool)
        .await?;
        let mut t = Self {
            user,
            workspace,
            now: None,
            at: 0,
        };
        for (pos, ty, payload) in rows {
            t.fold(pos, &ty, &payload);
        }
        Ok(t)
    }

    /// Folds in one event (of any aggregate; only this workspace's count). Answers whether the
    /// membership changed.
    pub fn observe(&mut self, e: &StoredEvent) -> bool {
        if e.aggregate_type != "workspace" || e.aggregate_id != self.workspace || e.global_position <= self.at {
            return false;
        }
        let before = self.now;
        self.fold(e.global_position, &e.event_type, &e.payload);
        before != self.now
    }

    fn fold(&mut self, pos: i64, ty: &str, payload: &Value) {
        self.at = pos;
        let about_me = || uuid_field(payload, "user_id") == Some(self.user);
        let role = || {
            payload
                .get("role")
                .and_then(Value::as_str)
                .and_then(|r| Role::parse(r).ok())
        };
        match ty {
            "workspace.created" if uuid_field(payload, "owner_id") == Some(self.user) => {
                self.now = Some(Membership {
                    role: Role::Owner,
                    since: pos,
                })
            }
            "member.joined" if about_me() => {
                self.now = role().map(|role| Membership { role, since: pos });
            }
            "member.role_changed" if about_me() => {
                if let (Some(m), Some(role)) = (self.now.as_mut(), role()) {
                    m.role = role;
                }
            }
            "member.left" if about_me() => self.now = None,
            "workspace.deleted" => self.now = None,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(aggregate_type: &str, id: Uuid, event_type: &str, payload: Value) -> StoredEvent {
        StoredEvent {
            global_position: 7,
            event_id: Uuid::now_v7(),
            tenant_id: Some(Uuid::now_v7()),
            aggregate_type: aggregate_type.into(),
            aggregate_id: id,
            sequence: 1,
            event_type: event_type.into(),
            event_version: 1,
            payload,
            metadata: Value::Null,
            recorded_at: chrono::Utc::now(),
            hash: vec![],
        }
    }

    #[test]
    fn every_event_type_the_domain_writes_has_a_rule() {
        let missing: Vec<_> = prism_domain::aggregates::catalog()
            .into_iter()
            .filter(|(_, t)| rule(t).is_none())
            .collect();
        assert!(missing.is_empty(), "event types with no visibility rule: {missing:?}");
    }

    #[test]
    fn a_type_nobody_named_is_for_auditors_only_and_invitations_for_admins() {
        let facts = Facts::default();
        let ws = Uuid::now_v7();
        let viewer = |role, auditor| Viewer {
            user: Uuid::now_v7(),
            role,
            auditor,
            impersonated: false,
        };
        let unknown = event("workspace", ws, "workspace.something_new", serde_json::json!({"x": 1}));
        assert_eq!(facts.show(&unknown, &viewer(Some(Role::Owner), false)), Shown::Hidden);
        assert_eq!(facts.show(&unknown, &viewer(None, true)), Shown::Whole);
        let invited = event(
            "workspace",
            ws,
            "invitation.created",
            serde_json::json!({"email": "sealed", "token": "sealed", "role": "member"}),
        );
        assert_eq!(facts.show(&invited, &viewer(Some(Role::Member), false)), Shown::Hidden);
        let admin = facts
            .show(&invited, &viewer(Some(Role::Admin), false))
            .apply(&invited)
            .expect("admins see invitations");
        assert!(admin.payload.get("email").is_none() && admin.payload.get("token").is_none());
        assert_eq!(admin.payload["role"], "member");
        let mut impersonated = viewer(Some(Role::Admin), false);
        impersonated.impersonated = true;
        assert_eq!(facts.show(&invited, &impersonated), Shown::Hidden);
        // An auditor learns a file was uploaded, not its name.
        let uploader = Uuid::now_v7();
        let file = event(
            "file",
            Uuid::now_v7(),
            "file.uploaded",
            serde_json::json!({"name": "salaries.xlsx", "uploaded_by": uploader}),
        );
        let seen = facts.show(&file, &viewer(None, true)).apply(&file).expect("auditors");
        assert!(!seen.payload.to_string().contains("salaries"), "{}", seen.payload);
        let mut own = viewer(Some(Role::Member), false);
        own.user = uploader;
        assert_eq!(facts.show(&file, &own), Shown::Whole);
    }

    #[test]
    fn a_direct_message_of_any_schema_version_keeps_its_text_from_auditors() {
        let (conv, msg, a, b) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let mut facts = Facts::default();
        facts.channel_of.insert(msg, conv);
        facts.participants.insert(conv, vec![a, b]);
        // Version 1 of `message.created` called the text `text`.
        let e = event(
            "message",
            msg,
            "message.created",
            serde_json::json!({"text": "between us", "channel_id": conv}),
        );
        let auditor = Viewer {
            user: Uuid::now_v7(),
            role: None,
            auditor: true,
            impersonated: false,
        };
        let shown = facts.show(&e, &auditor).apply(&e).expect("an envelope for auditors");
        assert!(!shown.payload.to_string().contains("between us"), "{}", shown.payload);
        assert_eq!(
            shown.payload["redacted"],
            serde_json::json!(["body", "text", "mentions", "attachments"])
        );
        let admin = Viewer {
            user: Uuid::now_v7(),
            role: Some(Role::Owner),
            auditor: false,
            impersonated: false,
        };
        assert_eq!(facts.show(&e, &admin), Shown::Hidden);
        let participant = Viewer {
            user: a,
            role: Some(Role::Member),
            auditor: false,
            impersonated: false,
        };
        assert_eq!(facts.show(&e, &participant), Shown::Whole);
    }
}
