//! Every authenticated write endpoint refuses a missing, expired, forged or `alg: none` token
//! with 401 and the error JSON, and appends nothing.

mod common;

use axum::http::Method;
use base64::Engine;
use common::*;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

fn endpoints() -> Vec<(Method, String)> {
    let id = Uuid::now_v7();
    vec![
        (Method::POST, "/v1/workspaces".into()),
        (Method::PATCH, format!("/v1/workspaces/{id}")),
        (Method::DELETE, format!("/v1/workspaces/{id}")),
        (Method::POST, format!("/v1/workspaces/{id}/join")),
        (Method::POST, format!("/v1/workspaces/{id}/join-code")),
        (Method::PATCH, format!("/v1/workspaces/{id}/members/{id}")),
        (Method::DELETE, format!("/v1/workspaces/{id}/members/{id}")),
        (Method::POST, format!("/v1/workspaces/{id}/channels")),
        (Method::PATCH, format!("/v1/channels/{id}")),
        (Method::DELETE, format!("/v1/channels/{id}")),
        (Method::POST, format!("/v1/channels/{id}/messages")),
        (Method::PATCH, format!("/v1/messages/{id}")),
        (Method::DELETE, format!("/v1/messages/{id}")),
        (Method::POST, format!("/v1/messages/{id}/reactions")),
        (Method::POST, format!("/v1/workspaces/{id}/conversations")),
        (Method::POST, format!("/v1/workspaces/{id}/docs")),
        (Method::PATCH, format!("/v1/docs/{id}")),
        (Method::POST, format!("/v1/docs/{id}/archive")),
        (Method::POST, format!("/v1/docs/{id}/restore")),
        (Method::DELETE, format!("/v1/docs/{id}")),
        (Method::POST, "/v1/turns".into()),
        (Method::POST, format!("/v1/turns/{id}/save")),
        (Method::POST, "/v1/mirror/sessions".into()),
        (Method::POST, format!("/v1/mirror/sessions/{id}/messages")),
        (Method::POST, format!("/v1/mirror/sessions/{id}/close")),
        (Method::DELETE, format!("/v1/mirror/sessions/{id}")),
        (Method::POST, format!("/v1/mirror/fragments/{id}/reframe")),
        (Method::POST, "/v1/lens/goals".into()),
        (Method::POST, format!("/v1/lens/goals/{id}/actions")),
        (Method::POST, format!("/v1/lens/actions/{id}/complete")),
        (Method::POST, "/v1/spectrum/exclusions".into()),
        (Method::POST, "/v1/spectrum/reset".into()),
        (Method::DELETE, "/v1/me".into()),
    ]
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn no_valid_token_no_command(pool: PgPool) {
    let t = TestApp::new(pool);
    let user = Uuid::now_v7();
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": user, "exp": now + 600, "iat": now, "typ": "access"});
    let expired = encode(
        &Header::default(),
        &json!({"sub": user, "exp": now - 120, "iat": now - 900, "typ": "access"}),
        &EncodingKey::from_secret(SECRET),
    )
    .expect("jwt");
    let forged = encode(&Header::default(), &claims, &EncodingKey::from_secret(b"guessed")).expect("jwt");
    let b64 = |s: String| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let none = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"JWT"}"#.into()),
        b64(claims.to_string())
    );
    let body = Some(
        json!({"name": "x", "body": "x", "title": "x", "emoji": "👍", "role": "admin", "join_code": "x", "member_id": user, "text": "x", "session_id": user}),
    );
    for (method, path) in endpoints() {
        t.call(method.clone(), &path, None, body.clone())
            .await
            .expect_error(401, "unauthenticated");
        t.call(method.clone(), &path, Some(&expired), body.clone())
            .await
            .expect_error(401, "token_expired");
        t.call(method.clone(), &path, Some(&forged), body.clone())
            .await
            .expect_error(401, "invalid_token");
        t.call(method.clone(), &path, Some(&none), body.clone())
            .await
            .expect_error(401, "invalid_token");
    }
    assert_eq!(t.total_events().await, 0);
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn another_workspaces_ids_are_not_found_everywhere(pool: PgPool) {
    let t = TestApp::new(pool);
    let w = world(&t).await;
    // The stranger's own workspace, with one of everything.
    let (theirs, _) = t.workspace(&w.stranger).await;
    let ch = t.channel(theirs, &w.stranger, "theirs").await;
    let msg = t.message(ch, &w.stranger, "private").await;
    let doc = t
        .post(
            &format!("/v1/workspaces/{theirs}/docs"),
            &w.stranger.token,
            json!({"title": "secret"}),
        )
        .await
        .expect(201)
        .id();
    let before = t.total_events().await;
    let attempts: Vec<(Method, String, Option<serde_json::Value>)> = vec![
        (
            Method::PATCH,
            format!("/v1/workspaces/{theirs}"),
            Some(json!({"name": "x"})),
        ),
        (Method::DELETE, format!("/v1/workspaces/{theirs}"), None),
        (Method::POST, format!("/v1/workspaces/{theirs}/join-code"), None),
        (
            Method::PATCH,
            format!("/v1/workspaces/{theirs}/members/{}", w.stranger.id),
            Some(json!({"role": "member"})),
        ),
        (
            Method::DELETE,
            format!("/v1/workspaces/{theirs}/members/{}", w.stranger.id),
            None,
        ),
        (
            Method::POST,
            format!("/v1/workspaces/{theirs}/channels"),
            Some(json!({"name": "mine"})),
        ),
        (
            Method::PATCH,
            format!("/v1/channels/{ch}"),
            Some(json!({"name": "mine"})),
        ),
        (Method::DELETE, format!("/v1/channels/{ch}"), None),
        (
            Method::POST,
            format!("/v1/channels/{ch}/messages"),
            Some(json!({"body": "x"})),
        ),
        (Method::PATCH, format!("/v1/messages/{msg}"), Some(json!({"body": "x"}))),
        (Method::DELETE, format!("/v1/messages/{msg}"), None),
        (
            Method::POST,
            format!("/v1/messages/{msg}/reactions"),
            Some(json!({"emoji": "👍"})),
        ),
        (
            Method::POST,
            format!("/v1/workspaces/{theirs}/conversations"),
            Some(json!({"member_id": w.stranger.id})),
        ),
        (
            Method::POST,
            format!("/v1/workspaces/{theirs}/docs"),
            Some(json!({"title": "x"})),
        ),
        (Method::PATCH, format!("/v1/docs/{doc}"), Some(json!({"body": "x"}))),
        (Method::POST, format!("/v1/docs/{doc}/archive"), None),
        (Method::POST, format!("/v1/docs/{doc}/restore"), None),
        (Method::DELETE, format!("/v1/docs/{doc}"), None),
    ];
    for (method, path, body) in attempts {
        let r = t.call(method.clone(), &path, Some(&w.owner.token), body).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (404, "not_found"),
            "{method} {path}: {}",
            r.body
        );
    }
    assert_eq!(t.total_events().await, before, "nothing written into another tenant");
}
