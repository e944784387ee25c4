//! Notifications, the direct-message inbox and one channel, end to end through both APIs:
//! who is told what (mentions against members at the time, threads, direct messages,
//! invitations), who is never told (outsiders, the removed, the erased), read state, and the
//! live `notification` event on the caller's stream.

mod support;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request};
use prism_auth::Jwt;
use prism_event_store::PgEventStore;
use serde_json::{json, Value};
use sqlx::PgPool;
use support::{call, Person};
use tower::ServiceExt;

const SECRET: &[u8] = b"notifications-e2e-notifications-e2e!!!!";

struct World {
    write: axum::Router,
    read: axum::Router,
    store: PgEventStore,
    ws: String,
    channel: String,
}

async fn world(pool: PgPool) -> World {
    let jwt = Jwt::new(SECRET, Jwt::DEFAULT_TTL);
    let store = PgEventStore::new(pool.clone(), 0).with_group_commit(2, 64);
    let commands = support::commands(&store, &jwt);
    let write = prism_write_api::app(prism_write_api::AppState::new(commands));
    let read = prism_read_api::app(
        prism_read_api::AppState::new(pool.clone(), jwt).with_feed(prism_projections::feed::Feed::new(pool)),
    );
    World {
        write,
        read,
        store,
        ws: String::new(),
        channel: String::new(),
    }
}

impl World {
    /// `owner`'s workspace Acme with `members` and a channel #general.
    async fn acme(&mut self, owner: &Person, members: &[&Person]) {
        let created = self
            .write(owner, Method::POST, "/v1/workspaces", json!({"name": "Acme"}))
            .await;
        self.ws = created["id"].as_str().expect("id").to_owned();
        for p in members {
            let join = format!("/v1/workspaces/{}/join", self.ws);
            self.write(p, Method::POST, &join, json!({"join_code": created["join_code"]}))
                .await;
        }
        let path = format!("/v1/workspaces/{}/channels", self.ws);
        let ch = self.write(owner, Method::POST, &path, json!({"name": "general"})).await;
        self.channel = ch["id"].as_str().expect("id").to_owned();
    }

    async fn person(&self, name: &str) -> Person {
        support::person(&self.write, name).await
    }

    async fn write(&self, who: &Person, method: Method, path: &str, body: Value) -> Value {
        let (s, b) = call(&self.write, method, path, Some(&who.token), Some(body)).await;
        assert!(s == 200 || s == 201, "{path}: {s} {b}");
        b
    }

    /// The one conversation of `who` and `with` in the workspace.
    async fn conversation(&self, who: &Person, with: &Person) -> String {
        let path = format!("/v1/workspaces/{}/conversations", self.ws);
        let c = self
            .write(who, Method::POST, &path, json!({"member_id": with.id}))
            .await;
        c["id"].as_str().expect("id").to_owned()
    }

    async fn post(&self, who: &Person, channel: &str, body: &str, parent: Option<&str>) -> String {
        let b = self
            .write(
                who,
                Method::POST,
                &format!("/v1/channels/{channel}/messages"),
                json!({"body": body, "parent_id": parent}),
            )
            .await;
        b["id"].as_str().expect("id").to_owned()
    }

    /// A GET on the read API once the read models have caught up.
    async fn get(&self, who: &Person, path: &str) -> (u16, Value) {
        support::project_read_models(&self.store).await;
        call(&self.read, Method::GET, path, Some(&who.token), None).await
    }

    async fn notes(&self, who: &Person, query: &str) -> Vec<Value> {
        let (s, b) = self.get(who, &format!("/v1/notifications{query}")).await;
        assert_eq!(s, 200, "{b}");
        b["items"].as_array().expect("items").clone()
    }

    async fn counts(&self, who: &Person) -> Value {
        let (s, b) = self.get(who, "/v1/notifications/unread-counts").await;
        assert_eq!(s, 200, "{b}");
        b
    }
}

fn kinds(notes: &[Value]) -> Vec<(String, String)> {
    let mut k: Vec<(String, String)> = notes
        .iter()
        .map(|n| {
            (
                n["kind"].as_str().expect("kind").to_owned(),
                n["subject_id"].as_str().expect("subject").to_owned(),
            )
        })
        .collect();
    k.sort();
    k
}

