//! The in-process bus, for one node (`prism serve` with `PRISM_NATS_URL` unset).
//!
//! A broadcast channel of published batches: every subscriber sees every batch, in order,
//! without serialising, signing or a network hop (nothing crosses a trust boundary, so nothing
//! needs a signature). It keeps nothing across restarts and nothing for a consumer that falls
//! more than [`CAPACITY`] batches behind: such a consumer gets a [`Delivery::Gap`] and reads the
//! log, which is what the projector runtime does at start anyway.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use prism_event_store::StoredEvent;
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::{Bus, BusError, Delivery, Subscription};

/// Batches kept for a slow subscriber before it is told it missed some.
pub const CAPACITY: usize = 1024;

struct Published {
    prev: i64,
    events: Vec<StoredEvent>,
}

/// The in-process bus. Clones share one channel.
#[derive(Clone)]
pub struct LocalBus {
    tx: broadcast::Sender<Arc<Published>>,
    presence: broadcast::Sender<crate::presence::Beat>,
}

impl Default for LocalBus {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalBus {
    pub fn new() -> Self {
        Self {
            tx: broadcast::channel(CAPACITY).0,
            presence: broadcast::channel(CAPACITY).0,
        }
    }
}

#[async_trait::async_trait]
impl Bus for LocalBus {
    fn name(&self) -> String {
        "local".into()
    }

    fn durable(&self) -> bool {
        false
    }

    async fn publish(&self, _store: Uuid, prev: i64, events: &[StoredEvent]) -> Result<(), BusError> {
        if events.is_empty() {
            return Ok(());
        }
        // No subscriber is not an error: they catch up from the log when they come.
        let _ = self.tx.send(Arc::new(Published {
            prev,
            events: events.to_vec(),
        }));
        Ok(())
    }

    async fn subscribe(&self, _store: Uuid, _consumer: &str) -> Result<Box<dyn Subscription>, BusError> {
        Ok(Box::new(LocalSubscription {
            rx: self.tx.subscribe(),
            buffered: VecDeque::new(),
        }))
    }

    async fn beat(&self, beat: &crate::presence::Beat) -> Result<(), BusError> {
        let _ = self.presence.send(beat.clone());
        Ok(())
    }

    async fn beats(&self) -> Result<crate::presence::Beats, BusError> {
        // A listener that falls behind skips what it missed (the next beat repeats it).
        let rx = tokio_stream_of(self.presence.subscribe());
        Ok(crate::presence::beats(rx))
    }
}

/// A broadcast receiver as a stream of what it receives (`None` for what it skipped).
fn tokio_stream_of(
    rx: broadcast::Receiver<crate::presence::Beat>,
) -> impl futures::Stream<Item = Option<crate::presence::Beat>> + Send + 'static {
    futures::stream::unfold(rx, |mut rx| async move {
        match rx.recv().await {
            Ok(b) => Some((Some(b), rx)),
            Err(broadcast::error::RecvError::Lagged(_)) => Some((None, rx)),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    })
}

struct LocalSubscription {
    rx: broadcast::Receiver<Arc<Published>>,
    buffered: VecDeque<Delivery>,
}

impl LocalSubscription {
    fn unpack(&mut self, p: &Published) {
        let mut prev = p.prev;
        for e in &p.events {
            self.buffered.push_back(Delivery::Event { prev, event: e.clone() });
            prev = e.global_position;
        }
    }

    /// Takes what the channel already holds, without waiting.
    fn drain(&mut self, max: usize) -> Result<(), BusError> {
        while self.buffered.len() < max {
            match self.rx.try_recv() {
                Ok(p) => self.unpack(&p),
                Err(broadcast::error::TryRecvError::Lagged(_)) => self.buffered.push_back(Delivery::Gap),
                Err(broadcast::error::TryRecvError::Empty) => break,
                Err(broadcast::error::TryRecvError::Closed) => {
                    if self.buffered.is_empty() {
                        return Err(BusError::Unavailable("the local bus is closed".into()));
                    }
                    break;
                }
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Subscription for LocalSubscription {
    async fn next(&mut self, max: usize, idle: Duration) -> Result<Vec<Delivery>, BusError> {
        let max = max.max(1);
        if self.buffered.is_empty() {
            match tokio::time::timeout(idle, self.rx.recv()).await {
                Err(_) => return Ok(Vec::new()),
                Ok(Ok(p)) => self.unpack(&p),
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => self.buffered.push_back(Delivery::Gap),
                Ok(Err(broadcast::error::RecvError::Closed)) => {
                    return Err(BusError::Unavailable("the local bus is closed".into()))
                }
            }
        }
        self.drain(max)?;
        let n = self.buffered.len().min(max);
        Ok(self.buffered.drain(..n).collect())
    }

    async fn ack(&mut self) -> Result<(), BusError> {
        Ok(())
    }
}
