//! `GET /v1/me/export`: every piece of the caller's data, as one JSON document, with their
//! journal text opened — the account, memberships, the messages and docs they wrote, every
//! mirror session in full, turns, goals, their spectrum, their plan and metered usage.
//!
//! The document is streamed: rows are read with a database cursor and written as they come,
//! one session or one page of turns at a time, through a small bounded channel, so the
//! server's memory stays flat however much a person has written (a heavy user's 2 MB took 10 s
//! and all of it in memory before). The shape is the same JSON object as before. Should the
//! database fail halfway, the stream stops and the document is left unterminated: a client's
//! JSON parser refuses it rather than taking a partial export for a whole one.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures::stream::BoxStream;
use futures::StreamExt;
use prism_domain::{MirrorSessionId, UserId};
use prism_projections::read_models::{self, reflection, users, Personal};
use prism_projections::spectrum;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::reflection::{goals_of, session_detail, TurnFilter};
use crate::error::ReadError;
use crate::extract::Myself;
use crate::AppState;

/// Chunks in flight between the reader and the client, at most.
const IN_FLIGHT: usize = 8;

/// Writes the document into a channel; the response body reads from it.
struct Writer {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl Writer {
    async fn raw(&mut self, s: &str) -> Result<(), ReadError> {
        self.buf.extend_from_slice(s.as_bytes());
        if self.buf.len() >= 32 * 1024 {
            self.flush().await?;
        }
        Ok(())
    }

    async fn value(&mut self, v: &Value) -> Result<(), ReadError> {
        serde_json::to_writer(&mut self.buf, v).map_err(|e| ReadError::Internal(e.to_string()))?;
        self.raw("").await
    }

    async fn flush(&mut self) -> Result<(), ReadError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx
            .send(Ok(chunk))
            .await
            .map_err(|_| ReadError::Internal("the client went away".into()))
    }

    /// `"key": [rows…]`, row by row as the stream yields them.
    async fn rows<E>(&mut self, key: &str, mut rows: BoxStream<'_, Result<Value, E>>) -> Result<(), ReadError>
    where
        ReadError: From<E>,
    {
        self.raw(&format!(",\"{key}\":[")).await?;
        let mut first = true;
        while let Some(row) = rows.next().await {
            if !first {
                self.raw(",").await?;
            }
            first = false;
            self.value(&row?).await?;
        }
        self.raw("]").await
    }
}

/// The metering ledgers (plan, daily allowance use, AI tokens) are written by the command side
/// (`prism_commands::reflection::{quota, spend}`), synchronously and not from events, so no
/// projection owns them; the read API may not import the command side. Their export is the
/// one SQL the read API keeps, read-only, here.
mod ledgers {
    use futures::stream::BoxStream;
    use prism_domain::UserId;
    use serde_json::Value;
    use sqlx::PgPool;

    pub async fn plan(pool: &PgPool, user: UserId) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT plan FROM entitlements WHERE user_id = $1")
            .bind(user.0)
            .fetch_optional(pool)
            .await
    }

    pub fn usage(pool: &PgPool, user: UserId) -> BoxStream<'_, Result<Value, sqlx::Error>> {
        sqlx::query_scalar(
            "SELECT to_jsonb(t) FROM (SELECT feature, day, used, prompt_tokens, completion_tokens FROM usage_counters \
             WHERE user_id = $1 ORDER BY day, feature) t",
        )
        .bind(user.0)
        .fetch(pool)
    }

    pub fn ai_usage(pool: &PgPool, user: UserId) -> BoxStream<'_, Result<Value, sqlx::Error>> {
        sqlx::query_scalar(
            "SELECT to_jsonb(t) FROM (SELECT day, feature, model, prompt_tokens, completion_tokens, calls FROM ai_usage \
             WHERE user_id = $1 ORDER BY day, feature) t",
        )
        .bind(user.0)
        .fetch(pool)
    }
}

