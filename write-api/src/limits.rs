//! Rate limits (governor's GCRA, in memory per node): per client address and per account on
//! the routes an attacker hammers (login, register, refresh, join), per session on every
//! command. Past a limit the answer is 429 `rate_limited` with `Retry-After`.
//!
//! Configured with `PRISM_RATE_LIMITS`, e.g. `login_ip=20/60,commands_session=50/1`: N
//! requests per S seconds (a burst of N, refilled evenly). Failed logins are also counted
//! across nodes, per account, in Postgres (`prism_commands::auth::login`): that is the lockout;
//! these limits are each node's first line.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::error::ApiError;

/// What is limited, and by which key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    LoginIp,
    LoginAccount,
    RegisterIp,
    RefreshIp,
    JoinIp,
    JoinAccount,
    CommandsSession,
    /// Password-reset requests and confirmations from one address.
    ResetIp,
    /// Password-reset mails to one account (no one can bury an inbox in links).
    ResetAccount,
    /// Invitations (mail to any address) one user sends.
    InviteUser,
    /// Email-verification attempts from one address.
    VerifyIp,
    /// Requests with one API key, on either API (enforced by `prism_auth::ApiKeys`).
    ApiKey,
    /// Registrations from one address that found the email taken (the one answer that tells an
    /// address has an account): past it, that address may not register at all for the window,
    /// so the answer stops telling anything ([`Limits::strike`]).
    RegisterTakenIp,
}

impl Limit {
    const ALL: [(Limit, &'static str, u32, u64); 13] = [
        (Limit::LoginIp, "login_ip", 30, 60),
        (Limit::LoginAccount, "login_account", 10, 60),
        (Limit::RegisterIp, "register_ip", 20, 60),
        (Limit::RefreshIp, "refresh_ip", 60, 60),
        (Limit::JoinIp, "join_ip", 30, 60),
        (Limit::JoinAccount, "join_account", 10, 60),
        (Limit::CommandsSession, "commands_session", 100, 1),
        (Limit::ResetIp, "reset_ip", 10, 60),
        (Limit::ResetAccount, "reset_account", 5, 3600),
        (Limit::InviteUser, "invite_user", 30, 3600),
        (Limit::VerifyIp, "verify_ip", 30, 60),
        (Limit::RegisterTakenIp, "register_taken_ip", 5, 3600),
        (
            Limit::ApiKey,
            "api_key",
            prism_auth::API_KEY_QUOTA.0,
            prism_auth::API_KEY_QUOTA.1.as_secs(),
        ),
    ];
}

/// The limiters of one node.
#[derive(Clone)]
pub struct Limits {
    limiters: Arc<HashMap<Limit, DefaultKeyedRateLimiter<String>>>,
    /// Each limit's N per S seconds, as configured.
    quotas: Arc<HashMap<Limit, (u32, u64)>>,
    /// Proxies whose `X-Forwarded-For` is believed (`PRISM_TRUSTED_PROXIES`); nobody else's.
    trusted_proxies: Arc<Vec<IpAddr>>,
    /// Keys shut out of a limit until a time, after too many strikes ([`Limits::strike`]).
    barred: Arc<std::sync::Mutex<HashMap<(Limit, String), std::time::Instant>>>,
}

impl Default for Limits {
    fn default() -> Self {
        Self::parse("").unwrap_or_else(|_| Self {
            limiters: Arc::default(),
            quotas: Arc::default(),
            trusted_proxies: Arc::default(),
            barred: Arc::default(),
        })
    }
}

impl Limits {
    /// The defaults, with the overrides in `spec` (`name=N/SECONDS,…`).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut quotas: HashMap<Limit, (u32, u64)> = Limit::ALL.iter().map(|(l, _, n, s)| (*l, (*n, *s))).collect();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, rate) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}`: expected name=N/SECONDS"))?;
            let limit = Limit::ALL
                .iter()
                .find(|(_, n, ..)| *n == name.trim())
                .map(|(l, ..)| *l)
                .ok_or_else(|| {
                    let names: Vec<&str> = Limit::ALL.iter().map(|(_, n, ..)| *n).collect();
                    format!("unknown limit `{name}` (known: {})", names.join(", "))
                })?;
            let (n, secs) = rate
                .split_once('/')
                .and_then(|(n, s)| Some((n.trim().parse::<u32>().ok()?, s.trim().parse::<u64>().ok()?)))
                .filter(|(n, s)| *n > 0 && *s > 0)
                .ok_or_else(|| format!("`{part}`: expected N/SECONDS with both above zero"))?;
            quotas.insert(limit, (n, secs));
        }
        let mut limiters = HashMap::new();
        for (&limit, &(n, secs)) in &quotas {
            let burst = NonZeroU32::new(n).ok_or("a limit of zero")?;
            let period = Duration::from_secs(secs) / n;
            let quota = Quota::with_period(period.max(Duration::from_nanos(1)))
                .ok_or("a zero period")?
                .allow_burst(burst);
            limiters.insert(limit, DefaultKeyedRateLimiter::keyed(quota));
        }
        Ok(Self {
            limiters: Arc::new(limiters),
            quotas: Arc::new(quotas),
            trusted_proxies: Arc::default(),
            barred: Arc::default(),
        })
    }

    /// Believes `X-Forwarded-For` from these proxies' addresses (comma-separated IPs).
    pub fn with_trusted_proxies(mut self, spec: &str) -> Result<Self, String> {
        let proxies = spec
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<IpAddr>()
                    .map(|ip| ip.to_canonical())
                    .map_err(|_| format!("`{p}` is not an IP address"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.trusted_proxies = Arc::new(proxies);
        Ok(self)
    }

    /// The client's address: the socket's peer, or — when the peer is a trusted proxy — the
    /// nearest address in `X-Forwarded-For` that is not one of the trusted proxies. A header
    /// from anyone else is ignored (a client cannot pick its own bucket).
    pub fn client_ip(&self, parts: &Parts) -> String {
        let Some(peer) = peer(parts) else {
            return "local".into();
        };
        let mut client = peer;
        if self.trusted_proxies.contains(&peer) {
            let hops: Vec<IpAddr> = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|h| h.trim().parse::<IpAddr>().ok())
                .map(|ip| ip.to_canonical())
                .collect();
            if let Some(first_untrusted) = hops.iter().rev().find(|ip| !self.trusted_proxies.contains(ip)) {
                client = *first_untrusted;
            }
        }
        key_of(client)
    }

    /// Takes one request of `key` under `limit`; 429 when it is over.
    pub fn check(&self, limit: Limit, key: &str) -> Result<(), ApiError> {
        let Some(limiter) = self.limiters.get(&limit) else {
            return Ok(());
        };
        match limiter.check_key(&key.to_owned()) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                metrics::counter!("prism_rate_limited_total", "limit" => limit.name()).increment(1);
                Err(ApiError::RateLimited {
                    retry_after: wait.as_secs().max(1),
                })
            }
        }
    }

    /// 429 while `key` is barred from `limit` (see [`Limits::strike`]).
    pub fn barred(&self, limit: Limit, key: &str) -> Result<(), ApiError> {
        let barred = self.barred.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match barred.get(&(limit, key.to_owned())) {
            Some(until) if *until > std::time::Instant::now() => {
                metrics::counter!("prism_rate_limited_total", "limit" => limit.name()).increment(1);
                Err(ApiError::RateLimited {
                    retry_after: until
                        .saturating_duration_since(std::time::Instant::now())
                        .as_secs()
                        .max(1),
                })
            }
            _ => Ok(()),
        }
    }

    /// Counts one strike against `key` (an answer that told something, a failure); past the
    /// allowance the key is barred from the limit for its whole window, and this answers 429 so
    /// the strike that crossed the line tells nothing either.
    pub fn strike(&self, limit: Limit, key: &str) -> Result<(), ApiError> {
        self.check(limit, key).inspect_err(|_| {
            let window = self.quota(limit).1;
            let mut barred = self.barred.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            barred.insert((limit, key.to_owned()), std::time::Instant::now() + window);
        })
    }

    /// A limit's allowance: N requests per this long.
    pub fn quota(&self, limit: Limit) -> (u32, Duration) {
        self.quotas
            .get(&limit)
            .map(|(n, s)| (*n, Duration::from_secs(*s)))
            .unwrap_or((prism_auth::API_KEY_QUOTA.0, prism_auth::API_KEY_QUOTA.1))
    }

    /// Forgets keys that are back to a full allowance (keeps memory bounded).
    pub fn shrink(&self) {
        for l in self.limiters.values() {
            l.retain_recent();
            l.shrink_to_fit();
        }
        let now = std::time::Instant::now();
        let mut barred = self.barred.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        barred.retain(|_, until| *until > now);
    }
}

