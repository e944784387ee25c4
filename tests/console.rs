//! The web console in a real headless Chromium (Debian's `chromium` and `chromium-driver`,
//! which `scripts/test` installs when missing), driven through WebDriver against the real
//! binary: sign-in, the timeline and its filters, following the head, the inspector and its
//! difference between two positions, a tampered log caught by verification, the projections
//! for an auditor, search — and, at each step, that the console shows a caller only what the
//! API would show them. Screenshots land in `target/console-screenshots/`.
//!
//! One test, one browser and one server: starting Chromium is the expensive part.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

#[path = "support/process.rs"]
mod process;
use process::{base_url, database_url, post, spawn_prism, tool, Guard};

const PASSWORD: &str = "correct horse battery";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// chromedriver on a free port, once it answers.
async fn chromedriver() -> (Child, String) {
    let driver = std::env::var("PRISM_TEST_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let port = free_port();
    let child = Command::new(&driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {driver} ({e}): scripts/test installs chromium-driver"));
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while reqwest::get(format!("{url}/status")).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "chromedriver did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (child, url)
}

async fn browser(webdriver: &str) -> Client {
    // chromedriver wants a path, not a name to look up.
    let chromium = std::env::var("PRISM_TEST_CHROMIUM").unwrap_or_else(|_| {
        std::env::var_os("PATH")
            .into_iter()
            .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .map(|d| d.join("chromium"))
            .find(|p| p.is_file())
            .expect("chromium: scripts/test installs it")
            .to_string_lossy()
            .into_owned()
    });
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"]
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(webdriver)
        .await
        .expect("a Chromium session")
}

/// Waits (polling the page, up to 20 s) until `selector` matches an element whose text
/// contains `want`; returns that text.
async fn text_of(b: &Client, selector: &str, want: &str) -> String {
    let started = Instant::now();
    loop {
        if let Ok(found) = b.find_all(Locator::Css(selector)).await {
            for e in found {
                if let Ok(t) = e.text().await {
                    if t.contains(want) {
                        return t;
                    }
                }
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no `{selector}` containing {want:?} in:\n{}",
            b.source().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn fill(b: &Client, selector: &str, value: &str) {
    let field = b.find(Locator::Css(selector)).await.expect(selector);
    field.clear().await.expect("clear");
    if !value.is_empty() {
        field.send_keys(value).await.expect("type");
    }
}

async fn click(b: &Client, selector: &str) {
    b.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(selector))
        .await
        .unwrap_or_else(|e| panic!("{selector}: {e}"))
        .click()
        .await
        .expect("click");
}

async fn sign_in(b: &Client, read: &str, email: &str, name: &str) {
    b.goto(&format!("http://{read}/console"))
        .await
        .expect("open the console");
    // A fresh tab of the same origin shares sessionStorage only with itself: sign out first.
    if b.find(Locator::Css("#sign-out:not([hidden])")).await.is_ok() {
        click(b, "#sign-out").await;
    }
    b.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("#signin:not([hidden]) #signin-form"))
        .await
        .expect("the sign-in form");
    fill(b, "#signin-form [name=email]", email).await;
    fill(b, "#signin-form [name=password]", PASSWORD).await;
    click(b, "#signin-form button").await;
    text_of(b, "#who .name", name).await;
}

async fn screenshot(b: &Client, name: &str) {
    let dir = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("console-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    let png = b.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
}

struct People {
    write: String,
    c: reqwest::Client,
}

impl People {
    async fn register(&self, email: &str, name: &str) -> String {
        let (s, b) = post(
            &self.c,
            format!("http://{}/v1/auth/register", self.write),
            None,
            json!({"email": email, "password": PASSWORD, "name": name}),
        )
        .await;
        assert_eq!(s, 201, "{b}");
        b["access_token"].as_str().expect("token").to_owned()
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> Value {
        let (s, b) = post(&self.c, format!("http://{}{path}", self.write), Some(token), body).await;
        assert!((200..300).contains(&s), "{path}: {s} {b}");
        b
    }
}

/// A fragment as `token` sees it, over plain HTTP: what an attacker with the page's script
/// removed would get.
async fn fragment(c: &reqwest::Client, read: &str, path: &str, token: &str) -> (u16, String) {
    let res = c
        .get(format!("http://{read}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("fragment");
    (res.status().as_u16(), res.text().await.unwrap_or_default())
}

#[tokio::test]
async fn the_console_in_a_real_browser_shows_each_caller_what_the_api_would() {
    let db = format!("prism_console_{}", uuid::Uuid::now_v7().simple());
    let data = tempfile::tempdir().expect("data dir");
    let (child, write, read) = spawn_prism(&db, data.path(), false);
    let _server = Guard(child);
    let (driver, webdriver) = chromedriver().await;
    let _driver = Guard(driver);
    let people = People {
        write: write.clone(),
        c: reqwest::Client::new(),
    };

    // Acme: Alice owns it; Bob and Dave are members who talk in a direct conversation Alice is
    // not part of. Other: Eve's, which Alice is not in.
    let alice = people.register("alice@example.com", "Alice").await;
    let bob = people.register("bob@example.com", "Bob").await;
    let dave = people.register("dave@example.com", "Dave").await;
    let eve = people.register("eve@example.com", "Eve").await;
    let carol = people.register("carol@example.com", "Carol").await;
    let me = |token: String| {
        let c = people.c.clone();
        let read = read.clone();
        async move {
            let res = c
                .get(format!("http://{read}/v1/me"))
                .bearer_auth(token)
                .send()
                .await
                .expect("me");
            res.json::<Value>().await.expect("json")["user_id"]
                .as_str()
                .expect("user id")
                .to_owned()
        }
    };
    let (dave_id, carol_id) = (me(dave.clone()).await, me(carol.clone()).await);
    let acme = people.post("/v1/workspaces", &alice, json!({"name": "Acme"})).await;
    let acme_id = acme["id"].as_str().expect("id").to_owned();
    let code = acme["join_code"].as_str().expect("join code").to_owned();
    for t in [&bob, &dave] {
        people
            .post(&format!("/v1/workspaces/{acme_id}/join"), t, json!({"join_code": code}))
            .await;
    }
    let general = people
        .post(
            &format!("/v1/workspaces/{acme_id}/channels"),
            &alice,
            json!({"name": "general"}),
        )
        .await;
    let channel_id = general["id"].as_str().expect("id").to_owned();
    let hello = people
        .post(
            &format!("/v1/channels/{channel_id}/messages"),
            &alice,
            json!({"body": "hello acme"}),
        )
        .await;
    let (s, renamed) = {
        let res = people
            .c
            .patch(format!("http://{write}/v1/channels/{channel_id}"))
            .bearer_auth(&alice)
            .json(&json!({"name": "announcements"}))
            .send()
            .await
            .expect("rename");
        (res.status().as_u16(), res.json::<Value>().await.unwrap_or(Value::Null))
    };
    assert_eq!(s, 200, "{renamed}");
    let dm = people
        .post(
            &format!("/v1/workspaces/{acme_id}/conversations"),
            &bob,
            json!({"member_id": dave_id}),
        )
        .await;
    let dm_id = dm["id"].as_str().expect("id").to_owned();
    let other = people.post("/v1/workspaces", &eve, json!({"name": "Other"})).await;
    let other_id = other["id"].as_str().expect("id").to_owned();
    let eve_channel = people
        .post(
            &format!("/v1/workspaces/{other_id}/channels"),
            &eve,
            json!({"name": "eve-plans"}),
        )
        .await;
    let eve_channel = eve_channel["id"].as_str().expect("id").to_owned();
    let last = people
        .post(
            &format!("/v1/channels/{eve_channel}/messages"),
            &eve,
            json!({"body": "hello from the secret plans"}),
        )
        .await;
    let (ok, out) = tool(&db, &["roles", "grant", &carol_id, "auditor"]);
    assert!(ok, "{out}");
    // The read models and this node's search index have caught up with everything above
    // before the browser looks (the console's own fragments do not wait).
    for path in [format!("/v1/workspaces/{acme_id}"), "/v1/search?q=hello".to_owned()] {
        let res = people
            .c
            .get(format!("http://{read}{path}"))
            .bearer_auth(&alice)
            .header("x-min-position", last["position"].to_string())
            .send()
            .await
            .expect("caught up");
        assert_eq!(res.status().as_u16(), 200, "{path}");
    }
    assert!(hello["position"].as_i64() < last["position"].as_i64());

    let b = browser(&webdriver).await;

    // Alice signs in: the timeline of Acme, filtered to channel events.
    sign_in(&b, &read, "alice@example.com", "Alice").await;
    text_of(&b, "nav a.current", "Timeline").await;
    fill(&b, "#view-timeline [name=workspace_id]", &acme_id).await;
    fill(&b, "#view-timeline [name=type]", "channel.").await;
    click(&b, "#view-timeline form button[type=submit]").await;
    text_of(&b, "#timeline-out tbody", "channel.updated").await;
    let types: Vec<String> = {
        let mut all = Vec::new();
        for td in b.find_all(Locator::Css("#timeline-out td.type")).await.expect("rows") {
            all.push(td.text().await.expect("text"));
        }
        all
    };
    assert_eq!(
        types,
        ["channel.created v1", "channel.updated v1"],
        "only what the filter names"
    );
    // The actor filter: Bob did nothing with channels.
    let bob_id = me(bob.clone()).await;
    fill(&b, "#view-timeline [name=actor]", &bob_id).await;
    click(&b, "#view-timeline form button[type=submit]").await;
    text_of(&b, "#timeline-out .empty", "No events match").await;
    fill(&b, "#view-timeline [name=actor]", "").await;
    fill(&b, "#view-timeline [name=type]", "").await;
    click(&b, "#view-timeline form button[type=submit]").await;
    let page = text_of(&b, "#timeline-out tbody", "message.created").await;
    // Bob and Dave's conversation is theirs: the owner does not see it, here or in the API.
    assert!(!page.contains("conversation"), "{page}");
    assert!(!page.contains(&dm_id), "{page}");
    assert!(!page.contains("eve-plans"), "{page}");
    screenshot(&b, "timeline").await;

    // Following the head: a message posted now shows up without a reload.
    click(&b, "#view-timeline [name=follow]").await;
    people
        .post(
            &format!("/v1/channels/{channel_id}/messages"),
            &bob,
            json!({"body": "live from bob"}),
        )
        .await;
    text_of(&b, "#timeline-out tbody", "live from bob").await;

    // What Alice may not see, asked for directly: Eve's workspace and the conversation.
    let c = &people.c;
    let (s, body) = fragment(c, &read, &format!("/console/timeline?workspace_id={other_id}"), &alice).await;
    assert_eq!(s, 404, "{body}");
    assert!(!body.contains("eve-plans"), "{body}");
    let (s, body) = fragment(
        c,
        &read,
        &format!("/console/inspect?type=conversation&id={dm_id}"),
        &alice,
    )
    .await;
    assert_eq!(s, 404, "{body}");
    let (s, body) = fragment(c, &read, "/console/timeline", "not-a-token").await;
    assert_eq!(s, 401, "{body}");
    // Sign-in through the console takes JSON only, as the write API does: a cross-site form
    // cannot drive it.
    let res = c
        .post(format!("http://{read}/console/auth/login"))
        .header("content-type", "text/plain")
        .body(json!({"email": "alice@example.com", "password": PASSWORD}).to_string())
        .send()
        .await
        .expect("login");
    assert_eq!(res.status().as_u16(), 415);
    // The edge's own refusals under /console carry the console's headers too.
    let long = format!("http://{read}/console/timeline?actor={}", "a".repeat(10_000));
    for (res, want) in [
        (c.put(format!("http://{read}/console/timeline")).send().await, 405),
        (c.get(long).send().await, 414),
        (
            c.get(format!("http://{read}/console/me"))
                .header("x-padding", "p".repeat(40_000))
                .send()
                .await,
            431,
        ),
    ] {
        let res = res.expect("request");
        assert_eq!(res.status().as_u16(), want);
        let csp = res
            .headers()
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok());
        assert!(
            csp.is_some_and(|v| v.contains("default-src 'none'")),
            "{want} without the console's CSP: {:?}",
            res.headers()
        );
        assert_eq!(res.headers()["x-frame-options"], "DENY");
    }
    let (s, body) = fragment(c, &read, "/console/projections", &alice).await;
    assert_eq!(s, 200);
    assert!(
        body.contains("for platform auditors") && !body.contains("read_models"),
        "{body}"
    );

    // The inspector: from the timeline to the channel, then what changed since its creation.
    click(&b, &format!("#timeline-out a[data-inspect='channel/{channel_id}']")).await;
    text_of(&b, "nav a.current", "Inspector").await;
    let state = text_of(&b, "#state-json", "announcements").await;
    assert!(state.contains("\"name\": \"announcements\""), "{state}");
    click(&b, "#inspector-out button[data-diff-from]").await;
    let diff = text_of(&b, "#diff", "general").await;
    assert!(
        diff.lines()
            .any(|l| l.contains("name") && l.contains("\"general\"") && l.contains("\"announcements\"")),
        "{diff}"
    );
    screenshot(&b, "inspector").await;

    // A member is told the timeline is for admins, as the API tells them.
    sign_in(&b, &read, "bob@example.com", "Bob").await;
    fill(&b, "#view-timeline [name=workspace_id]", &acme_id).await;
    click(&b, "#view-timeline form button[type=submit]").await;
    text_of(&b, "#timeline-out .error", "403").await;

    // Someone changes the log behind Prism's back: verification names the first bad event.
    sign_in(&b, &read, "alice@example.com", "Alice").await;
    click(&b, "nav a[href='#verify']").await;
    fill(&b, "#view-verify [name=workspace_id]", &acme_id).await;
    click(&b, "#view-verify form button[type=submit]").await;
    text_of(&b, "#verdict", "Intact").await;
    let pool = sqlx::PgPool::connect(&database_url(&db)).await.expect("db");
    let tampered: i64 = sqlx::query_scalar(
        "UPDATE events SET payload = jsonb_set(payload, '{name}', '\"owned\"') \
         WHERE aggregate_id = $1 AND sequence = 2 RETURNING global_position",
    )
    .bind(uuid::Uuid::parse_str(&channel_id).expect("uuid"))
    .fetch_one(&pool)
    .await
    .expect("tamper");
    pool.close().await;
    click(&b, "#view-verify form button[type=submit]").await;
    text_of(&b, "#verdict", "Not intact").await;
    let first = text_of(&b, "#first-bad", &channel_id).await;
    assert!(first.contains(&tampered.to_string()), "{first}");
    screenshot(&b, "verify-tampered").await;

    // An auditor sees every projection's progress, with its chart, and the whole log.
    sign_in(&b, &read, "carol@example.com", "Carol").await;
    text_of(&b, "#who .badge", "auditor").await;
    click(&b, "nav a[href='#projections']").await;
    let table = text_of(&b, "#projections", "read_models").await;
    for name in ["audit", "spectrum"] {
        assert!(table.contains(name), "{table}");
    }
    // Events written while the view refreshes (every two seconds) show as a rate and a chart.
    for i in 0..5 {
        people
            .post(
                &format!("/v1/channels/{channel_id}/messages"),
                &alice,
                json!({"body": format!("tick {i}")}),
            )
            .await;
    }
    let started = Instant::now();
    loop {
        // Read in one step: the view replaces its table every two seconds.
        let seen = b
            .execute(
                "const row = document.querySelector('tr[data-projection=read_models]');\n\
                 return row ? [row.children[3].textContent, row.querySelectorAll('svg.chart circle').length] : ['', 0];",
                vec![],
            )
            .await
            .expect("read the row");
        let rate = seen[0].as_str().unwrap_or_default().to_owned();
        let dots = seen[1].as_u64().unwrap_or(0);
        if rate.parse::<f64>().is_ok_and(|r| r > 0.0) && dots >= 2 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no rate from the readings: {rate}, {dots} dots"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    screenshot(&b, "projections").await;
    click(&b, "nav a[href='#timeline']").await;
    fill(&b, "#view-timeline [name=workspace_id]", "").await;
    fill(&b, "#view-timeline [name=type]", "channel.created").await;
    click(&b, "#view-timeline form button[type=submit]").await;
    text_of(&b, "#timeline-out tbody", &eve_channel).await;

    // Search, as Alice: her workspaces' words, marked.
    sign_in(&b, &read, "alice@example.com", "Alice").await;
    click(&b, "nav a[href='#search']").await;
    fill(&b, "#view-search [name=q]", "hello").await;
    click(&b, "#view-search form button[type=submit]").await;
    text_of(&b, "#search-out .hits mark", "hello").await;
    let hits = text_of(&b, "#search-out .hits", "acme").await;
    assert!(
        !hits.contains("secret plans"),
        "Eve's message is not Alice's to find: {hits}"
    );
    let (s, body) = fragment(c, &read, "/console/search?q=secret", &alice).await;
    assert_eq!(s, 200);
    assert!(!body.contains("secret plans"), "{body}");

    // A session signed out through the console is over everywhere the console reads: its
    // access token, still unexpired, is refused by every fragment once the node has read the
    // logout from the log (within Revocations::POLL and the safe horizon; bounded here).
    let (s, session) = post(
        c,
        format!("http://{read}/console/auth/login"),
        None,
        json!({"email": "alice@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(s, 200, "{session}");
    let access = session["access_token"].as_str().expect("access token").to_owned();
    let (s, body) = fragment(c, &read, "/console/me", &access).await;
    assert_eq!(s, 200, "a fresh session works: {body}");
    let (s, body) = post(
        c,
        format!("http://{read}/console/auth/logout"),
        None,
        json!({"refresh_token": session["refresh_token"]}),
    )
    .await;
    assert_eq!(s, 204, "{body}");
    let started = Instant::now();
    while fragment(c, &read, "/console/me", &access).await.0 != 401 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "a signed-out session still reads the console"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for path in [
        format!("/console/timeline?workspace_id={acme_id}"),
        "/console/search?q=hello".to_owned(),
        format!("/console/verify?workspace_id={acme_id}"),
    ] {
        let (s, body) = fragment(c, &read, &path, &access).await;
        assert_eq!(s, 401, "{path}: {body}");
        assert!(!body.contains("hello"), "{path}: {body}");
    }

    // Sign-in through the console is limited per browser, not per console: someone guessing
    // passwords from one address (127.0.0.2) runs out of attempts, and a browser elsewhere
    // (127.0.0.3) still signs in. The write API sees each browser's own address.
    let from = |ip: [u8; 4]| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from(ip))
            .build()
            .expect("client")
    };
    let (guesser, elsewhere) = (from([127, 0, 0, 2]), from([127, 0, 0, 3]));
    let mut limited = false;
    for i in 0..40 {
        let (s, body) = post(
            &guesser,
            format!("http://{read}/console/auth/login"),
            None,
            json!({"email": format!("guess{i}@example.com"), "password": "not the password"}),
        )
        .await;
        if s == 429 {
            assert_eq!(body["error"]["code"], "rate_limited", "{body}");
            limited = true;
            break;
        }
        assert_eq!(s, 401, "{body}");
    }
    assert!(limited, "forty wrong passwords from one address were never limited");
    let (s, body) = post(
        &elsewhere,
        format!("http://{read}/console/auth/login"),
        None,
        json!({"email": "alice@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(
        s, 200,
        "another browser's sign-in is not refused for the guesser's: {body}"
    );

    b.close().await.expect("close the browser");
    let admin = sqlx::PgPool::connect(&base_url()).await.expect("admin connection");
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .execute(&admin)
        .await;
}
