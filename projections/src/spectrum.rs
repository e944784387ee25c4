//! Spectrum: activity counters per user and per workspace, per ISO week and per month.
//!
//! Each event is credited to its actor (the user bucket) and its tenant (the workspace bucket),
//! in the periods of its own `recorded_at` (UTC), so a rebuild gives the same numbers as the
//! live projection. Active days and distinct channels are sets (`spectrum_days`,
//! `spectrum_channels`) counted when read; a reaction is credited to the message's author as
//! received, through the author table this projection keeps for itself.
//!
//! A batch is folded in memory first (one upsert per bucket, one insert per set), which is what
//! makes an offline rebuild fast; the result is the same as applying events one by one.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use futures::future::BoxFuture;
use prism_domain::aggregates::{DocEvent, MessageEvent, UserEvent};
use prism_event_store::StoredEvent;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::read_models::typed;
use crate::{Projection, ProjectionError};

mod read;
mod reflection;
pub use read::{active_days, buckets, personal, Bucket, Subject};
pub use reflection::{insight, insight_counts, periods, weeks, PeriodCounts, WeekCounts};

pub struct Spectrum;

pub const NAME: &str = "spectrum";
pub const TABLES: &[&str] = &[
    "spectrum_reflection",
    "spectrum_exclusions",
    "spectrum_buckets",
    "spectrum_days",
    "spectrum_channels",
    "spectrum_message_authors",
    "spectrum_insights",
];

/// The ISO week (Monday) and the month an instant falls in.
pub fn week_start(d: NaiveDate) -> NaiveDate {
    d - Days::new(u64::from(d.weekday().num_days_from_monday()))
}

pub fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

#[derive(Default, Clone, Copy)]
struct Counters {
    messages_posted: i64,
    edits: i64,
    deletions: i64,
    reactions_given: i64,
    reactions_received: i64,
    docs_created: i64,
    docs_edited: i64,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
}

#[derive(Clone, Copy)]
enum Count {
    Posted,
    Edit,
    Deletion,
    ReactionGiven,
    ReactionReceived,
    DocCreated,
    DocEdited,
}

type SubjectKey = (&'static str, Uuid);

#[derive(Default)]
struct Fold {
    buckets: HashMap<(SubjectKey, &'static str, NaiveDate), Counters>,
    days: HashSet<(SubjectKey, NaiveDate)>,
    channels: HashSet<(SubjectKey, &'static str, NaiveDate, Uuid)>,
}

impl Fold {
    /// Counts one activity of `subject` at `at`; `active` says it makes the day an active one.
    fn add(&mut self, subject: SubjectKey, at: DateTime<Utc>, what: Count, active: bool, channel: Option<Uuid>) {
        let day = at.date_naive();
        for (period, start) in [("week", week_start(day)), ("month", month_start(day))] {
            let c = self.buckets.entry((subject, period, start)).or_default();
            match what {
                Count::Posted => c.messages_posted += 1,
                Count::Edit => c.edits += 1,
                Count::Deletion => c.deletions += 1,
                Count::ReactionGiven => c.reactions_given += 1,
                Count::ReactionReceived => c.reactions_received += 1,
                Count::DocCreated => c.docs_created += 1,
                Count::DocEdited => c.docs_edited += 1,
            }
            if active {
                c.first = Some(c.first.map_or(at, |f| f.min(at)));
                c.last = Some(c.last.map_or(at, |l| l.max(at)));
                if let Some(ch) = channel {
                    self.channels.insert((subject, period, start, ch));
                }
            } else {
                // Receiving a reaction is not the receiver's own activity, but the bucket must
                // still have a first and last time: the reaction's.
                c.first.get_or_insert(at);
                c.last.get_or_insert(at);
            }
        }
        if active {
            self.days.insert((subject, day));
        }
    }

    /// Credits the actor and the workspace.
    fn credit(&mut self, actor: Option<Uuid>, ws: Option<Uuid>, at: DateTime<Utc>, what: Count, ch: Option<Uuid>) {
        if let Some(a) = actor {
            self.add(("user", a), at, what, true, ch);
        }
        if let Some(w) = ws {
            self.add(("workspace", w), at, what, true, ch);
        }
    }
}

impl Projection for Spectrum {
    fn name(&self) -> &'static str {
        NAME
    }

    fn apply<'a>(&'a self, tx: &'a mut PgConnection, e: &'a StoredEvent) -> BoxFuture<'a, Result<(), ProjectionError>> {
        self.apply_many(tx, std::slice::from_ref(e))
    }

    fn apply_many<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        events: &'a [StoredEvent],
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move {
            // A reset or an erasure applies to everything before it: the activity folded so
            // far is written first, then the user's rows are dropped.
            let mut start = 0;
            for (i, e) in events.iter().enumerate() {
                if let Some(user) = barrier(e)? {
                    activity(tx, &events[start..i]).await?;
                    reflection::apply(tx, &events[start..i]).await?;
                    reflection::forget(tx, user, e.event_type == "user.erased").await?;
                    start = i + 1;
                }
            }
            activity(tx, &events[start..]).await?;
            reflection::apply(tx, &events[start..]).await
        })
    }
}

