//! Mail, for real: a password-reset link goes through the log, the outbox and SMTP to a local
//! sink, works once, and ends every session; a relay that keeps failing turns the message into a
//! dead letter an operator can send again; with no relay the message is an `.eml` file.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::Method;
use prism_auth::{Jwt, PasswordHasherId};
use prism_commands::Commands;
use prism_event_store::PgEventStore;
use prism_projections::mail::{self, Deliverer, FileTransport, MailConfig, Outbox, SmtpTransport, Transport};
use prism_projections::{Projector, ProjectorConfig};
use serde_json::{json, Value};
use sqlx::PgPool;
use support::call;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const SECRET: &[u8] = b"mail-e2e-mail-e2e-mail-e2e-mail-e2e!!";
const PUBLIC_URL: &str = "https://prism.example.org";

/// A local SMTP server that keeps what it is sent (recipients and the raw message), or refuses
/// every message with a temporary error.
#[derive(Clone, Default)]
struct Sink {
    received: Arc<Mutex<Vec<Received>>>,
}

/// The recipients and the raw message (headers and body) of one delivery.
type Received = (Vec<String>, String);

impl Sink {
    async fn start(refuse: bool) -> (Self, u16) {
        let sink = Sink::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let s = sink.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move { s.session(conn, refuse).await });
            }
        });
        (sink, port)
    }

    async fn session(&self, conn: tokio::net::TcpStream, refuse: bool) -> std::io::Result<()> {
        let (r, mut w) = conn.into_split();
        let mut lines = BufReader::new(r).lines();
        w.write_all(b"220 sink ready\r\n").await?;
        let mut rcpt = Vec::new();
        while let Some(line) = lines.next_line().await? {
            let verb = line.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
            let reply: &[u8] = match verb.as_str() {
                "EHLO" | "HELO" => b"250 sink\r\n",
                "MAIL" if refuse => b"451 try again later\r\n",
                "MAIL" | "RSET" | "NOOP" => b"250 ok\r\n",
                "RCPT" => {
                    rcpt.push(
                        line.trim_start_matches(|c| c != '<')
                            .trim_matches(|c| c == '<' || c == '>')
                            .to_owned(),
                    );
                    b"250 ok\r\n"
                }
                "DATA" => {
                    w.write_all(b"354 go on\r\n").await?;
                    let mut data = String::new();
                    while let Some(l) = lines.next_line().await? {
                        if l == "." {
                            break;
                        }
                        data.push_str(&l);
                        data.push('\n');
                    }
                    self.received
                        .lock()
                        .expect("sink")
                        .push((std::mem::take(&mut rcpt), data));
                    b"250 queued\r\n"
                }
                "QUIT" => {
                    w.write_all(b"221 bye\r\n").await?;
                    return Ok(());
                }
                _ => b"502 not here\r\n",
            };
            w.write_all(reply).await?;
        }
        Ok(())
    }

    fn messages(&self) -> Vec<Received> {
        self.received.lock().expect("sink").clone()
    }
}

struct World {
    store: PgEventStore,
    commands: Commands,
    write: axum::Router,
    read: axum::Router,
}

fn world(pool: &PgPool) -> World {
    let store = PgEventStore::new(pool.clone(), 0).with_group_commit(2, 64);
    let commands = Commands::new(
        store.clone(),
        Jwt::new(SECRET, Jwt::DEFAULT_TTL),
        PasswordHasherId::new(1024, 1).expect("params"),
    );
    World {
        write: prism_write_api::app(prism_write_api::AppState::new(commands.clone())),
        read: prism_read_api::app(prism_read_api::AppState::new(
            pool.clone(),
            Jwt::new(SECRET, Jwt::DEFAULT_TTL),
        )),
        store,
        commands,
    }
}

impl World {
    /// The outbox projection, caught up with the log.
    async fn queue(&self) {
        let cfg = ProjectorConfig::new(Arc::new(prism_bus::local::LocalBus::new()), 256);
        Projector::new(self.store.clone(), Arc::new(Outbox), cfg)
            .catch_up()
            .await
            .expect("outbox");
    }

    async fn invite(&self, ws: &str, bearer: &str, email: &str, role: &str) -> (u16, Value) {
        let path = format!("/v1/workspaces/{ws}/invitations");
        call(
            &self.write,
            Method::POST,
            &path,
            Some(bearer),
            Some(json!({"email": email, "role": role})),
        )
        .await
    }