impl Limit {
    fn name(self) -> &'static str {
        Limit::ALL
            .iter()
            .find(|(l, ..)| *l == self)
            .map_or("unknown", |(_, n, ..)| n)
    }
}

/// The socket's peer (or what a test declares instead of a socket).
fn peer(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| *a)
        .or_else(|| {
            parts
                .extensions
                .get::<axum::extract::connect_info::MockConnectInfo<SocketAddr>>()
                .map(|m| m.0)
        })
        .map(|a| a.ip().to_canonical())
}

/// The rate-limit key of an address: itself, or for IPv6 its /64 (one client usually holds a
/// whole /64).
fn key_of(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        ip => ip.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_429_with_a_retry_after() {
        let l = Limits::parse("login_ip=3/60").expect("spec");
        for _ in 0..3 {
            assert!(l.check(Limit::LoginIp, "1.2.3.4").is_ok());
        }
        match l.check(Limit::LoginIp, "1.2.3.4") {
            Err(ApiError::RateLimited { retry_after }) => assert!((1..=20).contains(&retry_after)),
            other => panic!("{other:?}"),
        }
        assert!(l.check(Limit::LoginIp, "5.6.7.8").is_ok(), "keys are separate");
    }

    #[test]
    fn bad_specs_say_why() {
        assert!(Limits::parse("nope=1/1").is_err());
        assert!(Limits::parse("login_ip=0/1").is_err());
        assert!(Limits::parse("login_ip=5").is_err());
    }
}