/// The user whose spectrum starts over at this event (`spectrum.reset`, `user.erased`).
fn barrier(e: &StoredEvent) -> Result<Option<Uuid>, ProjectionError> {
    if e.aggregate_type != "user" {
        return Ok(None);
    }
    Ok(match typed::<UserEvent>(e)? {
        UserEvent::SpectrumReset { user_id } | UserEvent::Erased { user_id } => Some(user_id.0),
        _ => None,
    })
}

/// Activity counters of a run of events.
async fn activity(tx: &mut PgConnection, events: &[StoredEvent]) -> Result<(), ProjectionError> {
    if events.is_empty() {
        return Ok(());
    }
    {
        {
            // 1. Authors of new messages, then the authors and channels of every message touched.
            let mut messages: Vec<(&StoredEvent, MessageEvent)> = Vec::new();
            let mut docs: Vec<(&StoredEvent, DocEvent)> = Vec::new();
            for e in events {
                match e.aggregate_type.as_str() {
                    "message" => messages.push((e, typed(e)?)),
                    "doc" => docs.push((e, typed(e)?)),
                    _ => {}
                }
            }
            let (mut new_ids, mut new_authors, mut new_channels) = (vec![], vec![], vec![]);
            for (_, m) in &messages {
                if let MessageEvent::Created {
                    message_id,
                    author_id,
                    channel_id,
                    ..
                } = m
                {
                    new_ids.push(message_id.0);
                    new_authors.push(author_id.0);
                    new_channels.push(*channel_id);
                }
            }
            if !new_ids.is_empty() {
                sqlx::query(
                    "INSERT INTO spectrum_message_authors (message_id, author_id, channel_id)
                     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) ON CONFLICT DO NOTHING",
                )
                .bind(&new_ids)
                .bind(&new_authors)
                .bind(&new_channels)
                .execute(&mut *tx)
                .await?;
            }
            let touched: Vec<Uuid> = messages
                .iter()
                .filter(|(_, m)| !matches!(m, MessageEvent::Created { .. }))
                .map(|(e, _)| e.aggregate_id)
                .collect();
            let known: HashMap<Uuid, (Uuid, Uuid)> = if touched.is_empty() {
                HashMap::new()
            } else {
                sqlx::query_as::<_, (Uuid, Uuid, Uuid)>(
                    "SELECT message_id, author_id, channel_id FROM spectrum_message_authors WHERE message_id = ANY($1)",
                )
                .bind(&touched)
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|(m, a, c)| (m, (a, c)))
                .collect()
            };

            // 2. Fold the batch.
            let mut fold = Fold::default();
            for (e, m) in &messages {
                let (ws, at) = (e.tenant_id, e.recorded_at);
                let of = known.get(&e.aggregate_id).copied();
                match m {
                    MessageEvent::Created {
                        author_id, channel_id, ..
                    } => fold.credit(Some(author_id.0), ws, at, Count::Posted, Some(*channel_id)),
                    MessageEvent::Updated { edited_by, .. } => {
                        fold.credit(Some(edited_by.0), ws, at, Count::Edit, of.map(|o| o.1))
                    }
                    MessageEvent::Deleted { deleted_by } => {
                        fold.credit(Some(deleted_by.0), ws, at, Count::Deletion, of.map(|o| o.1))
                    }
                    MessageEvent::ReactionToggled { user_id, added, .. } => {
                        if *added {
                            fold.credit(Some(user_id.0), ws, at, Count::ReactionGiven, of.map(|o| o.1));
                            if let Some((author, _)) = of {
                                fold.add(("user", author), at, Count::ReactionReceived, false, None);
                            }
                            if let Some(w) = ws {
                                fold.add(("workspace", w), at, Count::ReactionReceived, false, None);
                            }
                        }
                    }
                }
            }
            for (e, d) in &docs {
                let (ws, at) = (e.tenant_id, e.recorded_at);
                match d {
                    DocEvent::Created { author_id, .. } => {
                        fold.credit(Some(author_id.0), ws, at, Count::DocCreated, None)
                    }
                    DocEvent::Updated { edited_by, .. } => {
                        fold.credit(Some(edited_by.0), ws, at, Count::DocEdited, None)
                    }
                    _ => {}
                }
            }
            write(tx, fold).await
        }
    }
}

