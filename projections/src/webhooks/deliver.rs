//! The delivery worker: due deliveries → signed POSTs, at most one in flight per endpoint —
//! across processes too. A claim leases each endpoint's line (`webhook_endpoints.line_holder`,
//! `line_until`) to this worker: another worker, in this process or any other, takes no
//! delivery of that endpoint until the line is given back (or its lease runs out, if the worker
//! died). Deliveries alone cannot say this: a second worker would claim the next ones of a line
//! while the first is still sending its head, out of order and two at a time.
//!
//! Fair to tenants: one workspace's endpoints hold at most [`WebhookConfig::per_tenant`] of the
//! node's slots, and a claim takes endpoints round-robin across workspaces, so one tenant's slow
//! or many receivers cannot hold up another's. A receiver that answers, but slowly (past
//! [`WebhookConfig::slow`]), pays for it: each slow answer in a row doubles the wait before its
//! next delivery (up to [`WebhookConfig::slow_backoff`]), its line shrinks to one delivery per
//! claim, and a write node disables an endpoint that stays slow (`webhook.disabled`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use prism_domain::net::private_address;
use prism_domain::WorkspaceId;
use prism_event_store::PgEventStore;
use prism_vault::{Scope, Vault};
use sha2::Sha256;
use tokio::sync::watch;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::AUDIENCE;
use crate::visibility::Facts;
use crate::ProjectionError;

/// How deliveries are made.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Whether private, loopback and link-local targets may be reached
    /// (`PRISM_WEBHOOK_ALLOW_PRIVATE=1`).
    pub allow_private: bool,
    /// How long a receiver has to answer.
    pub timeout: Duration,
    /// The waits between attempts (each stretched or shrunk by up to a tenth, at random): one
    /// attempt more than waits, then the delivery is dead.
    pub schedule: Vec<Duration>,
    /// Deliveries in flight at once (each to a different endpoint).
    pub concurrency: usize,
    /// Of those, how many one workspace's endpoints may hold: half by default, so another
    /// tenant always finds the other half (a workspace has at most 20 endpoints anyway).
    pub per_tenant: usize,
    /// An answer slower than this, even a 2xx, counts against its endpoint.
    pub slow: Duration,
    /// The longest wait a slow endpoint is put back by (the wait doubles per slow answer in a
    /// row, from a second).
    pub slow_backoff: Duration,
}

impl Default for WebhookConfig {
    /// The Standard Webhooks schedule: at once, then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h
    /// and 10 h — about a day in all.
    fn default() -> Self {
        let s = Duration::from_secs;
        Self {
            allow_private: false,
            timeout: s(10),
            schedule: vec![s(5), s(300), s(1800), s(7200), s(18000), s(36000), s(36000)],
            concurrency: 32,
            per_tenant: 16,
            slow: s(3),
            slow_backoff: s(60),
        }
    }
}

/// One claimed delivery.
/// How many of one endpoint's deliveries a claim takes at most (sent one after the other).
const LINE: usize = 16;