fn pair(kind: &str, subject: &str) -> (String, String) {
    (kind.to_owned(), subject.to_owned())
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn mentions_replies_direct_messages_and_invitations_reach_whom_they_concern_and_no_one_else(pool: PgPool) {
    let mut w = world(pool).await;
    let (ada, bob, cy, eve) = (
        w.person("Ada Lovelace").await,
        w.person("Bob").await,
        w.person("Cy").await,
        w.person("Eve").await,
    );
    w.acme(&ada, &[&bob, &cy]).await;
    // Eve has a workspace of her own: she is no member of Acme.
    w.write(&eve, Method::POST, "/v1/workspaces", json!({"name": "Elsewhere"}))
        .await;
    let channel = w.channel.clone();

    // A mention of a member (by display name, any case), of an outsider, of no one, and an address.
    let hello = w
        .post(
            &ada,
            &channel,
            "hi @BOB, and @eve and @nobody; mail cy@example.com",
            None,
        )
        .await;
    // A thread: Bob replies to Ada, then Cy replies (Ada and Bob are told).
    let r1 = w.post(&bob, &channel, "on it", Some(&hello)).await;
    let r2 = w.post(&cy, &channel, "me too", Some(&hello)).await;
    // A direct message from Ada to Cy.
    let conv = w.conversation(&ada, &cy).await;
    let dm = w.post(&ada, &conv, "psst, @bob must not hear of this", None).await;
    // A doc by Cy mentions Ada by her handle (name without spaces) and herself.
    let doc = w
        .write(
            &cy,
            Method::POST,
            &format!("/v1/workspaces/{}/docs", w.ws),
            json!({"title": "Plan", "body": "ask @adalovelace and @cy"}),
        )
        .await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    // Ada invites Eve's address: Eve, whose account has it confirmed, is told in Prism as well;
    // Dan, who registered an address without confirming it, is not.
    sqlx::query("UPDATE credentials SET email_verified_at = now() WHERE user_id = $1::uuid")
        .bind(&eve.id)
        .execute(w.store.pool())
        .await
        .expect("Eve confirmed her address (the mail flow is tested in tests/mail.rs)");
    let dan = w.person("Dan").await;
    w.write(
        &ada,
        Method::POST,
        &format!("/v1/workspaces/{}/invitations", w.ws),
        json!({"email": dan.email, "role": "member"}),
    )
    .await;
    let invitation = w
        .write(
            &ada,
            Method::POST,
            &format!("/v1/workspaces/{}/invitations", w.ws),
            json!({"email": eve.email, "role": "member"}),
        )
        .await["id"]
        .as_str()
        .expect("id")
        .to_owned();

    assert_eq!(kinds(&w.notes(&ada, "").await), {
        let mut v = vec![pair("mention", &doc), pair("reply", &r1), pair("reply", &r2)];
        v.sort();
        v
    });
    assert_eq!(
        kinds(&w.notes(&bob, "").await),
        {
            let mut v = vec![pair("mention", &hello), pair("reply", &r2)];
            v.sort();
            v
        },
        "Bob hears of the mention and of Cy's reply, never of the direct message that names him"
    );
    assert_eq!(kinds(&w.notes(&cy, "").await), vec![pair("direct_message", &dm)]);
    let eve_notes = w.notes(&eve, "").await;
    assert_eq!(
        kinds(&eve_notes),
        vec![pair("invitation", &invitation)],
        "no mention for an outsider"
    );
    assert_eq!(eve_notes[0]["workspace_id"], json!(w.ws));
    assert_eq!(eve_notes[0]["read"], json!(false));
    assert!(
        w.notes(&dan, "").await.is_empty(),
        "an unconfirmed address is told nothing"
    );
    // The invitee's account stays hidden from the inviter's view of the log.
    let (s, history) = w.get(&ada, &format!("/v1/aggregates/workspace/{}/events", w.ws)).await;
    assert_eq!(s, 200, "{history}");
    assert!(!history.to_string().contains(&eve.id), "{history}");
    assert!(!history.to_string().contains("invitee"), "{history}");

    // Counts per workspace; marking one read, then all.
    assert_eq!(w.counts(&ada).await, json!({ w.ws.clone(): 3 }));
    let ada_notes = w.notes(&ada, "").await;
    let first = ada_notes[0]["id"].as_str().expect("id").to_owned();
    // Someone else's notification id changes nothing for its owner.
    let bobs = w.notes(&bob, "").await[0]["id"].as_str().expect("id").to_owned();
    w.write(
        &ada,
        Method::POST,
        "/v1/notifications/read",
        json!({"ids": [first, bobs]}),
    )
    .await;
    assert_eq!(w.counts(&ada).await, json!({ w.ws.clone(): 2 }));
    assert_eq!(w.counts(&bob).await, json!({ w.ws.clone(): 2 }));
    assert_eq!(w.notes(&ada, "?unread=true").await.len(), 2);
    w.write(&ada, Method::POST, "/v1/notifications/read", json!({"all": true}))
        .await;
    assert_eq!(w.counts(&ada).await, json!({}));
    assert!(w.notes(&ada, "?unread=true").await.is_empty());
    assert_eq!(w.notes(&ada, "").await.len(), 3, "read ones are still listed");
    // Bad requests: nothing named, too many named.
    for body in [json!({}), json!({"ids": vec![uuid::Uuid::now_v7(); 101]})] {
        let (s, b) = call(
            &w.write,
            Method::POST,
            "/v1/notifications/read",
            Some(&ada.token),
            Some(body),
        )
        .await;
        assert_eq!(s, 422, "{b}");
    }

    // Pages: newest first, the cursor continues where the page ended.
    let (s, page) = w.get(&ada, "/v1/notifications?limit=2").await;
    assert_eq!(s, 200);
    let cursor = page["next_cursor"].as_str().expect("a next page").to_owned();
    let (_, rest) = w.get(&ada, &format!("/v1/notifications?limit=2&cursor={cursor}")).await;
    let all: Vec<Value> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .chain(rest["items"].as_array().expect("items"))
        .cloned()
        .collect();
    assert_eq!(all, w.notes(&ada, "").await);
    assert!(rest["next_cursor"].is_null());

    // The inbox: Cy sees the conversation Ada started, with Ada's name, the last message and
    // one unread; Bob has none; Cy reads it and the count drops.
    let (s, inbox) = w.get(&cy, "/v1/conversations").await;
    assert_eq!(s, 200, "{inbox}");
    let item = &inbox["items"][0];
    assert_eq!(item["id"], json!(conv));
    assert_eq!(item["workspace_id"], json!(w.ws));
    assert_eq!(item["other_member"], json!({"user_id": ada.id, "name": "Ada Lovelace"}));
    assert_eq!(item["last_message"]["id"], json!(dm));
    assert_eq!(item["last_message"]["body"], json!("psst, @bob must not hear of this"));
    assert_eq!(item["unread"], json!(1));
    let (_, none) = w.get(&bob, "/v1/conversations").await;
    assert_eq!(none["items"], json!([]));
    let dm_note = w.notes(&cy, "").await[0]["id"].clone();
    w.write(&cy, Method::POST, "/v1/notifications/read", json!({"ids": [dm_note]}))
        .await;
    let (_, inbox) = w.get(&cy, "/v1/conversations").await;
    assert_eq!(inbox["items"][0]["unread"], json!(0));
    // Newest activity first: a conversation Bob starts later with Cy, without messages, comes
    // after Ada's only until Ada writes again.
    let conv2 = w.conversation(&bob, &cy).await;
    let (_, inbox) = w.get(&cy, "/v1/conversations").await;
    let order: Vec<&str> = inbox["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["id"].as_str().expect("id"))
        .collect();
    assert_eq!(order, vec![conv2.as_str(), conv.as_str()]);
    w.post(&ada, &conv, "again", None).await;
    let (_, inbox) = w.get(&cy, "/v1/conversations?limit=1").await;
    assert_eq!(inbox["items"][0]["id"], json!(conv));
    let cursor = inbox["next_cursor"].as_str().expect("a next page").to_owned();
    let (_, inbox) = w.get(&cy, &format!("/v1/conversations?limit=1&cursor={cursor}")).await;
    assert_eq!(inbox["items"][0]["id"], json!(conv2));

    // One channel: members see it; an outsider and a conversation's id get 404.
    let (s, c) = w.get(&bob, &format!("/v1/channels/{channel}")).await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(
        (c["name"].as_str(), c["workspace_id"].as_str()),
        (Some("general"), Some(w.ws.as_str()))
    );
    assert_eq!(w.get(&eve, &format!("/v1/channels/{channel}")).await.0, 404);
    assert_eq!(w.get(&ada, &format!("/v1/channels/{conv}")).await.0, 404);

    // A renamed member answers to the new handle only.
    w.write(&bob, Method::PATCH, "/v1/me", json!({"name": "Robert"})).await;
    let old = w.post(&ada, &channel, "ping @bob", None).await;
    let new = w.post(&ada, &channel, "ping @robert", None).await;
    let bob_kinds = kinds(&w.notes(&bob, "").await);
    assert!(
        bob_kinds.contains(&pair("mention", &new)) && !bob_kinds.contains(&pair("mention", &old)),
        "{bob_kinds:?}"
    );

    // Deleting the message takes its notification away.
    w.write(&ada, Method::DELETE, &format!("/v1/messages/{new}"), json!({}))
        .await;
    assert!(!kinds(&w.notes(&bob, "").await).contains(&pair("mention", &new)));

    // Removed: Bob's notifications of Acme go, and a later mention tells him nothing.
    let (s, b) = call(
        &w.write,
        Method::DELETE,
        &format!("/v1/workspaces/{}/members/{}", w.ws, bob.id),
        Some(&ada.token),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    w.post(&ada, &channel, "hello @robert?", None).await;
    assert!(w.notes(&bob, "").await.is_empty());
    assert_eq!(w.counts(&bob).await, json!({}));

    // Erased: Cy's notifications are gone with the account.
    assert_eq!(support::delete(&w.write, "/v1/me", &cy.token).await, 202);
    support::project_read_models(&w.store).await;
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM rm_notifications WHERE user_id = $1::uuid")
        .bind(&cy.id)
        .fetch_one(w.store.pool())
        .await
        .expect("count");
    assert_eq!(left, 0);

    // A revoked session reads and marks nothing.
    support::logout(&w.write, &ada.refresh).await;
    support::until_refused(
        &w.write,
        &w.read,
        &ada.token,
        ("/v1/notifications/read", json!({"all": true})),
        "/v1/notifications",
    )
    .await;
    let one_channel = format!("/v1/channels/{channel}");
    for path in [
        "/v1/notifications/unread-counts",
        "/v1/conversations",
        one_channel.as_str(),
    ] {
        assert_eq!(
            call(&w.read, Method::GET, path, Some(&ada.token), None).await.0,
            401,
            "{path}"
        );
    }
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_notification_arrives_live_on_its_recipients_stream_only(pool: PgPool) {
    let mut w = world(pool).await;
    let (ada, bob, cy) = (w.person("Ada").await, w.person("Bob").await, w.person("Cy").await);
    w.acme(&ada, &[&bob, &cy]).await;
    let channel = w.channel.clone();
    support::project_read_models(&w.store).await;
    let open = |who: &Person| {
        let req = Request::builder()
            .uri(format!("/v1/workspaces/{}/stream", w.ws))
            .header("authorization", format!("Bearer {}", who.token))
            .body(Body::empty())
            .expect("request");
        w.read.clone().oneshot(req)
    };
    let (bob_stream, cy_stream) = (open(&bob).await.expect("bob"), open(&cy).await.expect("cy"));
    assert_eq!(bob_stream.status(), 200);
    let bob_reader = tokio::spawn(read_sse(bob_stream.into_body(), "event: notification"));
    let cy_reader = tokio::spawn(read_sse(cy_stream.into_body(), "the-end-marker"));
    // The read models run as they would in a node; the streams' node tail sees what they commit.
    let store = w.store.clone();
    let projector = tokio::spawn(async move {
        loop {
            support::project_read_models(&store).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    // Both streams subscribed to the node's notifications before their answers came back.
    let hello = w.post(&ada, &channel, "look @bob", None).await;
    let bob_sees = bob_reader.await.expect("bob");
    // Cy reads until the message after it: she must have seen no notification of Bob's.
    let started = Instant::now();
    w.post(&ada, &channel, "the-end-marker", None).await;
    let cy_sees = cy_reader.await.expect("cy");
    projector.abort();
    assert!(started.elapsed() < Duration::from_secs(10));
    let note_line = bob_sees
        .lines()
        .skip_while(|l| *l != "event: notification")
        .find_map(|l| l.strip_prefix("data: "))
        .expect("a notification event");
    let note: Value = serde_json::from_str(note_line).expect("json");
    assert_eq!(
        (note["kind"].as_str(), note["subject_id"].as_str()),
        (Some("mention"), Some(hello.as_str()))
    );
    assert!(cy_sees.contains("the-end-marker"), "{cy_sees}");
    assert!(!cy_sees.contains("event: notification"), "{cy_sees}");
}

/// Reads an SSE body until `until` appears in it (or 10 s pass); answers what was read.
async fn read_sse(body: Body, until: &str) -> String {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !text.contains(until) {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            _ => break,
        }
    }
    text
}
