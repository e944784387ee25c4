//! The safety gate for an operator: `prism safety eval` over a labelled corpus (its last line is
//! the JSON report) and `prism safety stats --since` (counts of crises per category and stage,
//! never a word of what anyone wrote).

use std::process::Command;

use axum::body::Body;
use axum::http::{Method, Request};
use http_body_util::BodyExt;
use prism_auth::{Jwt, PasswordHasherId};
use prism_commands::Commands;
use prism_event_store::PgEventStore;
use serde_json::{json, Value};
use sqlx::PgPool;
use tower::ServiceExt;

async fn post(app: &axum::Router, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::from(body.to_string())).expect("request"))
        .await
        .expect("infallible");
    let status = res.status().as_u16();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn prism(args: &[&str], database_url: &str) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_prism"))
        .args(args)
        .env("PRISM_DATABASE_URL", database_url)
        .env_remove("PRISM_AI_URL")
        .output()
        .expect("run prism");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn url_of(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let cut = base.rfind('/').unwrap_or(base.len());
    let name = pool.connect_options().get_database().unwrap_or_default().to_owned();
    format!("{}/{name}", &base[..cut])
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn stats_count_crises_by_category_and_never_show_words(pool: PgPool) {
    let store = PgEventStore::new(pool.clone(), 0);
    let jwt = Jwt::new(b"safety-cli-safety-cli-safety-cli-safety!", Jwt::DEFAULT_TTL);
    let commands = Commands::new(store, jwt, PasswordHasherId::new(1024, 1).expect("params"));
    let app = prism_write_api::app(prism_write_api::AppState::new(commands));
    let (s, b) = post(
        &app,
        "/v1/auth/register",
        None,
        json!({"email": "ann@example.com", "password": "correct horse battery", "name": "Ann"}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let token = b["access_token"].as_str().expect("token").to_owned();
    for text in [
        "I've been saving up my pills for tonight",
        "I want to kill myself",
        "I had a lovely day at the beach",
    ] {
        post(&app, "/v1/turns", Some(&token), json!({"text": text})).await;
    }
    let (ok, out) = prism(&["safety", "stats", "--since", "2020-01-01"], &url_of(&pool));
    assert!(ok, "{out}");
    let last: Value = serde_json::from_str(out.lines().last().unwrap_or_default()).expect("a JSON line");
    assert_eq!(last["crisis"], 2, "{out}");
    assert_eq!(last["raised_by_model"], 0);
    assert_eq!(last["by_surface"]["turn"], 2);
    assert!(
        last["by_category"]["preparation"].as_i64().is_some_and(|n| n >= 1),
        "{out}"
    );
    assert!(
        last["by_category"]["active_ideation"].as_i64().is_some_and(|n| n >= 1),
        "{out}"
    );
    for word in ["pills", "kill", "beach", "ann@"] {
        assert!(!out.contains(word), "stats show counts only: {out}");
    }
    // Nothing since tomorrow; a date that is not one is a clear error.
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let (ok, out) = prism(&["safety", "stats", "--since", &tomorrow], &url_of(&pool));
    assert!(ok, "{out}");
    assert!(out.lines().last().unwrap_or_default().contains("\"crisis\":0"), "{out}");
    let (ok, out) = prism(&["safety", "stats", "--since", "last tuesday"], &url_of(&pool));
    assert!(!ok && out.contains("YYYY-MM-DD"), "{out}");
}

#[test]
fn eval_prints_recall_and_precision_as_its_last_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let corpus = dir.path().join("corpus.tsv");
    std::fs::write(
        &corpus,
        "# a small corpus\nactive_ideation\tI want to kill myself\nnegative\tI'm killing it at work\n\
         wish_dead\tI hope I never wake up\nnegative\tmy phone died again\n",
    )
    .expect("write");
    // No database is needed to evaluate the gate.
    let (ok, out) = prism(
        &["safety", "eval", "--corpus", corpus.to_str().expect("path")],
        "postgres://postgres@127.0.0.1:1/none",
    );
    assert!(ok, "{out}");
    let last: Value = serde_json::from_str(out.lines().last().unwrap_or_default()).expect("a JSON line");
    assert_eq!(last["recall"], 1.0, "{out}");
    assert_eq!(last["precision"], 1.0, "{out}");
    assert_eq!(last["recall_by_category"]["wish_dead"], 1.0);
    assert_eq!(last["sentences"], 4);
    // scripts/test installs the semantic stage's model: each stage is shown alone, with its speed.
    assert!(
        std::env::var("PRISM_SAFETY_MODEL_DIR").is_ok(),
        "run scripts/test: it fetches the model"
    );
    assert_eq!(last["stages"], "rules+semantic", "{out}");
    assert_eq!(last["rules_alone"]["recall"], 1.0, "{out}");
    assert!(last["semantic_alone"]["precision"].is_number(), "{out}");
    assert!(
        last["semantic_p99_ms_per_text"].as_f64().is_some_and(|ms| ms > 0.0),
        "{out}"
    );
    assert!(!out.contains("kill myself"), "hits are not echoed unless missed: {out}");
    // Without the model the gate runs on its rules and says so.
    let out = Command::new(env!("CARGO_BIN_EXE_prism"))
        .args(["safety", "eval", "--corpus", corpus.to_str().expect("path")])
        .env("PRISM_DATABASE_URL", "postgres://postgres@127.0.0.1:1/none")
        .env_remove("PRISM_AI_URL")
        .env_remove("PRISM_SAFETY_MODEL_DIR")
        .output()
        .expect("run prism");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("PRISM_SAFETY_MODEL_DIR"), "said once at start: {text}");
    let last: Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default())
        .expect("a JSON line");
    assert_eq!(last["stages"], "rules");
    std::fs::write(&corpus, "sometimes\tI am not a label\n").expect("write");
    let (ok, out) = prism(
        &["safety", "eval", "--corpus", corpus.to_str().expect("path")],
        "postgres://x@127.0.0.1:1/none",
    );
    assert!(!ok && out.contains("unknown label"), "{out}");
}