    async fn accept(&self, token: &str, bearer: &str) -> (u16, Value) {
        call(
            &self.write,
            Method::POST,
            "/v1/invitations/accept",
            Some(bearer),
            Some(json!({"token": token})),
        )
        .await
    }

    /// The read models, caught up with the log.
    async fn project(&self) {
        support::project_read_models(&self.store).await;
    }

    fn deliverer(&self, transport: Arc<dyn Transport>, max_attempts: i32) -> Deliverer {
        let cfg = MailConfig {
            public_url: PUBLIC_URL.into(),
            max_attempts,
            ..MailConfig::default()
        };
        Deliverer::new(self.store.clone(), self.commands.vault().clone(), transport, cfg)
    }

    async fn register(&self, email: &str, password: &str) -> Value {
        let (s, b) = call(
            &self.write,
            Method::POST,
            "/v1/auth/register",
            None,
            Some(json!({"email": email, "password": password, "name": "Ann"})),
        )
        .await;
        assert_eq!(s, 201, "{b}");
        // The registration's confirmation mail has a test of its own; here it would only add
        // to the counts.
        self.queue().await;
        sqlx::query("DELETE FROM mail_outbox WHERE kind = 'email_verification'")
            .execute(self.store.pool())
            .await
            .expect("clear");
        b
    }

    async fn ask_reset(&self, email: &str) {
        let (s, b) = call(
            &self.write,
            Method::POST,
            "/v1/auth/password-reset",
            None,
            Some(json!({"email": email})),
        )
        .await;
        assert_eq!(s, 202, "always 202: {b}");
    }
}

/// The token in a message's reset link.
fn token_in(message: &str) -> String {
    link_in(message, "/reset-password?token=")
}