#[utoipa::path(get, path = "/v1/me/export", tag = "me", description = "every piece of the caller's data, as one JSON document, streamed",
    params(("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")),
    responses((status = 200, content_type = "application/json"), (status = 401), (status = 404)))]
pub async fn export(State(s): State<AppState>, Myself(user): Myself) -> Result<Response, ReadError> {
    // Everything that can be refused is refused before the first byte.
    let profile = users::profile(&s.reads(), user).await?.ok_or(ReadError::NotFound)?;
    let mut account = serde_json::to_value(&profile).map_err(|e| ReadError::Internal(e.to_string()))?;
    for field in ["email", "name"] {
        if let Some(Value::String(v)) = account.get_mut(field) {
            super::open_profiles(&s, vec![(user.0, v)]).await?;
        }
    }
    let plan = ledgers::plan(&s.reads(), user).await?;
    let (tx, mut rx) = mpsc::channel(IN_FLIGHT);
    tokio::spawn(async move {
        let mut w = Writer { tx, buf: Vec::new() };
        let head = json!({
            "exported_at": chrono::Utc::now(),
            "account": account,
            "plan": plan.unwrap_or_else(|| "free".into()),
        })
        .to_string();
        let done = write_rest(&s, user, &mut w, head.trim_end_matches('}')).await;
        match done {
            Ok(()) => {
                let _ = w.flush().await;
            }
            Err(e) => {
                tracing::warn!(error = ?e, "the export stopped halfway");
                let _ = w.flush().await;
                let _ =
                    w.tx.send(Err(std::io::Error::other("the export stopped halfway")))
                        .await;
            }
        }
    });
    let body = Body::from_stream(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)));
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

async fn write_rest(s: &AppState, user: UserId, w: &mut Writer, head: &str) -> Result<(), ReadError> {
    w.raw(head).await?;
    w.rows(
        "memberships",
        read_models::personal(&s.reads(), user, Personal::Memberships),
    )
    .await?;
    w.rows("messages", read_models::personal(&s.reads(), user, Personal::Messages))
        .await?;
    w.rows("docs", read_models::personal(&s.reads(), user, Personal::Docs))
        .await?;
    w.rows("files", read_models::personal(&s.reads(), user, Personal::Files))
        .await?;
    w.rows(
        "notifications",
        read_models::personal(&s.reads(), user, Personal::Notifications),
    )
    .await?;
    // Mirror sessions, one in memory at a time.
    w.raw(",\"mirror_sessions\":[").await?;
    let mut after = Uuid::nil();
    let mut first = true;
    loop {
        let ids = reflection::session_ids(&s.reads(), user, after, 50).await?;
        let Some(last) = ids.last().copied() else { break };
        for id in ids {
            if !first {
                w.raw(",").await?;
            }
            first = false;
            w.value(&session_detail(s, user, MirrorSessionId(id)).await?).await?;
        }
        after = last;
    }
    // Turns, a page at a time.
    w.raw("],\"turns\":[").await?;
    let mut page = crate::extract::Page {
        limit: Some(200),
        cursor: None,
    };
    let mut first = true;
    loop {
        let list = super::reflection::turns_of(s, user, &page, &TurnFilter::default()).await?;
        for t in &list.items {
            if !first {
                w.raw(",").await?;
            }
            first = false;
            let v = serde_json::to_value(t).map_err(|e| ReadError::Internal(e.to_string()))?;
            w.value(&v).await?;
        }
        match list.next_cursor {
            Some(c) => page.cursor = Some(c),
            None => break,
        }
    }
    w.raw("],\"lens_goals\":").await?;
    w.value(&Value::Array(goals_of(s, user).await?)).await?;
    w.rows("spectrum", spectrum::personal(&s.reads(), user)).await?;
    w.rows("usage", ledgers::usage(&s.reads(), user)).await?;
    w.rows("ai_usage", ledgers::ai_usage(&s.reads(), user)).await?;
    w.raw("}").await
}