/// Where an endpoint's deliveries go, and the key they are signed with.
struct Endpoint {
    url: String,
    key: Vec<u8>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct Claimed {
    delivery_id: Uuid,
    webhook_id: Uuid,
    workspace_id: Uuid,
    /// The endpoint's slow answers in a row when claimed.
    slow_in_a_row: i32,
    event_id: Uuid,
    position: i64,
    attempts: i32,
}

/// How an attempt went.
enum Attempt {
    Delivered(u16),
    Failed {
        status: Option<u16>,
        error: String,
    },
    /// It can never succeed (the endpoint is gone, the event not to be shown): dead at once.
    Dropped(String),
}

#[derive(Clone)]
pub struct WebhookDeliverer {
    store: PgEventStore,
    vault: Vault,
    client: reqwest::Client,
    cfg: Arc<WebhookConfig>,
    /// Whose lines this worker's are (`webhook_endpoints.line_holder`).
    holder: Uuid,
}

/// Resolves names only to addresses a webhook may reach: a name that points inside the network
/// is refused at the moment of connecting (no DNS-rebinding window between check and use).
struct GuardedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow_private;
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let ok: Vec<SocketAddr> = found.filter(|a| allow || !private_address(a.ip())).collect();
            if ok.is_empty() {
                return Err("the host resolves only to private, loopback or link-local addresses".into());
            }
            Ok(Box::new(ok.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

impl WebhookDeliverer {
    pub fn new(store: PgEventStore, vault: Vault, cfg: WebhookConfig) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout)
            // A redirect could point anywhere: a receiver answers where it was asked.
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private: cfg.allow_private,
            }))
            .user_agent("Prism-Webhooks/1")
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            store,
            vault,
            client,
            cfg: Arc::new(cfg),
            holder: Uuid::now_v7(),
        })
    }

    /// Claims the due deliveries of up to `room` endpoints (none of `busy`'s): each endpoint's
    /// first [`LINE`] due ones in log order (one for an endpoint that is being slow), leased for
    /// as long as sending them all may take (a worker that dies mid-way leaves them to be tried
    /// again after the lease). Endpoints are taken round-robin across workspaces, and none of a
    /// workspace that already holds its share (`busy` counts what each holds). Answers them
    /// grouped by endpoint, in order.
    ///
    /// Measured before this shape: one delivery per endpoint per claim, picked by `DISTINCT ON`
    /// over every pending row — a sort of all of them per claim (7 ms at 9,600 pending), once
    /// per delivery. Now each endpoint's line is an index range (`webhook_deliveries_line`) and
    /// one claim serves many deliveries (1 ms for 512).
    async fn claim(&self, busy: &HashMap<Uuid, Uuid>, room: usize) -> Result<Vec<Vec<Claimed>>, ProjectionError> {
        if room == 0 {
            return Ok(Vec::new());
        }
        let endpoints: Vec<Uuid> = busy.keys().copied().collect();
        let mut held: HashMap<Uuid, i32> = HashMap::new();
        for ws in busy.values() {
            *held.entry(*ws).or_default() += 1;
        }
        let (held_ws, held_n): (Vec<Uuid>, Vec<i32>) = held.into_iter().unzip();
        let lease = self.cfg.timeout.as_secs_f64() * LINE as f64 + 30.0;
        let rows: Vec<Claimed> = sqlx::query_as(
            "WITH held AS (SELECT * FROM unnest($5::uuid[], $6::int[]) AS h(workspace_id, n)),
             due AS (
                 SELECT e.webhook_id, e.workspace_id, e.slow_in_a_row,
                        row_number() OVER (PARTITION BY e.workspace_id ORDER BY e.slow_in_a_row, e.webhook_id) AS turn
                   FROM webhook_endpoints e
                  WHERE NOT (e.webhook_id = ANY($1))
                    AND (e.line_until IS NULL OR e.line_until < now())
                    AND EXISTS (SELECT 1 FROM webhook_deliveries d
                                 WHERE d.webhook_id = e.webhook_id AND d.status = 'pending' AND d.next_attempt_at <= now())),
             lines AS (
                 SELECT due.webhook_id, due.workspace_id, due.slow_in_a_row FROM due LEFT JOIN held USING (workspace_id)
                  WHERE due.turn + coalesce(held.n, 0) <= $7
                  ORDER BY due.turn, due.slow_in_a_row, due.webhook_id
                  LIMIT $2),
             -- The line is this worker's until it gives it back: a concurrent claim of the same
             -- endpoint waits for this row and, seeing it leased, skips it.
             leased AS (
                 UPDATE webhook_endpoints e SET line_holder = $8, line_until = now() + make_interval(secs => $3)
                   FROM lines l
                  WHERE e.webhook_id = l.webhook_id AND (e.line_until IS NULL OR e.line_until < now())
                 RETURNING e.webhook_id, e.workspace_id, l.slow_in_a_row),
             picked AS (
                 SELECT x.delivery_id, l.workspace_id, l.slow_in_a_row FROM leased l CROSS JOIN LATERAL (
                     SELECT d.delivery_id FROM webhook_deliveries d
                      WHERE d.webhook_id = l.webhook_id AND d.status = 'pending' AND d.next_attempt_at <= now()
                      ORDER BY d.position LIMIT CASE WHEN l.slow_in_a_row > 0 THEN 1 ELSE $4 END
                      FOR UPDATE SKIP LOCKED) x)
             UPDATE webhook_deliveries d SET next_attempt_at = now() + make_interval(secs => $3)
               FROM picked WHERE d.delivery_id = picked.delivery_id
             RETURNING d.delivery_id, d.webhook_id, picked.workspace_id, picked.slow_in_a_row, d.event_id, d.position,
                       d.attempts",
        )
        .bind(&endpoints)
        .bind(room as i64)
        .bind(lease)
        .bind(LINE as i64)
        .bind(&held_ws)
        .bind(&held_n)
        .bind(self.cfg.per_tenant.max(1) as i64)
        .bind(self.holder)
        .fetch_all(self.store.pool())
        .await?;
        let mut lines: std::collections::BTreeMap<Uuid, Vec<Claimed>> = Default::default();
        for c in rows {
            lines.entry(c.webhook_id).or_default().push(c);
        }
        Ok(lines
            .into_values()
            .map(|mut l| {
                l.sort_by_key(|c| c.position);
                l
            })
            .collect())
    }

    /// The endpoint's address and signing key, if it is there to be sent to.
    async fn endpoint(&self, webhook: Uuid) -> Result<Result<Endpoint, String>, ProjectionError> {
        let endpoint: Option<(Uuid, String, String, bool)> = sqlx::query_as(
            "SELECT workspace_id, url, secret, enabled AND NOT deleted FROM webhook_endpoints WHERE webhook_id = $1",
        )
        .bind(webhook)
        .fetch_optional(self.store.pool())
        .await?;
        let Some((ws, url, sealed, live)) = endpoint else {
            return Ok(Err("the endpoint is gone".into()));
        };
        if !live {
            return Ok(Err("the endpoint is disabled".into()));
        }
        let secret = self
            .vault
            .opener(Scope::workspace(WorkspaceId(ws), webhook))
            .await
            .and_then(|o| o.open(&sealed))
            .map_err(|e| ProjectionError::Internal(e.to_string()))?;
        let Some(key) = secret
            .strip_prefix("whsec_")
            .and_then(|k| base64::engine::general_purpose::STANDARD.decode(k).ok())
        else {
            return Ok(Err("the endpoint's secret cannot be read".into()));
        };
        // Literal addresses never meet the resolver: checked here.
        if !self.cfg.allow_private {
            let host = url::Url::parse(&url).ok().and_then(|u| match u.host() {
                Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
                Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
                _ => None,
            });
            if host.is_some_and(private_address) {
                return Ok(Err("private, loopback and link-local targets are refused".into()));
            }
        }
        Ok(Ok(Endpoint { url, key }))
    }

    /// Signs and sends one delivery to `to`.
    async fn attempt(&self, c: &Claimed, to: &Endpoint) -> Result<Attempt, ProjectionError> {
        let events = self.store.read_all(c.position - 1, 1).await?;
        let Some(event) = events.into_iter().find(|e| e.event_id == c.event_id) else {
            return Ok(Attempt::Dropped("the event is not in the log".into()));
        };
        // Shown as to a plain member, decided again from the log as it is now, with the text
        // rules of a replay: a retry or a replayed dead letter carries a message's body only
        // while it is still the current text (what REST shows now), never one edited or deleted
        // since.
        let facts = Facts::gather(self.store.pool(), std::slice::from_ref(&event), true, &Facts::default()).await?;
        let Some(shown) = facts.show(&event, &AUDIENCE).apply(&event) else {
            return Ok(Attempt::Dropped("not to be shown to an integration".into()));
        };
        let body = serde_json::to_vec(&shown).map_err(|e| ProjectionError::Internal(e.to_string()))?;
        let id = c.event_id.to_string();
        let timestamp = chrono::Utc::now().timestamp();
        let signature = sign(&to.key, &id, timestamp, &body);
        let sent = self
            .client
            .post(&to.url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        Ok(match sent {
            Ok(r) if r.status().is_success() => Attempt::Delivered(r.status().as_u16()),
            Ok(r) => Attempt::Failed {
                status: Some(r.status().as_u16()),
                error: format!("answered {}", r.status()),
            },
            Err(e) => Attempt::Failed {
                status: None,
                error: brief(&e),
            },
        })
    }

    /// Records how an attempt went: delivered; or failed, then waiting for the next attempt
    /// on the schedule, or dead after the last.
    async fn settle(&self, c: &Claimed, outcome: Attempt) -> Result<(), ProjectionError> {
        let attempts = c.attempts + 1;
        let pool = self.store.pool();
        match outcome {
            Attempt::Delivered(status) => {
                sqlx::query(
                    "UPDATE webhook_deliveries SET status = 'delivered', attempts = $2, last_status = $3,
                            last_error = NULL, delivered_at = now() WHERE delivery_id = $1",
                )
                .bind(c.delivery_id)
                .bind(attempts)
                .bind(i32::from(status))
                .execute(pool)
                .await?;
            }
            Attempt::Dropped(why) => {
                sqlx::query(
                    "UPDATE webhook_deliveries SET status = 'dead', attempts = $2, last_error = $3 WHERE delivery_id = $1",
                )
                .bind(c.delivery_id)
                .bind(attempts)
                .bind(why)
                .execute(pool)
                .await?;
            }
            Attempt::Failed { status, error } => {
                let wait = self.cfg.schedule.get(c.attempts.max(0) as usize).copied();
                let (state, wait) = match wait {
                    Some(w) => ("pending", jitter(w)),
                    None => ("dead", Duration::ZERO),
                };
                sqlx::query(
                    "UPDATE webhook_deliveries SET status = $2, attempts = $3, last_status = $4, last_error = $5,
                            next_attempt_at = now() + make_interval(secs => $6) WHERE delivery_id = $1",
                )
                .bind(c.delivery_id)
                .bind(state)
                .bind(attempts)
                .bind(status.map(i32::from))
                .bind(error)
                .bind(wait.as_secs_f64())
                .execute(pool)
                .await?;
            }
        }
        Ok(())
    }

    /// One endpoint's claimed line, in order, one at a time. A failure stops the line: the
    /// rest are due again at once (their turn comes without waiting for the failed one's retry,
    /// as before the line was claimed together), and a receiver that is down costs one timeout
    /// per claim, not one per delivery. A slow answer stops it too, and puts the rest back by
    /// the endpoint's penalty ([`WebhookDeliverer::slowness`]).
    async fn line(&self, line: Vec<Claimed>) -> Result<(), ProjectionError> {
        let Some(webhook) = line.first().map(|c| c.webhook_id) else {
            return Ok(());
        };
        let sent = self.send_line(&line).await;
        // Given back however the line ended (an error leaves its deliveries to their leases).
        sqlx::query("UPDATE webhook_endpoints SET line_until = NULL WHERE webhook_id = $1 AND line_holder = $2")
            .bind(webhook)
            .bind(self.holder)
            .execute(self.store.pool())
            .await?;
        sent
    }

    async fn send_line(&self, line: &[Claimed]) -> Result<(), ProjectionError> {
        let Some(first) = line.first() else { return Ok(()) };
        let endpoint = self.endpoint(first.webhook_id).await?;
        let mut slow_in_a_row = first.slow_in_a_row;
        for (i, c) in line.iter().enumerate() {
            let started = std::time::Instant::now();
            let outcome = match &endpoint {
                Ok(to) => self.attempt(c, to).await?,
                Err(why) => Attempt::Dropped(why.clone()),
            };
            let answered = !matches!(outcome, Attempt::Dropped(_) | Attempt::Failed { status: None, .. });
            let failed = matches!(outcome, Attempt::Failed { .. });
            self.settle(c, outcome).await?;
            let took = started.elapsed();
            let wait = match answered {
                // Quick, and it was not being slow: nothing to record (no query on the fast path).
                true if took < self.cfg.slow && slow_in_a_row == 0 => None,
                true => self.slowness(c.webhook_id, took).await?,
                false => None,
            };
            if answered && took < self.cfg.slow {
                slow_in_a_row = 0;
            }
            if failed || wait.is_some() {
                let rest: Vec<Uuid> = line[i + 1..].iter().map(|c| c.delivery_id).collect();
                sqlx::query(
                    "UPDATE webhook_deliveries SET next_attempt_at = now() + make_interval(secs => $2)
                      WHERE delivery_id = ANY($1) AND status = 'pending'",
                )
                .bind(&rest)
                .bind(wait.unwrap_or_default().as_secs_f64())
                .execute(self.store.pool())
                .await?;
                break;
            }
        }
        Ok(())
    }

    /// Counts an answer that took `took` against `webhook`: a slow one (past `slow`) adds to its
    /// slow answers in a row and puts its pending deliveries back by 2^(n-1) seconds, at most
    /// `slow_backoff` (answered: that wait); a quick one clears the count.
    async fn slowness(&self, webhook: Uuid, took: Duration) -> Result<Option<Duration>, ProjectionError> {
        let pool = self.store.pool();
        if took < self.cfg.slow {
            sqlx::query("UPDATE webhook_endpoints SET slow_in_a_row = 0 WHERE webhook_id = $1 AND slow_in_a_row <> 0")
                .bind(webhook)
                .execute(pool)
                .await?;
            return Ok(None);
        }
        let n: i32 = sqlx::query_scalar(
            "UPDATE webhook_endpoints SET slow_in_a_row = slow_in_a_row + 1 WHERE webhook_id = $1 RETURNING slow_in_a_row",
        )
        .bind(webhook)
        .fetch_optional(pool)
        .await?
        .unwrap_or(1);
        let doubling = Duration::from_secs(1u64 << (n.clamp(1, 16) - 1));
        let wait = doubling.min(self.cfg.slow_backoff);
        sqlx::query(
            "UPDATE webhook_deliveries SET next_attempt_at = greatest(next_attempt_at, now() + make_interval(secs => $2))
              WHERE webhook_id = $1 AND status = 'pending'",
        )
        .bind(webhook)
        .bind(wait.as_secs_f64())
        .execute(pool)
        .await?;
        Ok(Some(wait))
    }

    /// One round: every due delivery (one per endpoint), sent concurrently; answers how many
    /// were settled. (`run` keeps going without rounds; tests step with this.)
    pub async fn deliver_due(&self) -> Result<usize, ProjectionError> {
        let claimed = self.claim(&HashMap::new(), self.cfg.concurrency).await?;
        let n = claimed.iter().map(Vec::len).sum();
        let mut set = JoinSet::new();
        for line in claimed {
            let me = self.clone();
            set.spawn(async move { me.line(line).await });
        }
        while let Some(done) = set.join_next().await {
            done.map_err(|e| ProjectionError::Internal(e.to_string()))??;
        }
        Ok(n)
    }

    /// Delivers until `shutdown`: as soon as an endpoint's delivery settles its next due one
    /// goes, so a slow endpoint holds only its own line. Looks for new work every `every`.
    pub async fn run(self, every: Duration, mut shutdown: watch::Receiver<bool>) {
        let mut set: JoinSet<(Uuid, Result<(), ProjectionError>)> = JoinSet::new();
        // Endpoint → its workspace, for every line in flight.
        let mut busy: HashMap<Uuid, Uuid> = HashMap::new();
        loop {
            let room = self.cfg.concurrency.saturating_sub(busy.len());
            match self.claim(&busy, room).await {
                Ok(claimed) => {
                    for line in claimed {
                        let Some((endpoint, ws)) = line.first().map(|c| (c.webhook_id, c.workspace_id)) else {
                            continue;
                        };
                        busy.insert(endpoint, ws);
                        let me = self.clone();
                        set.spawn(async move { (endpoint, me.line(line).await) });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "claiming webhook deliveries failed"),
            }
            tokio::select! {
                Some(done) = set.join_next(), if !set.is_empty() => {
                    if let Ok((endpoint, result)) = done {
                        busy.remove(&endpoint);
                        if let Err(e) = result {
                            tracing::warn!(error = %e, "a webhook delivery failed to settle");
                        }
                    }
                }
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body` under the secret's bytes.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| {
        // HMAC takes keys of any length; this cannot fail.
        <Hmac<Sha256> as Mac>::new_from_slice(&[0u8; 32]).expect("a 32-byte key")
    });
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// `wait`, stretched or shrunk by up to a tenth.
fn jitter(wait: Duration) -> Duration {
    let f = 0.9 + rand::random::<f64>() * 0.2;
    wait.mul_f64(f)
}

/// What is kept of a failure: its kind, never the body of an answer.
fn brief(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        "request failed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_webhooks_example_signs_as_published() {
        // From the Standard Webhooks specification's test vectors.
        let key = base64::engine::general_purpose::STANDARD
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .expect("key");
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }
}