/// The token after `marker` in a message (undoing quoted-printable if the mailer chose it).
fn link_in(message: &str, marker: &str) -> String {
    let plain = message.replace("=\n", "").replace("=3D", "=");
    let at = plain.find(marker).expect("a link") + marker.len();
    plain[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_reset_link_arrives_by_smtp_works_once_and_ends_every_session(pool: PgPool) {
    let w = world(&pool);
    let ann = w.register("ann@example.com", "the old password").await;
    w.ask_reset("Ann@Example.com").await;
    // An address without an account gets the same answer, and no mail.
    w.ask_reset("nobody@example.com").await;
    w.queue().await;
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM mail_outbox")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(queued, 1, "one message, for the account that exists");
    // The log holds neither the address nor a usable token.
    let logged: String =
        sqlx::query_scalar("SELECT payload::text FROM events WHERE event_type = 'auth.password_reset_requested'")
            .fetch_one(&pool)
            .await
            .expect("event");
    assert!(!logged.contains("ann@example.com"), "{logged}");

    let (sink, port) = Sink::start(false).await;
    let smtp = SmtpTransport::from_url(&format!("smtp://127.0.0.1:{port}")).expect("smtp url");
    let deliverer = w.deliverer(Arc::new(smtp), 8);
    assert_eq!(deliverer.deliver_due().await.expect("deliver"), 1);
    assert_eq!(deliverer.deliver_due().await.expect("again"), 0, "sent once");
    let got = sink.messages();
    assert_eq!(got.len(), 1);
    let (to, message) = &got[0];
    assert_eq!(to, &vec!["ann@example.com".to_owned()]);
    assert!(message.contains("Subject: Reset your Prism password"), "{message}");
    assert!(
        message
            .replace("=\n", "")
            .contains(&format!("{PUBLIC_URL}/reset-password?token")),
        "{message}"
    );
    let token = token_in(message);
    assert!(token.len() >= 32, "{token}");
    assert!(!logged.contains(&token), "the log never holds the token");

    // Too short a password is refused, and the token stays good.
    let confirm = |token: String, password: &str| {
        call(
            &w.write,
            Method::POST,
            "/v1/auth/password-reset/confirm",
            None,
            Some(json!({"token": token, "new_password": password})),
        )
    };
    assert_eq!(confirm(token.clone(), "short").await.0, 422);
    let (s, b) = confirm(token.clone(), "a brand new password").await;
    assert_eq!(s, 200, "{b}");
    // Once only; and a made-up token is no better.
    let (s, b) = confirm(token.clone(), "yet another password").await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("invalid_token")), "{b}");
    let (s, _) = confirm("not-a-token".into(), "yet another password").await;
    assert_eq!(s, 400);

    let login = |password: &str| {
        call(
            &w.write,
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"email": "ann@example.com", "password": password})),
        )
    };
    assert_eq!(login("the old password").await.0, 401);
    let (s, fresh) = login("a brand new password").await;
    assert_eq!(s, 200);
    // The session begun with the new password works at once (only the old ones ended).
    let (s, b) = call(
        &w.write,
        Method::POST,
        "/v1/workspaces",
        fresh["access_token"].as_str(),
        Some(json!({"name": "New"})),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    // The session from before the reset is over: its refresh token now, its access token as soon
    // as the node reads `auth.password_changed` from the log.
    let (s, _) = call(
        &w.write,
        Method::POST,
        "/v1/auth/refresh",
        None,
        Some(json!({"refresh_token": ann["refresh_token"]})),
    )
    .await;
    assert_eq!(s, 401);
    let old = ann["access_token"].as_str().expect("token");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (s, b) = call(
            &w.write,
            Method::POST,
            "/v1/workspaces",
            Some(old),
            Some(json!({"name": "After"})),
        )
        .await;
        if s == 401 {
            assert_eq!(b["error"]["code"], "session_revoked", "{b}");
            break;
        }
        assert!(Instant::now() < deadline, "the old access token still works: {s} {b}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_relay_that_keeps_refusing_makes_a_dead_letter_that_can_be_sent_again(pool: PgPool) {
    let w = world(&pool);
    w.register("bob@example.com", "the old password").await;
    w.ask_reset("bob@example.com").await;
    w.queue().await;
    let (refusing, port) = Sink::start(true).await;
    let smtp = SmtpTransport::from_url(&format!("smtp://127.0.0.1:{port}")).expect("smtp url");
    let deliverer = w.deliverer(Arc::new(smtp), 2);
    assert_eq!(deliverer.deliver_due().await.expect("first"), 1);
    let (status, attempts, error): (String, i32, Option<String>) =
        sqlx::query_as("SELECT status, attempts, last_error FROM mail_outbox")
            .fetch_one(&pool)
            .await
            .expect("row");
    assert_eq!((status.as_str(), attempts), ("pending", 1));
    assert!(error.is_some_and(|e| e.contains("451")), "the relay's answer is kept");
    assert_eq!(
        deliverer.deliver_due().await.expect("not due yet"),
        0,
        "backoff: not due again at once"
    );
    sqlx::query("UPDATE mail_outbox SET next_attempt_at = now()")
        .execute(&pool)
        .await
        .expect("due");
    assert_eq!(deliverer.deliver_due().await.expect("second"), 1);
    let unsent = mail::deliver::unsent(&pool).await.expect("list");
    assert_eq!(unsent.len(), 1);
    assert_eq!((unsent[0].status.as_str(), unsent[0].attempts), ("dead", 2));
    assert!(refusing.messages().is_empty());

    // The operator fixes the relay and sends the dead letters again.
    assert_eq!(mail::deliver::retry(&pool, None).await.expect("retry"), 1);
    let (sink, port) = Sink::start(false).await;
    let smtp = SmtpTransport::from_url(&format!("smtp://127.0.0.1:{port}")).expect("smtp url");
    assert_eq!(w.deliverer(Arc::new(smtp), 2).deliver_due().await.expect("resent"), 1);
    assert_eq!(sink.messages().len(), 1);
    assert!(mail::deliver::unsent(&pool).await.expect("list").is_empty());
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn without_a_relay_mail_is_an_eml_file_and_an_erased_account_gets_none(pool: PgPool) {
    let w = world(&pool);
    let dir = tempfile::tempdir().expect("dir");
    w.register("cat@example.com", "the old password").await;
    let dan = w.register("dan@example.com", "the old password").await;
    w.ask_reset("cat@example.com").await;
    w.ask_reset("dan@example.com").await;
    // Dan erases his account before the mail goes: his link can no longer be opened.
    let (s, b) = call(&w.write, Method::DELETE, "/v1/me", dan["access_token"].as_str(), None).await;
    assert!(s == 202 || s == 204, "{s} {b}");
    w.queue().await;
    let deliverer = w.deliverer(Arc::new(FileTransport::new(dir.path().join("outbox"))), 8);
    assert_eq!(deliverer.deliver_due().await.expect("deliver"), 2);
    let files: Vec<_> = std::fs::read_dir(dir.path().join("outbox"))
        .expect("outbox folder")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].extension().and_then(|e| e.to_str()), Some("eml"));
    let eml = std::fs::read_to_string(&files[0]).expect("eml");
    assert!(eml.contains("To: cat@example.com"), "{eml}");
    assert!(!token_in(&eml.replace("\r\n", "\n")).is_empty());
    let dropped: (String, Option<String>) =
        sqlx::query_as("SELECT status, last_error FROM mail_outbox WHERE status = 'dead'")
            .fetch_one(&pool)
            .await
            .expect("dan's");
    assert!(
        dropped
            .1
            .as_deref()
            .is_some_and(|e| e.starts_with("the account was erased")),
        "{dropped:?}"
    );
}

