//! Group commit: concurrent appends written together, many commands per statement and per
//! transaction, so a busy server pays one round trip and one WAL flush for a whole group.
//!
//! Nobody waits to fill a batch: a flusher takes the first pending append and whatever else is
//! already queued behind it (up to `max_batch`). Under low load a batch is one command and
//! costs what a single append costs; under high load batches grow while the previous one
//! commits. A batch that fails for a reason that belongs to one command (a version conflict, a
//! taken claim, a repeated idempotency key) is retried command by command, so one command's
//! conflict never fails another's.

use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::append::append_many;
use crate::model::{AppendBatch, Appended};
use crate::StoreError;

struct Pending {
    batch: AppendBatch,
    reply: oneshot::Sender<Result<Appended, StoreError>>,
}

#[derive(Clone)]
pub(crate) struct Batcher {
    tx: mpsc::Sender<Pending>,
}

impl Batcher {
    pub(crate) fn spawn(pool: PgPool, flushers: usize, max_batch: usize) -> Self {
        let (tx, rx) = mpsc::channel::<Pending>(max_batch.max(1) * flushers.max(1) * 4);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..flushers.max(1) {
            let (rx, pool) = (rx.clone(), pool.clone());
            tokio::spawn(async move {
                loop {
                    let mut group = Vec::with_capacity(max_batch);
                    {
                        let mut rx = rx.lock().await;
                        match rx.recv().await {
                            Some(p) => group.push(p),
                            None => return, // every store handle is gone
                        }
                        while group.len() < max_batch {
                            match rx.try_recv() {
                                Ok(p) => group.push(p),
                                Err(_) => break,
                            }
                        }
                    }
                    flush(&pool, group).await;
                }
            });
        }
        Self { tx }
    }

    pub(crate) async fn submit(&self, batch: AppendBatch) -> Result<Appended, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Pending { batch, reply })
            .await
            .map_err(|_| StoreError::Failed("the appender has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Failed("the appender dropped the append".into()))?
    }
}

async fn flush(pool: &PgPool, group: Vec<Pending>) {
    let (batches, replies): (Vec<AppendBatch>, Vec<_>) = group.into_iter().map(|p| (p.batch, p.reply)).unzip();
    let result = match pool.acquire().await {
        Ok(mut conn) => append_many(&mut conn, &batches).await,
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(done) => {
            for (reply, a) in replies.into_iter().zip(done) {
                let _ = reply.send(Ok(a));
            }
        }
        Err(e) if replies.len() == 1 => {
            if let Some(reply) = replies.into_iter().next() {
                let _ = reply.send(Err(e));
            }
        }
        Err(e) if e.belongs_to_one_command() => {
            // Find the culprit(s): each command on its own.
            for (reply, b) in replies.into_iter().zip(batches) {
                let r = match pool.acquire().await {
                    Ok(mut conn) => append_many(&mut conn, std::slice::from_ref(&b))
                        .await
                        .and_then(|mut v| {
                            v.pop()
                                .ok_or_else(|| StoreError::Failed("the append returned nothing".into()))
                        }),
                    Err(e) => Err(e.into()),
                };
                let _ = reply.send(r);
            }
        }
        Err(e) => {
            let unavailable = e.is_unavailable();
            let msg = e.to_string();
            for reply in replies {
                let shared = if unavailable {
                    StoreError::Unavailable(msg.clone())
                } else {
                    StoreError::Failed(msg.clone())
                };
                let _ = reply.send(Err(shared));
            }
        }
    }
}