async fn write(tx: &mut PgConnection, fold: Fold) -> Result<(), ProjectionError> {
    if !fold.buckets.is_empty() {
        let n = fold.buckets.len();
        let mut cols: (Vec<&str>, Vec<Uuid>, Vec<&str>, Vec<NaiveDate>) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let mut counts: [Vec<i64>; 7] = Default::default();
        let (mut first, mut last) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for (((kind, id), period, start), c) in &fold.buckets {
            cols.0.push(kind);
            cols.1.push(*id);
            cols.2.push(period);
            cols.3.push(*start);
            for (v, x) in counts.iter_mut().zip([
                c.messages_posted,
                c.edits,
                c.deletions,
                c.reactions_given,
                c.reactions_received,
                c.docs_created,
                c.docs_edited,
            ]) {
                v.push(x);
            }
            first.push(c.first);
            last.push(c.last);
        }
        sqlx::query(
            "INSERT INTO spectrum_buckets AS b (subject_kind, subject_id, period, period_start, messages_posted, edits,
                 deletions, reactions_given, reactions_received, docs_created, docs_edited, first_activity, last_activity)
             SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::date[], $5::bigint[], $6::bigint[],
                 $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::timestamptz[], $13::timestamptz[])
             ON CONFLICT (subject_kind, subject_id, period, period_start) DO UPDATE SET
                 messages_posted = b.messages_posted + excluded.messages_posted,
                 edits = b.edits + excluded.edits,
                 deletions = b.deletions + excluded.deletions,
                 reactions_given = b.reactions_given + excluded.reactions_given,
                 reactions_received = b.reactions_received + excluded.reactions_received,
                 docs_created = b.docs_created + excluded.docs_created,
                 docs_edited = b.docs_edited + excluded.docs_edited,
                 first_activity = least(b.first_activity, excluded.first_activity),
                 last_activity = greatest(b.last_activity, excluded.last_activity)",
        )
        .bind(&cols.0)
        .bind(&cols.1)
        .bind(&cols.2)
        .bind(&cols.3)
        .bind(&counts[0])
        .bind(&counts[1])
        .bind(&counts[2])
        .bind(&counts[3])
        .bind(&counts[4])
        .bind(&counts[5])
        .bind(&counts[6])
        .bind(&first)
        .bind(&last)
        .execute(&mut *tx)
        .await?;
    }
    if !fold.days.is_empty() {
        let n = fold.days.len();
        let (mut kinds, mut ids, mut days) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        for ((k, id), d) in &fold.days {
            kinds.push(*k);
            ids.push(*id);
            days.push(*d);
        }
        sqlx::query(
            "INSERT INTO spectrum_days (subject_kind, subject_id, day)
             SELECT * FROM unnest($1::text[], $2::uuid[], $3::date[]) ON CONFLICT DO NOTHING",
        )
        .bind(&kinds)
        .bind(&ids)
        .bind(&days)
        .execute(&mut *tx)
        .await?;
    }
    if !fold.channels.is_empty() {
        let n = fold.channels.len();
        let (mut kinds, mut ids, mut periods) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut starts, mut channels) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for ((k, id), period, start, ch) in &fold.channels {
            kinds.push(*k);
            ids.push(*id);
            periods.push(*period);
            starts.push(*start);
            channels.push(*ch);
        }
        sqlx::query(
            "INSERT INTO spectrum_channels (subject_kind, subject_id, period, period_start, channel_id)
             SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::date[], $5::uuid[]) ON CONFLICT DO NOTHING",
        )
        .bind(&kinds)
        .bind(&ids)
        .bind(&periods)
        .bind(&starts)
        .bind(&channels)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}