/// The token in an invitation's link.
fn invitation_token(message: &str) -> String {
    let at =
        message.find("/invitations/accept?token=").expect("an invitation link") + "/invitations/accept?token=".len();
    message[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn an_invitation_by_email_joins_its_address_with_the_role_once_and_a_revoked_one_does_not(pool: PgPool) {
    let w = world(&pool);
    let owner = w.register("olga@example.com", "owner password").await;
    let owner_t = owner["access_token"].as_str().expect("token").to_owned();
    let (s, ws) = call(
        &w.write,
        Method::POST,
        "/v1/workspaces",
        Some(&owner_t),
        Some(json!({"name": "Acme"})),
    )
    .await;
    assert_eq!(s, 201, "{ws}");
    let ws_id = ws["id"].as_str().expect("id").to_owned();
    let code = ws["join_code"].as_str().expect("code").to_owned();
    let member = w.register("mo@example.com", "member password").await;
    let member_t = member["access_token"].as_str().expect("token").to_owned();
    let (s, _) = call(
        &w.write,
        Method::POST,
        &format!("/v1/workspaces/{ws_id}/join"),
        Some(&member_t),
        Some(json!({"join_code": code})),
    )
    .await;
    assert_eq!(s, 200);
    let stranger = w.register("sam@example.com", "stranger password").await;
    let stranger_t = stranger["access_token"].as_str().expect("token").to_owned();

    assert_eq!(
        w.invite(&ws_id, &member_t, "carol@example.com", "member").await.0,
        403,
        "members invite no one"
    );
    assert_eq!(
        w.invite(&ws_id, &stranger_t, "carol@example.com", "member").await.0,
        404
    );
    assert_eq!(w.invite(&ws_id, &owner_t, "not an address", "member").await.0, 422);
    assert_eq!(w.invite(&ws_id, &owner_t, "carol@example.com", "emperor").await.0, 422);
    let (s, inv) = w.invite(&ws_id, &owner_t, "carol@example.com", "admin").await;
    assert_eq!(s, 201, "{inv}");
    let carol_inv = inv["id"].as_str().expect("id").to_owned();
    assert_ne!(carol_inv, ws_id, "the answer names the invitation");
    let (s, erin) = w.invite(&ws_id, &owner_t, "erin@example.com", "member").await;
    assert_eq!(s, 201, "{erin}");
    // The log never holds the address in the clear.
    let logged: Vec<String> =
        sqlx::query_scalar("SELECT payload::text FROM events WHERE event_type = 'invitation.created'")
            .fetch_all(&pool)
            .await
            .expect("events");
    assert!(logged.iter().all(|p| !p.contains("@example.com")), "{logged:?}");

    // Admins and owners see what is pending; members are refused, strangers see nothing.
    w.project().await;
    let list = format!("/v1/workspaces/{ws_id}/invitations");
    let (s, pending) = call(&w.read, Method::GET, &list, Some(&owner_t), None).await;
    assert_eq!(s, 200, "{pending}");
    let emails: Vec<&str> = pending["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["email"].as_str())
        .collect();
    assert_eq!(emails.len(), 2);
    assert!(
        emails.contains(&"carol@example.com") && emails.contains(&"erin@example.com"),
        "{pending}"
    );
    assert_eq!(call(&w.read, Method::GET, &list, Some(&member_t), None).await.0, 403);
    assert_eq!(call(&w.read, Method::GET, &list, Some(&stranger_t), None).await.0, 404);

    // The links go out by mail.
    w.queue().await;
    let (sink, port) = Sink::start(false).await;
    let smtp = SmtpTransport::from_url(&format!("smtp://127.0.0.1:{port}")).expect("smtp url");
    assert_eq!(w.deliverer(Arc::new(smtp), 8).deliver_due().await.expect("deliver"), 2);
    let mail_for = |who: &str| {
        sink.messages()
            .into_iter()
            .find(|(to, _)| to.iter().any(|t| t == who))
            .map(|(_, m)| m)
            .unwrap_or_else(|| panic!("no mail for {who}"))
    };
    let carol_token = invitation_token(&mail_for("carol@example.com"));
    let erin_token = invitation_token(&mail_for("erin@example.com"));
    assert!(mail_for("carol@example.com").contains(&format!("{PUBLIC_URL}/invitations/accept?token=")));

    // Only the invited address may accept, once.
    assert_eq!(w.accept(&carol_token, &stranger_t).await.0, 403, "another address");
    let carol = w.register("carol@example.com", "carol password").await;
    let carol_t = carol["access_token"].as_str().expect("token").to_owned();
    let (s, joined) = w.accept(&carol_token, &carol_t).await;
    assert_eq!(s, 200, "{joined}");
    assert_eq!(joined["workspace_id"], json!(ws_id));
    assert_eq!(joined["role"], "admin");
    let (s, again) = w.accept(&carol_token, &carol_t).await;
    assert_eq!(
        (s, again["error"]["code"].as_str()),
        (400, Some("invalid_token")),
        "{again}"
    );
    w.project().await;
    let (s, seen) = call(
        &w.read,
        Method::GET,
        &format!("/v1/workspaces/{ws_id}"),
        Some(&carol_t),
        None,
    )
    .await;
    assert_eq!(s, 200, "{seen}");
    assert_eq!(seen["role"], "admin", "joined with the invited role");

    // Accepting while already a member spends the invitation and answers the role kept.
    let (s, inv) = w.invite(&ws_id, &owner_t, "carol@example.com", "member").await;
    assert_eq!(s, 201, "{inv}");
    w.queue().await;
    let smtp = SmtpTransport::from_url(&format!("smtp://127.0.0.1:{port}")).expect("smtp url");
    assert_eq!(w.deliverer(Arc::new(smtp), 8).deliver_due().await.expect("deliver"), 1);
    let second = sink
        .messages()
        .into_iter()
        .rfind(|(to, _)| to.iter().any(|t| t == "carol@example.com"))
        .map(|(_, m)| invitation_token(&m))
        .expect("a second invitation");
    assert_ne!(second, carol_token);
    let (s, kept) = w.accept(&second, &carol_t).await;
    assert_eq!(s, 200, "{kept}");
    assert_eq!(kept["role"], "admin", "the role kept, not the one invited: {kept}");

    // A revoked invitation's link is dead; only admins and owners revoke.
    let erin_id = erin["id"].as_str().expect("id").to_owned();
    let revoke = format!("/v1/invitations/{erin_id}");
    assert_eq!(
        call(&w.write, Method::DELETE, &revoke, Some(&member_t), None).await.0,
        403
    );
    assert_eq!(
        call(&w.write, Method::DELETE, &revoke, Some(&owner_t), None).await.0,
        204
    );
    let erin_user = w.register("erin@example.com", "erin password").await;
    let erin_t = erin_user["access_token"].as_str().expect("token").to_owned();
    assert_eq!(w.accept(&erin_token, &erin_t).await.0, 400);
    w.project().await;
    let (_, pending) = call(&w.read, Method::GET, &list, Some(&owner_t), None).await;
    assert_eq!(pending["items"].as_array().map(Vec::len), Some(0), "{pending}");
    // A logged-out session's token lists nothing.
    let (s, _) = call(
        &w.write,
        Method::POST,
        "/v1/auth/logout",
        None,
        Some(json!({"refresh_token": owner["refresh_token"]})),
    )
    .await;
    assert_eq!(s, 204);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (s, b) = call(&w.read, Method::GET, &list, Some(&owner_t), None).await;
        if s == 401 {
            assert_eq!(b["error"]["code"], "session_revoked", "{b}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a revoked token still lists invitations: {s} {b}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_new_account_confirms_its_address_by_a_link_that_works_once(pool: PgPool) {
    let w = world(&pool);
    let (s, reg) = call(
        &w.write,
        Method::POST,
        "/v1/auth/register",
        None,
        Some(json!({"email": "cleo@example.com", "password": "correct horse battery", "name": "Cleo"})),
    )
    .await;
    assert_eq!(s, 201, "{reg}");
    let token = reg["access_token"].as_str().expect("token").to_owned();
    w.project().await;
    let (_, me) = call(&w.read, Method::GET, "/v1/me", Some(&token), None).await;
    assert_eq!(me["email_verified"], false, "{me}");

    w.queue().await;
    let (sink, port) = Sink::start(false).await;
    let smtp = SmtpTransport::from_url(&format!("smtp://127.0.0.1:{port}")).expect("smtp url");
    assert_eq!(w.deliverer(Arc::new(smtp), 8).deliver_due().await.expect("deliver"), 1);
    let got = sink.messages();
    let (to, message) = &got[0];
    assert_eq!(to, &vec!["cleo@example.com".to_owned()]);
    assert!(message.contains("Subject: Confirm your Prism address"), "{message}");
    let link = link_in(message, &format!("{PUBLIC_URL}/verify-email?token="));
    let logged: String =
        sqlx::query_scalar("SELECT payload::text FROM events WHERE event_type = 'auth.email_verification_requested'")
            .fetch_one(&pool)
            .await
            .expect("event");
    assert!(
        !logged.contains("cleo@example.com") && !logged.contains(&link),
        "{logged}"
    );

    let verify = |t: String| {
        call(
            &w.write,
            Method::POST,
            "/v1/auth/verify-email",
            None,
            Some(json!({ "token": t })),
        )
    };
    let (s, b) = verify("made-up".into()).await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("invalid_token")), "{b}");
    let (s, b) = verify(link.clone()).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["email_verified"], true);
    let (s, b) = verify(link).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("invalid_token")),
        "once: {b}"
    );
    w.project().await;
    let (_, me) = call(&w.read, Method::GET, "/v1/me", Some(&token), None).await;
    assert_eq!(me["email_verified"], true, "{me}");
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn an_invitation_past_its_time_expires_in_the_log_and_opens_nothing(pool: PgPool) {
    let mut w = world(&pool);
    let commands = w.commands.clone().with_invitation_ttl(Duration::from_secs(1));
    w.write = prism_write_api::app(prism_write_api::AppState::new(commands.clone()));
    let owner = w.register("olga@example.com", "owner password").await;
    let owner_t = owner["access_token"].as_str().expect("token").to_owned();
    let (s, ws) = call(
        &w.write,
        Method::POST,
        "/v1/workspaces",
        Some(&owner_t),
        Some(json!({"name": "Acme"})),
    )
    .await;
    assert_eq!(s, 201, "{ws}");
    let ws_id = ws["id"].as_str().expect("id").to_owned();
    let (s, inv) = w.invite(&ws_id, &owner_t, "carol@example.com", "member").await;
    assert_eq!(s, 201, "{inv}");
    let invitation: uuid::Uuid = inv["id"].as_str().expect("id").parse().expect("uuid");
    // The link, as the mail would carry it (opened before expiry destroys its key).
    let sealed: String =
        sqlx::query_scalar("SELECT payload->>'token' FROM events WHERE event_type = 'invitation.created'")
            .fetch_one(&pool)
            .await
            .expect("event");
    let inviter = prism_domain::UserId(owner["user_id"].as_str().expect("id").parse().expect("uuid"));
    let token = commands
        .vault()
        .opener(prism_vault::Scope::of(inviter, invitation))
        .await
        .expect("key")
        .open(&sealed)
        .expect("token");
    assert_eq!(commands.expire_invitations().await.expect("expire"), 0, "not due yet");

    let expires: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT expires_at FROM invitation_tokens WHERE invitation_id = $1")
            .bind(invitation)
            .fetch_one(&pool)
            .await
            .expect("token row");
    tokio::time::sleep((expires - chrono::Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(50)).await;
    assert_eq!(commands.expire_invitations().await.expect("expire"), 1);
    assert_eq!(commands.expire_invitations().await.expect("again"), 0, "closed once");
    let (kind, actor): (String, Value) = sqlx::query_as(
        "SELECT event_type, metadata FROM events WHERE aggregate_id = $1 ORDER BY sequence DESC LIMIT 1",
    )
    .bind(uuid::Uuid::parse_str(&ws_id).expect("uuid"))
    .fetch_one(&pool)
    .await
    .expect("event");
    assert_eq!(kind, "invitation.expired");
    assert_eq!(actor["actor_kind"], "system");

    let carol = w.register("carol@example.com", "carol password").await;
    let (s, b) = call(
        &w.write,
        Method::POST,
        "/v1/invitations/accept",
        carol["access_token"].as_str(),
        Some(json!({ "token": token })),
    )
    .await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("invalid_token")), "{b}");
    w.project().await;
    let (s, list) = call(
        &w.read,
        Method::GET,
        &format!("/v1/workspaces/{ws_id}/invitations"),
        Some(&owner_t),
        None,
    )
    .await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list["items"], json!([]), "{list}");
}
