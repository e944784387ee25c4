//! The NATS JetStream bus, for a deployment of many processes (`PRISM_NATS_URL` set).
//!
//! - Subject `<prefix>.events.<tenant|_>.<aggregate_type>.<event_type>` on the stream
//!   `<PREFIX>_EVENTS`, body the stored event as JSON, headers `Nats-Msg-Id` (the event id: a
//!   re-publish after a crash is dropped by the server's duplicate window), `Prism-Store-Id`,
//!   `Prism-Position` and `Prism-Prev-Position` (the continuity proof).
//! - Every message is signed ([`crate::signing`]): `Prism-Key-Id`, `Prism-Signature`. A
//!   consumer turns a message that does not verify into [`Delivery::Gap`], counts it in
//!   `prism_bus_rejected_total` and logs a security warning: it can never be applied, and it
//!   cannot halt a projector either.
//! - An event too large for the server's `max_payload` (the log bounds events well below
//!   NATS's default, but a server may be configured smaller) is published as a *reference*: its
//!   envelope without the payload and `Prism-Payload: reference`; consumers read the event
//!   itself from the log. The stream never stops on one event.
//! - Publishes are pipelined: a batch is sent, then its acks are awaited together.
//! - Each consumer is a durable pull consumer `<prefix>_<name>` that starts with what is
//!   published after it is created (what came before is read from Postgres).
//! - A cluster: `PRISM_NATS_URL` is a server list (`nats://a:4222,nats://b:4222`, `tls://`
//!   with `PRISM_NATS_CA`), and `PRISM_NATS_REPLICAS` copies of the stream and of every durable
//!   consumer, so losing one node of three leaves the bus carrying events (the Postgres fallback
//!   is for losing more). A stream or consumer found with other replicas is scaled to them; if
//!   the servers refuse, the process says why and does not start ([`NatsBus::prepare`]).

use std::path::PathBuf;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy, consumer::DeliverPolicy, stream};
use async_nats::{HeaderMap, ServerAddr};
use futures::{FutureExt, StreamExt};
use prism_event_store::StoredEvent;
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::signing::{BusKeys, NatsAuth, Signed};
use crate::{Bus, BusError, Delivery, Subscription};

/// `Prism-Payload: reference`: the message carries the envelope without its payload; read the
/// event from the log.
pub const REFERENCE: &str = "reference";

#[derive(Debug, Clone)]
pub struct NatsConfig {
    /// `PRISM_NATS_PREFIX`: stream `<PREFIX>_EVENTS`, subjects `<prefix>.events.>`.
    pub prefix: String,
    /// How long the stream keeps events (consumers older than that catch up from Postgres).
    pub max_age: Duration,
    /// Signs what the relay publishes; verifies what consumers receive.
    pub keys: BusKeys,
    /// Credentials for NATS.
    pub auth: NatsAuth,
    /// `PRISM_NATS_REPLICAS`: copies of the stream and of each durable consumer (1 on one
    /// server; 3 in a cluster of three survives the loss of one).
    pub replicas: usize,
    /// `PRISM_NATS_CA`: the certificate authority (PEM) that signed the servers' certificates,
    /// for `tls://` servers that a system root does not vouch for.
    pub ca: Option<PathBuf>,
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            prefix: "prism".into(),
            max_age: Duration::from_secs(7 * 24 * 3600),
            keys: BusKeys::development(),
            auth: NatsAuth::None,
            replicas: 1,
            ca: None,
        }
    }
}

