//! Files end to end: upload (multipart, streamed, sniffed, size-limited) through the write
//! API, attach to messages and docs, download through the read API with the authorization of
//! what shows the file, find by name and `has:attachment`, erase — against the local
//! filesystem store and against an S3-compatible server (moto, started by `scripts/test`).

mod support;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request};
use http_body_util::BodyExt;
use prism_auth::Jwt;
use prism_blobs::Blobs;
use prism_event_store::PgEventStore;
use prism_projections::search::{SearchIndex, SearchIndexer};
use serde_json::{json, Value};
use sha2::Digest;
use sqlx::PgPool;
use support::{call, Person};
use tower::ServiceExt;

const SECRET: &[u8] = b"files-e2e-files-e2e-files-e2e-files-e2!";
const PDF: &[u8] = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n";

struct World {
    write: axum::Router,
    read: axum::Router,
    store: PgEventStore,
    blobs: Blobs,
    index: Arc<SearchIndex>,
    indexer: Arc<SearchIndexer>,
    _dir: tempfile::TempDir,
}

async fn world(pool: PgPool, blobs: Blobs, dir: tempfile::TempDir) -> World {
    let jwt = Jwt::new(SECRET, Jwt::DEFAULT_TTL);
    let store = PgEventStore::new(pool.clone(), 0).with_group_commit(2, 64);
    let commands = support::commands(&store, &jwt).with_blobs(blobs.clone());
    let index = Arc::new(SearchIndex::open(&dir.path().join("search")).expect("index"));
    let store_id = store.store_id().await.expect("store id");
    let indexer = Arc::new(SearchIndexer::new(index.clone(), store_id, 15_000_000).expect("indexer"));
    World {
        write: prism_write_api::app(prism_write_api::AppState::new(commands).with_max_upload(64 * 1024)),
        read: prism_read_api::app(
            prism_read_api::AppState::new(pool, jwt)
                .with_blobs(blobs.clone())
                .with_search(index.clone()),
        ),
        store,
        blobs,
        index,
        indexer,
        _dir: dir,
    }
}

