//! End to end, across processes: the real `prism` binary, the README's walk-through over
//! HTTP on one node (the in-process bus, no NATS) and over NATS JetStream, graceful shutdown on
//! SIGTERM, and one clear line when Postgres is unreachable.

use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;

#[path = "support/process.rs"]
mod process;
use process::{base_url, database_url, post, spawn_prism, tool, Guard};
use serde_json::{json, Value};

#[tokio::test]
async fn the_readme_walkthrough_on_one_node_then_a_graceful_stop() {
    the_readme_walkthrough_then_a_graceful_stop(false).await
}

#[tokio::test]
async fn the_readme_walkthrough_over_nats_then_a_graceful_stop() {
    the_readme_walkthrough_then_a_graceful_stop(true).await
}

async fn the_readme_walkthrough_then_a_graceful_stop(over_nats: bool) {
    let db = format!("prism_e2e_{}", uuid::Uuid::now_v7().simple());
    let data = tempfile::tempdir().expect("data dir");
    let (child, addr, read_addr) = spawn_prism(&db, data.path(), over_nats);
    let mut guard = Guard(child);
    let c = reqwest::Client::new();
    let url = |p: &str| format!("http://{addr}{p}");

    let (s, reg) = post(
        &c,
        url("/v1/auth/register"),
        None,
        json!({"email": "ann@example.com", "password": "correct horse battery", "name": "Ann"}),
    )
    .await;
    assert_eq!(s, 201, "{reg}");
    let token = reg["access_token"].as_str().expect("token").to_owned();
    // Confirm the address: with no SMTP relay configured, the link is an `.eml` file in the data
    // folder's outbox, written by the mail worker from the log.
    let outbox = data.path().join("outbox");
    let verify = link_token(&outbox, "verify-email?token=").await;
    let (s, b) = post(&c, url("/v1/auth/verify-email"), None, json!({"token": verify})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["email_verified"], true);
    let (s, ws) = post(&c, url("/v1/workspaces"), Some(&token), json!({"name": "Acme"})).await;
    assert_eq!(s, 201, "{ws}");
    let (s, ch) = post(
        &c,
        url(&format!("/v1/workspaces/{}/channels", ws["id"].as_str().expect("id"))),
        Some(&token),
        json!({"name": "general"}),
    )
    .await;
    assert_eq!(s, 201, "{ch}");
    let (s, msg) = post(
        &c,
        url(&format!("/v1/channels/{}/messages", ch["id"].as_str().expect("id"))),
        Some(&token),
        json!({"body": "hello"}),
    )
    .await;
    assert_eq!(s, 201, "{msg}");
    assert_eq!(msg["version"], 1);

    assert!(msg["position"].as_i64().expect("position") > ws["position"].as_i64().expect("position"));

    // Read your write through the read API: no sleep, the read waits for the position.
    let position = msg["position"].as_i64().expect("position");
    let res = c
        .get(format!(
            "http://{read_addr}/v1/channels/{}/messages",
            ch["id"].as_str().expect("id")
        ))
        .bearer_auth(&token)
        .header("x-min-position", position.to_string())
        .send()
        .await
        .expect("read");
    assert_eq!(res.status().as_u16(), 200);
    let at: i64 = res
        .headers()
        .get("x-projection-position")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("header");
    assert!(at >= position);
    let page: Value = res.json().await.expect("json");
    assert_eq!(page["items"][0]["body"], "hello");
    assert_eq!(page["items"][0]["id"], msg["id"]);

    // An API key of the workspace posts as itself.
    let (s, key) = post(
        &c,
        url(&format!("/v1/workspaces/{}/api-keys", ws["id"].as_str().expect("id"))),
        Some(&token),
        json!({"name": "ci", "scopes": ["read", "write"]}),
    )
    .await;
    assert_eq!(s, 201, "{key}");
    let (s, by_key) = post(
        &c,
        url(&format!("/v1/channels/{}/messages", ch["id"].as_str().expect("id"))),
        key["key"].as_str(),
        json!({"body": "deploy finished"}),
    )
    .await;
    assert_eq!(s, 201, "{by_key}");
    let res = c
        .get(format!(
            "http://{read_addr}/v1/channels/{}/messages",
            ch["id"].as_str().expect("id")
        ))
        .bearer_auth(key["key"].as_str().expect("key"))
        .header("x-min-position", by_key["position"].to_string())
        .send()
        .await
        .expect("read");
    assert_eq!(res.status().as_u16(), 200);
    let page: Value = res.json().await.expect("json");
    assert_eq!(page["items"][0]["body"], "deploy finished");
    assert_eq!(page["items"][0]["author_id"], key["id"]);

    // Search: the node's index follows the log; a client retries on 503 as Retry-After says.
    let started = Instant::now();
    let hits = loop {
        let res = c
            .get(format!("http://{read_addr}/v1/search?q=hello&min_position={position}"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("search");
        if res.status().as_u16() == 200 {
            break res.json::<Value>().await.expect("json");
        }
        assert_eq!(res.status().as_u16(), 503, "only projection_behind is retried");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the search index never caught up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(hits["items"][0]["id"], msg["id"]);

    // A webhook receiver: a message posted after it is registered arrives, signed.
    let (got_tx, mut got) = tokio::sync::mpsc::unbounded_channel::<(axum::http::HeaderMap, bytes::Bytes)>();
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |h: axum::http::HeaderMap, b: bytes::Bytes| {
            let _ = got_tx.send((h, b));
            async { axum::http::StatusCode::NO_CONTENT }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let hook_url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, receiver).await });
    let ws_id = ws["id"].as_str().expect("id");
    let (s, hook) = post(
        &c,
        url(&format!("/v1/workspaces/{ws_id}/webhooks")),
        Some(&token),
        json!({"url": hook_url, "events": ["message.created"]}),
    )
    .await;
    assert_eq!(s, 201, "{hook}");
    let (s, hooked) = post(
        &c,
        url(&format!("/v1/channels/{}/messages", ch["id"].as_str().expect("id"))),
        Some(&token),
        json!({"body": "to the webhook"}),
    )
    .await;
    assert_eq!(s, 201, "{hooked}");
    let (headers, body) = loop {
        let (h, b) = tokio::time::timeout(Duration::from_secs(20), got.recv())
            .await
            .expect("the delivery arrives")
            .expect("receiver");
        let v: Value = serde_json::from_slice(&b).expect("json");
        if v["aggregate_id"] == hooked["id"] {
            break (h, b);
        }
    };
    let header = |n: &str| headers[n].to_str().expect("ascii").to_owned();
    let secret = hook["secret"].as_str().expect("secret, once");
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").expect("prefix"))
        .expect("base64");
    let ts: i64 = header("webhook-timestamp").parse().expect("timestamp");
    assert_eq!(
        header("webhook-signature"),
        prism_projections::webhooks::deliver::sign(&key, &header("webhook-id"), ts, &body),
        "signed with the secret"
    );

    // A file: uploaded, attached, downloaded.
    let boundary = "walkthrough-boundary";
    let mut form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"notes.txt\"\r\nContent-Type: text/plain\r\n\r\n"
    )
    .into_bytes();
    form.extend_from_slice(b"minutes of the launch meeting");
    form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let up: Value = c
        .post(url(&format!("/v1/workspaces/{ws_id}/files")))
        .bearer_auth(&token)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(form)
        .send()
        .await
        .expect("upload")
        .json()
        .await
        .expect("json");
    assert_eq!(
        (up["name"].as_str(), up["media_type"].as_str()),
        (Some("notes.txt"), Some("text/plain")),
        "{up}"
    );
    let (s, with_file) = post(
        &c,
        url(&format!("/v1/channels/{}/messages", ch["id"].as_str().expect("id"))),
        Some(&token),
        json!({"body": "the minutes", "attachments": [up["id"]]}),
    )
    .await;
    assert_eq!(s, 201, "{with_file}");
    let res = c
        .get(format!(
            "http://{read_addr}/v1/files/{}",
            up["id"].as_str().expect("id")
        ))
        .bearer_auth(&token)
        .header("x-min-position", with_file["position"].to_string())
        .send()
        .await
        .expect("download");
    assert_eq!(res.status().as_u16(), 200);
    assert!(res.headers()["content-disposition"]
        .to_str()
        .expect("ascii")
        .starts_with("attachment"));
    assert_eq!(
        res.bytes().await.expect("bytes").as_ref(),
        b"minutes of the launch meeting"
    );

    // A forgotten password: with no SMTP relay configured, the link is an `.eml` file in the
    // data folder's outbox, written by the mail worker from the log.
    let (s, _) = post(
        &c,
        url("/v1/auth/password-reset"),
        None,
        json!({"email": "ann@example.com"}),
    )
    .await;
    assert_eq!(s, 202);
    let reset = link_token(&outbox, "reset-password?token=").await;
    let (s, b) = post(
        &c,
        url("/v1/auth/password-reset/confirm"),
        None,
        json!({"token": reset, "new_password": "a new horse battery"}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, login) = post(
        &c,
        url("/v1/auth/login"),
        None,
        json!({"email": "ann@example.com", "password": "a new horse battery"}),
    )
    .await;
    assert_eq!(s, 200);
    // The reset ended the old session; the new one works at once.
    let token = login["access_token"].as_str().expect("token").to_owned();

    // Invite a colleague by email: the link arrives the same way; they accept it signed in with
    // the invited address and join with the invited role.
    let ws_id = ws["id"].as_str().expect("id");
    let (s, inv) = post(
        &c,
        url(&format!("/v1/workspaces/{ws_id}/invitations")),
        Some(&token),
        json!({"email": "bob@example.com", "role": "member"}),
    )
    .await;
    assert_eq!(s, 201, "{inv}");
    let invite_token = link_token(&outbox, "accept?token=").await;
    let (s, bob) = post(
        &c,
        url("/v1/auth/register"),
        None,
        json!({"email": "bob@example.com", "password": "bob horse battery", "name": "Bob"}),
    )
    .await;
    assert_eq!(s, 201, "{bob}");
    let (s, joined) = post(
        &c,
        url("/v1/invitations/accept"),
        bob["access_token"].as_str(),
        json!({"token": invite_token}),
    )
    .await;
    assert_eq!(s, 200, "{joined}");
    assert_eq!(joined["workspace_id"], ws["id"]);
    assert_eq!(joined["role"], "member");

    // Searches in flight when SIGTERM arrives, the attacker's among them (brackets 240 deep,
    // which once kept a core busy for days and the process from ever exiting): the server still
    // drains and exits cleanly.
    let mut searching = tokio::task::JoinSet::new();
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for i in 0..6 {
        let (c, token, read_addr, answered) = (c.clone(), token.clone(), read_addr.clone(), answered.clone());
        searching.spawn(async move {
            let depth = [1, 40, 240][i % 3];
            let q = format!("{}hello{}", "(".repeat(depth), ")".repeat(depth));
            while let Ok(res) = c
                .get(format!("http://{read_addr}/v1/search"))
                .query(&[("q", q.as_str())])
                .bearer_auth(&token)
                .send()
                .await
            {
                let status = res.status().as_u16();
                // 429: this caller already has two searches running.
                let expected: &[u16] = if depth > 8 { &[400, 429, 503] } else { &[200, 429, 503] };
                assert!(expected.contains(&status), "depth {depth}: {status}");
                answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
    }
    // Every searcher has had answers: searches are under way.
    while answered.load(std::sync::atomic::Ordering::SeqCst) < 30 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // SIGTERM: the server drains and exits cleanly.
    let status = Command::new("kill")
        .args(["-TERM", &guard.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(s) = guard.0.try_wait().expect("wait") {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "prism did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "prism exited with {exit}");
    while let Some(done) = searching.join_next().await {
        done.expect("a search answered what it should not");
    }

    // The auditors' and analysts' tools on what was written.
    let ws_id = ws["id"].as_str().expect("id").to_owned();
    let (ok, out) = tool(&db, &["audit", "verify", "--workspace", &ws_id]);
    assert!(ok, "{out}");
    assert!(out.contains("\"ok\": true"), "{out}");
    let export = data.path().join("log.ndjson.zst");
    let (ok, out) = tool(&db, &["export", "--out", export.to_str().expect("path")]);
    assert!(ok && out.contains("exported"), "{out}");
    let copy = format!("{db}_copy");
    let index = data.path().join("offline-index");
    let (ok, out) = tool(
        &db,
        &[
            "rebuild",
            "--from",
            export.to_str().expect("path"),
            "--into",
            &database_url(&copy),
            "--index-dir",
            index.to_str().expect("path"),
        ],
    );
    assert!(
        ok && out.contains("rebuilt read_models, audit, spectrum, search"),
        "{out}"
    );
    let (ok, out) = tool(&db, &["replay", "--aggregate", &format!("workspace/{ws_id}")]);
    assert!(ok && out.contains("\"Acme\""), "{out}");
    let (ok, out) = tool(&db, &["replay", "--aggregate", &format!("planet/{ws_id}")]);
    assert!(!ok && out.contains("unknown aggregate type"), "{out}");

    let admin = sqlx::PgPool::connect(&base_url()).await.expect("admin connection");
    for name in [db, copy] {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&admin)
            .await;
    }
}

/// The token of the first link containing `marker` in a mail of the outbox folder, once the
/// mail worker has written it.
async fn link_token(outbox: &std::path::Path, marker: &str) -> String {
    let started = Instant::now();
    loop {
        let found = std::fs::read_dir(outbox)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .map(|m| m.replace("=\r\n", "").replace("=3D", "="))
            .find(|m| m.contains(marker));
        if let Some(m) = found {
            let at = m.find(marker).expect("link") + marker.len();
            return m[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no {marker} link in {}",
            outbox.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs `prism <part>` with no secrets at all (over NATS when `nats` is set); Postgres is
/// unreachable, so only the checks before it can answer.
fn without_secrets(part: &str, nats: Option<&str>) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_prism"));
    match nats {
        Some(url) => cmd.env("PRISM_NATS_URL", url),
        None => cmd.env_remove("PRISM_NATS_URL"),
    };
    cmd.arg(part)
        .env("PRISM_DATABASE_URL", "postgres://postgres@127.0.0.1:1/prism")
        .env_remove("PRISM_JWT_SECRET")
        .env_remove("PRISM_MASTER_KEY")
        .env_remove("PRISM_BUS_KEY")
        .env_remove("PRISM_DEV")
        .output()
        .expect("run prism")
}

#[test]
fn services_refuse_to_start_with_the_public_development_secrets() {
    for part in ["serve", "write-api", "read-api", "relay", "project"] {
        let out = without_secrets(part, Some("nats://127.0.0.1:1"));
        assert_eq!(out.status.code(), Some(1), "{part} started without secrets");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{part}: {stderr}");
        let (tokens, bus) = match part {
            "write-api" => (true, false),
            "relay" | "project" => (false, true),
            _ => (true, true),
        };
        assert!(
            lines[0].starts_with("error: refusing to start without PRISM_"),
            "{part}: {stderr}"
        );
        assert_eq!(lines[0].contains("PRISM_JWT_SECRET"), tokens, "{part}: {stderr}");
        assert_eq!(lines[0].contains("PRISM_MASTER_KEY"), tokens, "{part}: {stderr}");
        assert_eq!(lines[0].contains("PRISM_BUS_KEY"), bus, "{part}: {stderr}");
        assert!(lines[0].contains("PRISM_DEV=1"), "{part}: {stderr}");
    }
    // One node signs nothing (nothing crosses a process), so it needs no bus key; and it has no
    // separate relay to run.
    for (part, needs) in [
        ("serve", "PRISM_JWT_SECRET"),
        ("project", ""),
        ("relay", "PRISM_NATS_URL"),
    ] {
        let out = without_secrets(part, None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{part}: {stderr}");
        assert!(!stderr.contains("PRISM_BUS_KEY"), "{part}: {stderr}");
        assert!(stderr.contains(needs), "{part}: {stderr}");
    }
    // One of the two is not enough either.
    let out = Command::new(env!("CARGO_BIN_EXE_prism"))
        .arg("write-api")
        .env("PRISM_DATABASE_URL", "postgres://postgres@127.0.0.1:1/prism")
        .env("PRISM_JWT_SECRET", "an-end-to-end-secret-of-enough-length")
        .env_remove("PRISM_MASTER_KEY")
        .env_remove("PRISM_DEV")
        .output()
        .expect("run prism");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("without PRISM_MASTER_KEY"), "{stderr}");
    assert!(!stderr.contains("an-end-to-end-secret"), "a secret leaked: {stderr}");
}

#[test]
fn an_unreachable_postgres_is_one_clear_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_prism"))
        .arg("migrate")
        .env("PRISM_DATABASE_URL", "postgres://postgres:hunter2@127.0.0.1:1/prism")
        .output()
        .expect("run prism");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with("error: cannot reach PostgreSQL at postgres://postgres:***@127.0.0.1:1/prism"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "the password leaked: {stderr}");
}

/// The OpenAPI documents as a fuzzer reads them: schemathesis (in the tests' Python, made by
/// `scripts/test`) generates requests from each document against the running binary and checks
/// every answer — no server error, every status and content type declared, answers match their
/// schemas, bad input refused, undeclared methods 405, auth not ignored. The seed is fixed so a
/// run is reproducible (`st run … --seed` with another explores further).
///
/// Both pass every check. For the write document, `tests/client/schemathesis.toml` says which
/// answers a request the document allows may still get, and why: 422 for a rule of the domain
/// no schema states (a name's visible character, a password's distinct ones), 412 for a stale
/// `If-Match`, 400 for a link token the server never issued.
#[tokio::test]
async fn both_openapi_documents_hold_under_schemathesis() {
    let python = std::env::var("PRISM_TEST_PYTHON")
        .expect("PRISM_TEST_PYTHON: a Python with schemathesis (scripts/test makes one in target/test-venv)");
    let st = std::path::Path::new(&python).with_file_name("schemathesis");
    let db = format!("prism_contract_{}", uuid::Uuid::now_v7().simple());
    let data = tempfile::tempdir().expect("data dir");
    let (child, addr, read_addr) = spawn_prism(&db, data.path(), false);
    let _guard = Guard(child);
    let c = reqwest::Client::new();
    let (s, reg) = post(
        &c,
        format!("http://{addr}/v1/auth/register"),
        None,
        json!({"email": "fuzz@example.com", "password": "correct horse battery", "name": "Fuzz"}),
    )
    .await;
    assert_eq!(s, 201, "{reg}");
    let token = reg["access_token"].as_str().expect("token").to_owned();
    let hooks = data.path().join("hooks");
    std::fs::create_dir_all(&hooks).expect("hooks dir");
    // An Idempotency-Key reused with another request is the client's conflict with what the
    // server recorded (422, as the IETF draft says), not something a schema can rule out: each
    // generated request that is meant to be valid carries a key of its own.
    std::fs::write(
        hooks.join("prism_hooks.py"),
        "import uuid\nimport schemathesis\n\n\
         @schemathesis.hook\n\
         def before_call(ctx, case, **kwargs):\n\
         \x20   headers = case.headers or {}\n\
         \x20   for name in list(headers):\n\
         \x20       if name.lower() == 'idempotency-key':\n\
         \x20           headers[name] = uuid.uuid4().hex\n",
    )
    .expect("hooks");
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/client/schemathesis.toml");
    let run = |doc: String| {
        let mut cmd = Command::new(&st);
        cmd.current_dir(data.path())
            .arg("--config-file")
            .arg(&config)
            .env("SCHEMATHESIS_HOOKS", "prism_hooks")
            .env("PYTHONPATH", &hooks)
            .args([
                "run",
                &doc,
                "--checks",
                "all",
                "--seed",
                "20261130",
                "--max-examples",
                "25",
            ])
            .args(["--workers", "1", "--no-color", "--request-timeout", "20"])
            .args(["-H", &format!("Authorization: Bearer {token}")]);
        let out = cmd.output().expect("run schemathesis");
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    };
    // The server is another process: blocking this test's thread holds nothing up.
    let (ok, report) = run(format!("http://{read_addr}/openapi.json"));
    assert!(ok, "the read API's document:\n{report}");
    let (ok, report) = run(format!("http://{addr}/openapi.json"));
    assert!(ok, "the write API's document:\n{report}");
}

/// A client generated from the documents runs the README walk-through: openapi-python-client
/// (in the tests' Python) generates `prism_write` and `prism_read` from the running binary's
/// `/openapi.json`, and `tests/client/walkthrough.py` registers, confirms the address, makes a
/// workspace and a channel, posts under an `Idempotency-Key` (twice, one message) and reads the
/// message back with `X-Min-Position`, every call through a generated function and model.
#[tokio::test]
async fn a_client_generated_from_the_documents_runs_the_walkthrough() {
    let python = std::env::var("PRISM_TEST_PYTHON")
        .expect("PRISM_TEST_PYTHON: a Python with openapi-python-client (scripts/test makes one in target/test-venv)");
    let generator = std::path::Path::new(&python).with_file_name("openapi-python-client");
    let db = format!("prism_client_{}", uuid::Uuid::now_v7().simple());
    let data = tempfile::tempdir().expect("data dir");
    let (child, addr, read_addr) = spawn_prism(&db, data.path(), false);
    let _guard = Guard(child);
    let gen = tempfile::tempdir().expect("generated clients");
    for (package, api) in [("prism_write", &addr), ("prism_read", &read_addr)] {
        let doc = reqwest::get(format!("http://{api}/openapi.json"))
            .await
            .expect("document")
            .text()
            .await
            .expect("document text");
        let path = gen.path().join(format!("{package}.json"));
        std::fs::write(&path, doc).expect("write document");
        let out = Command::new(&generator)
            .current_dir(gen.path())
            .args(["generate", "--meta", "none", "--path"])
            .arg(&path)
            .args(["--output-path", package])
            .output()
            .expect("run openapi-python-client");
        assert!(
            out.status.success() && gen.path().join(package).join("client.py").exists(),
            "generating {package}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/client/walkthrough.py");
    let out = Command::new(&python)
        .arg(script)
        .env("PYTHONPATH", gen.path())
        .env("WRITE_URL", format!("http://{addr}"))
        .env("READ_URL", format!("http://{read_addr}"))
        .env("OUTBOX", data.path().join("outbox"))
        .output()
        .expect("run the walk-through");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("the generated clients ran the walk-through"), "{text}");
}