/// The servers of `PRISM_NATS_URL`: one URL, or a comma-separated list as NATS clients take it
/// (`nats://a:4222,nats://b:4222`; `tls://` for TLS). A client connects to whichever answers
/// and moves to another when one goes away (and learns the cluster's other members from the
/// servers themselves).
pub fn servers(list: &str) -> Result<Vec<ServerAddr>, BusError> {
    let servers = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ServerAddr>()
                .map_err(|e| BusError::Settings(format!("PRISM_NATS_URL: {s:?} is not a NATS server URL ({e})")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if servers.is_empty() {
        return Err(BusError::Settings("PRISM_NATS_URL names no server".into()));
    }
    Ok(servers)
}

impl NatsConfig {
    pub fn stream_name(&self) -> String {
        format!("{}_EVENTS", self.prefix.to_uppercase())
    }

    pub fn subject(&self, e: &StoredEvent) -> String {
        let tenant = e.tenant_id.map(|t| t.to_string()).unwrap_or_else(|| "_".into());
        format!("{}.events.{tenant}.{}.{}", self.prefix, e.aggregate_type, e.event_type)
    }

    /// A NATS client with this configuration's credentials, to the first of `url`'s servers that
    /// answers. A server that stops answering (a hung host closes no socket) is noticed by
    /// pings within a few seconds, and the client moves to another.
    pub async fn connect(&self, url: &str) -> Result<async_nats::Client, BusError> {
        let servers = servers(url)?;
        let mut options = self
            .auth
            .options()
            .connection_timeout(Duration::from_secs(2))
            .ping_interval(Duration::from_secs(2));
        if servers.iter().any(|s| s.tls_required()) {
            options = options.require_tls(true);
        }
        if let Some(ca) = &self.ca {
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        options.connect(servers).await.map_err(unavailable)
    }

    fn consumer_config(&self, durable: &str) -> pull::Config {
        pull::Config {
            durable_name: Some(durable.to_owned()),
            // What came before the consumer existed is read from Postgres.
            deliver_policy: DeliverPolicy::New,
            ack_policy: AckPolicy::Explicit,
            max_ack_pending: 20_000,
            num_replicas: self.replicas,
            // Each process has consumers of its own (`<projection>_<node>`): one whose node is
            // gone for good is dropped by the server after a week. A node back after that gets
            // a new one and reads what it missed from Postgres.
            inactive_threshold: Duration::from_secs(7 * 24 * 3600),
            ..Default::default()
        }
    }
}

fn unavailable(e: impl std::fmt::Display) -> BusError {
    BusError::Unavailable(e.to_string())
}

/// Creates the stream, or updates its settings (its replicas among them). A server that refuses
/// the settings (more replicas than servers, a change it cannot make) is [`BusError::Settings`]:
/// a process must not run on a bus that is not what it was configured to be.
pub async fn ensure_stream(js: &jetstream::Context, cfg: &NatsConfig) -> Result<stream::Stream, BusError> {
    let config = stream::Config {
        name: cfg.stream_name(),
        subjects: vec![format!("{}.events.>", cfg.prefix)],
        storage: stream::StorageType::File,
        duplicate_window: Duration::from_secs(120),
        max_age: cfg.max_age,
        num_replicas: cfg.replicas,
        ..Default::default()
    };
    let refused = |what: &str, e: &dyn std::fmt::Display| {
        BusError::Settings(format!(
            "the events stream {} with {} replicas (PRISM_NATS_REPLICAS): {what}: {e}",
            config.name, cfg.replicas
        ))
    };
    match js.get_stream(&config.name).await {
        Ok(mut existing) => {
            let current = existing.info().await.map_err(unavailable)?.config.clone();
            let same = current.num_replicas.max(1) == cfg.replicas
                && current.max_age == config.max_age
                && current.subjects == config.subjects
                && current.duplicate_window == config.duplicate_window;
            if !same {
                js.update_stream(&config).await.map_err(|e| {
                    refused(
                        &format!("the server refused to update it from {} replicas", current.num_replicas),
                        &e,
                    )
                })?;
                tracing::info!(stream = %config.name, replicas = cfg.replicas, was = current.num_replicas, "events stream updated");
            }
        }
        Err(_) => {
            js.create_stream(config.clone()).await.map_err(|e| match e.kind() {
                jetstream::context::CreateStreamErrorKind::JetStreamUnavailable
                | jetstream::context::CreateStreamErrorKind::TimedOut => unavailable(e),
                _ => refused("the server refused to create it", &e),
            })?;
        }
    }
    js.get_stream(&config.name).await.map_err(unavailable)
}

/// Makes the durable consumer `durable` with `cfg`'s settings, or scales an existing one to its
/// replicas.
async fn ensure_consumer(
    stream: &stream::Stream,
    cfg: &NatsConfig,
    durable: &str,
) -> Result<jetstream::consumer::Consumer<pull::Config>, BusError> {
    let config = cfg.consumer_config(durable);
    match stream.get_consumer::<pull::Config>(durable).await {
        Ok(mut existing) => {
            let replicas = existing.info().await.map_err(unavailable)?.config.num_replicas.max(1);
            if replicas == cfg.replicas {
                return Ok(existing);
            }
            stream.create_consumer(config).await.map_err(|e| {
                BusError::Settings(format!(
                    "the consumer {durable} has {replicas} replicas, PRISM_NATS_REPLICAS asks {}: {e}",
                    cfg.replicas
                ))
            })?;
            tracing::info!(
                consumer = durable,
                replicas = cfg.replicas,
                was = replicas,
                "bus consumer updated"
            );
            stream.get_consumer(durable).await.map_err(unavailable)
        }
        Err(_) => stream.create_consumer(config).await.map_err(unavailable),
    }
}

/// The JetStream bus. Publishing shares one connection (made on first use, made again after an
/// error); each subscription has its own.
pub struct NatsBus {
    url: String,
    cfg: NatsConfig,
    publisher: Mutex<Option<Publisher>>,
    /// Plain NATS (no JetStream) for presence beats, made on first use.
    core: Mutex<Option<async_nats::Client>>,
}

#[derive(Clone)]
struct Publisher {
    js: jetstream::Context,
    /// The largest body the server takes, with room for the headers.
    max_body: usize,
}

impl NatsBus {
    /// `<prefix>.presence`: core NATS, outside the events' stream.
    fn presence_subject(&self) -> String {
        format!("{}.presence", self.cfg.prefix)
    }

    pub fn new(url: impl Into<String>, cfg: NatsConfig) -> Self {
        Self {
            url: url.into(),
            cfg,
            publisher: Mutex::new(None),
            core: Mutex::new(None),
        }
    }

    pub fn config(&self) -> &NatsConfig {
        &self.cfg
    }

    /// Checks, at start, that the stream can have the configured settings: a
    /// [`BusError::Settings`] means the process must not start (it says why). A bus that cannot
    /// be reached is no reason not to start: Postgres is the truth, and the fallback reads it.
    pub async fn prepare(&self) -> Result<(), BusError> {
        match self.publisher().await {
            Ok(_) => Ok(()),
            Err(e @ BusError::Settings(_)) => Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "the bus is not reachable at start; the projectors read Postgres until it is");
                Ok(())
            }
        }
    }

    async fn publisher(&self) -> Result<Publisher, BusError> {
        let mut p = self.publisher.lock().await;
        if let Some(p) = p.as_ref() {
            return Ok(p.clone());
        }
        let client = self.cfg.connect(&self.url).await?;
        let max_body = client.server_info().max_payload.saturating_sub(4096);
        // A publish acknowledgement takes milliseconds from a healthy stream; while a stream
        // elects a new leader none comes. Two seconds (not NATS's five) before the relay gives
        // up and tries again: the consumers follow the log meanwhile.
        let js = jetstream::context::ContextBuilder::new()
            .timeout(Duration::from_secs(2))
            .build(client);
        ensure_stream(&js, &self.cfg).await?;
        let made = Publisher { js, max_body };
        *p = Some(made.clone());
        Ok(made)
    }

    async fn publish_with(
        &self,
        p: &Publisher,
        store: Uuid,
        mut prev: i64,
        events: &[StoredEvent],
    ) -> Result<(), BusError> {
        let store_id = store.to_string();
        let mut acks = Vec::with_capacity(events.len());
        for e in events {
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", e.event_id.to_string().as_str());
            headers.insert("Prism-Store-Id", store_id.as_str());
            headers.insert("Prism-Position", e.global_position.to_string().as_str());
            headers.insert("Prism-Prev-Position", prev.to_string().as_str());
            let json = |e: &StoredEvent| serde_json::to_vec(e).map_err(|e| BusError::Store(e.into()));
            let mut body = json(e)?;
            let reference = body.len() > p.max_body;
            if reference {
                let mut envelope = e.clone();
                envelope.payload = serde_json::Value::Null;
                body = json(&envelope)?;
                headers.insert("Prism-Payload", REFERENCE);
                metrics::counter!("prism_relay_references_total").increment(1);
                tracing::info!(
                    position = e.global_position,
                    bytes = body.len(),
                    "event over the bus's max payload: published as a reference"
                );
            }
            headers.insert("Prism-Key-Id", self.cfg.keys.key_id());
            let signature = self.cfg.keys.sign(&Signed {
                store,
                position: e.global_position,
                prev,
                reference,
                body: &body,
            });
            headers.insert("Prism-Signature", signature.as_str());
            let ack =
                p.js.publish_with_headers(self.cfg.subject(e), headers, body.into())
                    .await
                    .map_err(unavailable)?;
            acks.push(ack);
            prev = e.global_position;
        }
        for ack in acks {
            ack.await.map_err(unavailable)?;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Bus for NatsBus {
    fn name(&self) -> String {
        // Also the relay's checkpoint row (`relay:<prefix>`), as before there were two buses.
        self.cfg.prefix.clone()
    }

    fn durable(&self) -> bool {
        true
    }

    async fn publish(&self, store: Uuid, prev: i64, events: &[StoredEvent]) -> Result<(), BusError> {
        let p = self.publisher().await?;
        let result = self.publish_with(&p, store, prev, events).await;
        if result.is_err() {
            // Connect again next time rather than trust a connection that just failed.
            *self.publisher.lock().await = None;
        }
        result
    }

    async fn beat(&self, beat: &crate::presence::Beat) -> Result<(), BusError> {
        let client = {
            let mut core = self.core.lock().await;
            match core.as_ref() {
                Some(c) => c.clone(),
                None => {
                    let c = self.cfg.connect(&self.url).await?;
                    *core = Some(c.clone());
                    c
                }
            }
        };
        let body = serde_json::to_vec(beat).map_err(|e| BusError::Unavailable(e.to_string()))?;
        let (key_id, signature) = crate::presence::sign(&self.cfg.keys, &body);
        let mut headers = HeaderMap::new();
        headers.insert("Prism-Key-Id", key_id.as_str());
        headers.insert("Prism-Signature", signature.as_str());
        client
            .publish_with_headers(self.presence_subject(), headers, body.into())
            .await
            .map_err(|e| BusError::Unavailable(e.to_string()))
    }

    async fn beats(&self) -> Result<crate::presence::Beats, BusError> {
        let client = self.cfg.connect(&self.url).await?;
        let sub = client
            .subscribe(self.presence_subject())
            .await
            .map_err(|e| BusError::Unavailable(e.to_string()))?;
        let keys = self.cfg.keys.clone();
        let verified = sub.map(move |m| {
            let header = |n: &str| m.headers.as_ref().and_then(|h| h.get(n)).map(|v| v.as_str().to_owned());
            let ok = match (header("Prism-Key-Id"), header("Prism-Signature")) {
                (Some(id), Some(sig)) => crate::presence::verify(&keys, &id, &sig, &m.payload),
                _ => false,
            };
            if !ok {
                metrics::counter!("prism_bus_rejected_total").increment(1);
                tracing::warn!(subject = %m.subject, "presence beat without a valid signature dropped");
                return None;
            }
            crate::presence::Beat::parse(&m.payload)
        });
        // The client lives as long as the stream.
        let kept = verified.map(move |b| {
            let _ = &client;
            b
        });
        Ok(crate::presence::beats(kept))
    }

    async fn subscribe(&self, store: Uuid, consumer: &str) -> Result<Box<dyn Subscription>, BusError> {
        let client = self.cfg.connect(&self.url).await?;
        // A second per request (not NATS's five): while a consumer elects a new leader its
        // requests go unanswered, and the projector (following the log meanwhile) should try
        // again soon after one is elected rather than wait out a request sent before.
        let js = jetstream::context::ContextBuilder::new()
            .timeout(Duration::from_secs(1))
            .build(client);
        // The relay owns the stream's settings; a consumer only creates it when it comes first
        // (its NATS account may be allowed to read streams, not to change them).
        let stream = match js.get_stream(self.cfg.stream_name()).await {
            Ok(s) => s,
            Err(_) => ensure_stream(&js, &self.cfg).await?,
        };
        // A durable name may not hold `.`, `*`, `>` or spaces; a node id (a host name) may.
        let consumer: String = consumer
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let durable = format!("{}_{consumer}", self.cfg.prefix);
        let pull = ensure_consumer(&stream, &self.cfg, &durable).await?;
        // Heartbeats every second: a consumer whose server died (or lost the stream's
        // leadership) hears nothing at all, and the default (15 s, an error after two missed)
        // left a projector on the Postgres fallback for half a minute after a node was killed.
        let messages = pull
            .stream()
            .expires(Duration::from_secs(5))
            .heartbeat(Duration::from_secs(1))
            .messages()
            .await
            .map_err(unavailable)?;
        Ok(Box::new(NatsSubscription {
            messages,
            unacked: Vec::new(),
            keys: self.cfg.keys.clone(),
            store,
            consumer,
        }))
    }
}

struct NatsSubscription {
    messages: pull::Stream,
    unacked: Vec<jetstream::Message>,
    keys: BusKeys,
    store: Uuid,
    consumer: String,
}

impl NatsSubscription {
    /// What a message proves. Nothing from the bus is trusted: the signature first (an
    /// unsigned message is noise, whatever store it names: it must not be able to halt a
    /// consumer as "another store's"), then the claims it signs.
    fn delivery(&self, m: &jetstream::Message) -> Result<Delivery, BusError> {
        let header = |k: &str| m.headers.as_ref().and_then(|h| h.get(k)).map(|v| v.as_str().to_owned());
        let number = |k: &str| header(k).and_then(|v| v.parse::<i64>().ok()).unwrap_or(-1);
        let (position, prev) = (number("Prism-Position"), number("Prism-Prev-Position"));
        let reference = header("Prism-Payload").as_deref() == Some(REFERENCE);
        let signed = self.keys.verify(
            &header("Prism-Key-Id").unwrap_or_default(),
            &header("Prism-Signature").unwrap_or_default(),
            &Signed {
                store: self.store,
                position,
                prev,
                reference,
                body: &m.payload,
            },
        );
        if !signed {
            metrics::counter!("prism_bus_rejected_total", "projection" => self.consumer.clone()).increment(1);
            tracing::warn!(
                security = true,
                consumer = %self.consumer,
                subject = %m.subject,
                position,
                "a bus message failed signature verification; ignored, reading the log instead"
            );
            return Ok(Delivery::Gap);
        }
        let store = self.store.to_string();
        if header("Prism-Store-Id").as_deref() != Some(store.as_str()) {
            return Err(BusError::ForeignStore(header("Prism-Store-Id").unwrap_or_default()));
        }
        if reference {
            return Ok(Delivery::Reference { prev, position });
        }
        match serde_json::from_slice::<StoredEvent>(&m.payload) {
            Ok(event) if event.global_position == position => Ok(Delivery::Event { prev, event }),
            // Signed, yet not an event at its position: the log has the real one.
            Ok(_) | Err(_) => {
                tracing::warn!(consumer = %self.consumer, position, "a signed bus message is not the event it names; reading the log");
                Ok(Delivery::Gap)
            }
        }
    }
}

#[async_trait::async_trait]
impl Subscription for NatsSubscription {
    async fn next(&mut self, max: usize, idle: Duration) -> Result<Vec<Delivery>, BusError> {
        let first = match tokio::time::timeout(idle, self.messages.next()).await {
            Err(_) => return Ok(Vec::new()),
            Ok(None) => return Err(BusError::Unavailable("the consumer stopped".into())),
            Ok(Some(Err(e))) => return Err(unavailable(e)),
            Ok(Some(Ok(m))) => m,
        };
        let mut batch = vec![first];
        while batch.len() < max {
            match self.messages.next().now_or_never() {
                Some(Some(Ok(m))) => batch.push(m),
                _ => break,
            }
        }
        let mut out = Vec::with_capacity(batch.len());
        for m in &batch {
            out.push(self.delivery(m)?);
        }
        self.unacked.extend(batch);
        Ok(out)
    }

    async fn ack(&mut self) -> Result<(), BusError> {
        for m in self.unacked.drain(..) {
            m.ack().await.map_err(unavailable)?;
        }
        Ok(())
    }
}