/// A multipart body with one part `field` named `filename`, claiming `claimed` as its type.
fn form(field: &str, filename: &str, claimed: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "prism-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: {claimed}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

impl World {
    async fn person(&self, name: &str) -> Person {
        support::person(&self.write, name).await
    }

    async fn ok(&self, who: &Person, method: Method, path: &str, body: Value) -> Value {
        let (s, b) = call(&self.write, method, path, Some(&who.token), Some(body)).await;
        assert!(s == 200 || s == 201, "{path}: {s} {b}");
        b
    }

    /// A workspace of `owner` with `members` and a channel: (workspace, channel).
    async fn workspace(&self, owner: &Person, members: &[&Person]) -> (String, String) {
        let w = self
            .ok(owner, Method::POST, "/v1/workspaces", json!({"name": "Acme"}))
            .await;
        let ws = w["id"].as_str().expect("id").to_owned();
        for p in members {
            let join = format!("/v1/workspaces/{ws}/join");
            self.ok(p, Method::POST, &join, json!({"join_code": w["join_code"]}))
                .await;
        }
        let path = format!("/v1/workspaces/{ws}/channels");
        let c = self.ok(owner, Method::POST, &path, json!({"name": "general"})).await;
        (ws, c["id"].as_str().expect("id").to_owned())
    }

    async fn upload_raw(&self, token: Option<&str>, ws: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(format!("/v1/workspaces/{ws}/files"))
            .header("content-type", content_type);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let res = self
            .write
            .clone()
            .oneshot(req.body(Body::from(body)).expect("request"))
            .await
            .expect("infallible");
        let status = res.status().as_u16();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn upload(&self, who: &Person, ws: &str, name: &str, bytes: &[u8]) -> Value {
        let (ct, body) = form("file", name, "image/png", bytes);
        let (s, b) = self.upload_raw(Some(&who.token), ws, &ct, body).await;
        assert_eq!(s, 201, "{b}");
        b
    }

    /// A download once the read models have caught up: status, headers, bytes.
    async fn download(&self, token: &str, path: &str) -> (u16, axum::http::HeaderMap, Vec<u8>) {
        support::project_read_models(&self.store).await;
        let req = Request::builder()
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request");
        let res = self.read.clone().oneshot(req).await.expect("infallible");
        let (status, headers) = (res.status().as_u16(), res.headers().clone());
        let bytes = res.into_body().collect().await.expect("body").to_bytes().to_vec();
        (status, headers, bytes)
    }

    async fn get(&self, who: &Person, path: &str) -> (u16, Value) {
        support::project_read_models(&self.store).await;
        call(&self.read, Method::GET, path, Some(&who.token), None).await
    }

    /// Search hits' ids for `q`, with the index caught up and committed.
    async fn search(&self, who: &Person, q: &str) -> Vec<String> {
        prism_projections::Projector::with_target(
            self.store.clone(),
            self.indexer.clone(),
            prism_projections::ProjectorConfig::new(Arc::new(prism_bus::local::LocalBus::new()), 500),
        )
        .catch_up()
        .await
        .expect("index");
        self.indexer.commit().expect("commit");
        let _ = &self.index;
        let (s, b) = self
            .get(
                who,
                &format!("/v1/search?q={}", q.replace(' ', "%20").replace(':', "%3A")),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        b["items"]
            .as_array()
            .or_else(|| b["hits"].as_array())
            .expect("hits")
            .iter()
            .map(|h| h["id"].as_str().expect("id").to_owned())
            .collect()
    }
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn files_are_read_only_by_those_who_may_read_what_shows_them(pool: PgPool) {
    let dir = tempfile::tempdir().expect("dir");
    let blobs = Blobs::local(&dir.path().join("files")).expect("local store");
    let w = world(pool, blobs, dir).await;
    let (ada, bob, cy, eve) = (
        w.person("Ada").await,
        w.person("Bob").await,
        w.person("Cy").await,
        w.person("Eve").await,
    );
    let (ws, channel) = w.workspace(&ada, &[&bob, &cy]).await;

    // The upload: the client's path is cut to the name, its claimed type ignored for the bytes'.
    let up = w.upload(&ada, &ws, "C:\\Users\\ada\\Q3 report.pdf", PDF).await;
    let file = up["id"].as_str().expect("id").to_owned();
    assert_eq!(up["name"], json!("Q3 report.pdf"));
    assert_eq!(up["size"], json!(PDF.len()));
    assert_eq!(up["media_type"], json!("application/pdf"));
    assert_eq!(up["sha256"], json!(hex(&sha2::Sha256::digest(PDF))));
    assert!(w.blobs.exists(up["sha256"].as_str().expect("sha")).await.expect("head"));

    // Refusals: an outsider, no token, not a form, no file part, too large, empty.
    let (ct, body) = form("file", "x.pdf", "application/pdf", PDF);
    assert_eq!(w.upload_raw(Some(&eve.token), &ws, &ct, body.clone()).await.0, 404);
    assert_eq!(w.upload_raw(None, &ws, &ct, body).await.0, 401);
    let (s, b) = w
        .upload_raw(Some(&ada.token), &ws, "application/json", b"{}".to_vec())
        .await;
    assert_eq!(s, 415, "{b}");
    let (ct, body) = form("other", "x.pdf", "application/pdf", PDF);
    let (s, b) = w.upload_raw(Some(&ada.token), &ws, &ct, body).await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("missing_file")), "{b}");
    let (ct, body) = form("file", "big.bin", "application/octet-stream", &vec![7u8; 65 * 1024]);
    let (s, b) = w.upload_raw(Some(&ada.token), &ws, &ct, body).await;
    assert_eq!(s, 413, "{b}");
    assert!(b["error"]["code"].is_string(), "{b}");
    // Far past the limit in one chunk: the body's own limit stops it first, still a 413 (it
    // was once a 422 "the upload broke off").
    let (ct, body) = form("file", "huge.bin", "application/octet-stream", &vec![7u8; 300 * 1024]);
    let (s, b) = w.upload_raw(Some(&ada.token), &ws, &ct, body).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (413, Some("payload_too_large")),
        "{b}"
    );
    let (ct, body) = form("file", "empty.txt", "text/plain", b"");
    assert_eq!(w.upload_raw(Some(&ada.token), &ws, &ct, body).await.0, 422);

    // Not attached yet: the uploader only.
    let (s, headers, bytes) = w.download(&ada.token, &format!("/v1/files/{file}")).await;
    assert_eq!(s, 200);
    assert_eq!(bytes, PDF);
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let disposition = headers["content-disposition"].to_str().expect("ascii");
    assert!(
        disposition.starts_with("attachment;") && disposition.contains("Q3%20report.pdf"),
        "{disposition}"
    );
    assert_eq!(w.download(&bob.token, &format!("/v1/files/{file}")).await.0, 404);
    assert_eq!(w.get(&bob, &format!("/v1/files/{file}/meta")).await.0, 404);

    // Only one's own uploads can be attached.
    let post = format!("/v1/channels/{channel}/messages");
    let (s, b) = call(
        &w.write,
        Method::POST,
        &post,
        Some(&bob.token),
        Some(json!({"body": "mine now", "attachments": [file]})),
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (422, Some("invalid_attachment")),
        "{b}"
    );
    let too_many: Vec<String> = (0..11).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let (s, _) = call(
        &w.write,
        Method::POST,
        &post,
        Some(&ada.token),
        Some(json!({"body": "x", "attachments": too_many})),
    )
    .await;
    assert_eq!(s, 422);

    // Attached to a channel message: its members read it, an outsider does not.
    let m = w
        .ok(
            &ada,
            Method::POST,
            &post,
            json!({"body": "the numbers", "attachments": [file]}),
        )
        .await;
    let message = m["id"].as_str().expect("id").to_owned();
    let (_, shown) = w.get(&bob, &format!("/v1/messages/{message}")).await;
    assert_eq!(
        shown["attachments"],
        json!([{"id": file, "name": "Q3 report.pdf", "size": PDF.len(), "media_type": "application/pdf"}])
    );
    let (_, page) = w.get(&bob, &format!("/v1/channels/{channel}/messages")).await;
    assert_eq!(page["items"][0]["attachments"][0]["id"], json!(file));
    let (s, _, bytes) = w.download(&bob.token, &format!("/v1/files/{file}")).await;
    assert_eq!((s, bytes.as_slice()), (200, PDF));
    let (s, meta) = w.get(&bob, &format!("/v1/files/{file}/meta")).await;
    assert_eq!(s, 200, "{meta}");
    assert_eq!(
        (meta["uploaded_by"].as_str(), meta["name"].as_str()),
        (Some(ada.id.as_str()), Some("Q3 report.pdf"))
    );
    assert_eq!(w.download(&eve.token, &format!("/v1/files/{file}")).await.0, 404);

    // Found by its name, and with has:attachment; never by an outsider.
    assert_eq!(w.search(&bob, "report").await, vec![message.clone()]);
    assert_eq!(w.search(&bob, "has:attachment").await, vec![message.clone()]);
    assert!(w.search(&bob, "numbers has:attachment").await.contains(&message));
    assert!(w.search(&eve, "report").await.is_empty());

    // In a direct conversation: its two people only.
    let conv = w
        .ok(
            &ada,
            Method::POST,
            &format!("/v1/workspaces/{ws}/conversations"),
            json!({"member_id": cy.id}),
        )
        .await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let secret = w.upload(&ada, &ws, "salary.txt", b"between us").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    w.ok(
        &ada,
        Method::POST,
        &format!("/v1/channels/{conv}/messages"),
        json!({"body": "fyi", "attachments": [secret]}),
    )
    .await;
    assert_eq!(w.download(&cy.token, &format!("/v1/files/{secret}")).await.0, 200);
    assert_eq!(w.download(&bob.token, &format!("/v1/files/{secret}")).await.0, 404);
    assert!(
        !w.search(&bob, "salary").await.iter().any(|_| true),
        "no hit for a non-participant"
    );

    // On a doc: its workspace's members.
    let plan = w.upload(&ada, &ws, "plan.txt", b"the plan").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let doc = w
        .ok(
            &ada,
            Method::POST,
            &format!("/v1/workspaces/{ws}/docs"),
            json!({"title": "Plan", "body": "see file", "attachments": [plan]}),
        )
        .await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (_, d) = w.get(&bob, &format!("/v1/docs/{doc}")).await;
    assert_eq!(d["attachments"][0]["name"], json!("plan.txt"));
    assert_eq!(w.download(&bob.token, &format!("/v1/files/{plan}")).await.0, 200);
    // Bob edits the doc keeping Ada's file: allowed (it is already on it).
    w.ok(
        &bob,
        Method::PATCH,
        &format!("/v1/docs/{doc}"),
        json!({"body": "updated", "attachments": [plan]}),
    )
    .await;

    // The uploader's data export lists her files (and what shows them).
    let (s, export) = w.get(&ada, "/v1/me/export").await;
    assert_eq!(s, 200);
    let names: Vec<&str> = export["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, vec!["Q3 report.pdf", "salary.txt", "plan.txt"]);
    assert_eq!(export["messages"][0]["attachments"][0]["id"], json!(file));
    assert!(export["notifications"].is_array());

    // Deleting the message detaches: back to the uploader only.
    assert_eq!(
        support::delete(&w.write, &format!("/v1/messages/{message}"), &ada.token).await,
        200
    );
    assert_eq!(w.download(&bob.token, &format!("/v1/files/{file}")).await.0, 404);
    assert_eq!(w.download(&ada.token, &format!("/v1/files/{file}")).await.0, 200);
    assert!(w.search(&bob, "report").await.is_empty());

    // A revoked session downloads nothing.
    support::logout(&w.write, &bob.refresh).await;
    support::until_refused(
        &w.write,
        &w.read,
        &bob.token,
        (&post, json!({"body": "x"})),
        &format!("/v1/files/{plan}"),
    )
    .await;
    let meta = format!("/v1/files/{plan}/meta");
    assert_eq!(call(&w.read, Method::GET, &meta, Some(&bob.token), None).await.0, 401);

    // Erasure: Eve's file that nothing shows is deleted, bytes and all.
    let (eve_ws, _) = w.workspace(&eve, &[]).await;
    let lone = w.upload(&eve, &eve_ws, "diary.txt", b"only mine, nobody else's").await;
    let sha = lone["sha256"].as_str().expect("sha").to_owned();
    // A second one, attached to a message she then deleted; and the same bytes as a file of
    // Ada's that a doc shows (content-addressed: those bytes stay).
    let second = w.upload(&eve, &eve_ws, "notes.txt", b"the plan").await;
    let (_, eve_channel) = (eve_ws.clone(), {
        let path = format!("/v1/workspaces/{eve_ws}/channels");
        w.ok(&eve, Method::POST, &path, json!({"name": "mine"})).await["id"]
            .as_str()
            .expect("id")
            .to_owned()
    });
    let path = format!("/v1/channels/{eve_channel}/messages");
    let m = w
        .ok(
            &eve,
            Method::POST,
            &path,
            json!({"body": "x", "attachments": [second["id"]]}),
        )
        .await;
    let gone = format!("/v1/messages/{}", m["id"].as_str().expect("id"));
    assert_eq!(support::delete(&w.write, &gone, &eve.token).await, 200);
    // Erased with an Idempotency-Key: answered once, whatever the number of files.
    let req = Request::builder()
        .method(Method::DELETE)
        .uri("/v1/me")
        .header("authorization", format!("Bearer {}", eve.token))
        .header("idempotency-key", "erase-me-once")
        .body(Body::empty())
        .expect("request");
    let res = w.write.clone().oneshot(req).await.expect("infallible");
    assert_eq!(res.status(), 202);
    assert!(
        !w.blobs.exists(&sha).await.expect("head"),
        "the unshared bytes are gone"
    );
    support::project_read_models(&w.store).await;
    assert_eq!(
        w.get(&ada, &format!("/v1/files/{}/meta", lone["id"].as_str().expect("id")))
            .await
            .0,
        404
    );
    assert!(
        w.blobs
            .exists(second["sha256"].as_str().expect("sha"))
            .await
            .expect("head"),
        "bytes another live file has stay"
    );
    // Ada's files (shown by a doc and a conversation) are untouched by someone else's erasure.
    assert_eq!(w.download(&cy.token, &format!("/v1/files/{secret}")).await.0, 200);
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn an_s3_compatible_store_keeps_the_bytes(pool: PgPool) {
    let endpoint = std::env::var("PRISM_TEST_S3_URL")
        .expect("PRISM_TEST_S3_URL: an S3-compatible server (scripts/test starts one with moto)");
    let bucket = format!("prism-{}", uuid::Uuid::now_v7().simple());
    let made = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .expect("create the bucket");
    assert!(made.status().is_success(), "{}", made.status());
    let dir = tempfile::tempdir().expect("dir");
    let blobs = Blobs::s3(
        &format!("s3://{bucket}"),
        &[
            ("aws_endpoint", endpoint.as_str()),
            ("aws_allow_http", "true"),
            ("aws_region", "us-east-1"),
            ("aws_access_key_id", "test"),
            ("aws_secret_access_key", "test"),
        ],
        &dir.path().join("staging"),
    )
    .expect("s3 store");
    let w = world(pool, blobs, dir).await;
    let (ada, bob) = (w.person("Ada").await, w.person("Bob").await);
    let (ws, channel) = w.workspace(&ada, &[&bob]).await;
    // Larger than one read buffer, so the bytes stream in pieces both ways.
    let bytes: Vec<u8> = (0..60_000u32).flat_map(|i| i.to_le_bytes()).take(60_000).collect();
    let up = w.upload(&ada, &ws, "data.bin", &bytes).await;
    let file = up["id"].as_str().expect("id").to_owned();
    assert_eq!(up["media_type"], json!("application/octet-stream"));
    assert!(w
        .blobs
        .exists(up["sha256"].as_str().expect("sha"))
        .await
        .expect("in the bucket"));
    w.ok(
        &ada,
        Method::POST,
        &format!("/v1/channels/{channel}/messages"),
        json!({"body": "data", "attachments": [file]}),
    )
    .await;
    let (s, headers, got) = w.download(&bob.token, &format!("/v1/files/{file}")).await;
    assert_eq!(s, 200);
    assert_eq!(headers["content-length"], bytes.len().to_string().as_str());
    assert!(got == bytes, "the same bytes back");
    // The same bytes again are stored once: a second upload names the same object.
    let again = w.upload(&bob, &ws, "copy.bin", &bytes).await;
    assert_eq!(again["sha256"], up["sha256"]);
    assert_ne!(again["id"], up["id"]);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
