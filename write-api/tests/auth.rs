//! Register, login, refresh (rotation and reuse detection), logout, and the token checks every
//! command makes.

mod common;

use axum::http::Method;
use base64::Engine;
use common::*;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::json;
use sqlx::PgPool;

async fn register(t: &TestApp, email: &str, password: &str) -> Resp {
    t.call(
        Method::POST,
        "/v1/auth/register",
        None,
        Some(json!({"email": email, "password": password, "name": "Ann"})),
    )
    .await
}

async fn login(t: &TestApp, email: &str, password: &str) -> Resp {
    t.call(
        Method::POST,
        "/v1/auth/login",
        None,
        Some(json!({"email": email, "password": password})),
    )
    .await
}

async fn refresh(t: &TestApp, token: &str) -> Resp {
    t.call(
        Method::POST,
        "/v1/auth/refresh",
        None,
        Some(json!({"refresh_token": token})),
    )
    .await
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn register_then_login(pool: PgPool) {
    let t = TestApp::new(pool);
    let r = register(&t, "Ann@Example.com", "correct horse battery")
        .await
        .expect(201);
    for k in ["user_id", "access_token", "refresh_token", "expires_in"] {
        assert!(!r.body[k].is_null(), "{k} missing: {}", r.body);
    }
    assert_eq!(r.body["expires_in"], 900);
    // Emails are case-insensitive.
    let l = login(&t, "ann@example.COM", "correct horse battery").await.expect(200);
    assert_eq!(l.body["user_id"], r.body["user_id"]);
    // The token works on a command.
    t.post(
        "/v1/workspaces",
        l.body["access_token"].as_str().expect("token"),
        json!({"name": "Mine"}),
    )
    .await
    .expect(201);
    // The log has the registration with the email sealed, and no password hash anywhere in it.
    let payloads: Vec<String> = sqlx::query_scalar("SELECT event_type || payload::text || metadata::text FROM events")
        .fetch_all(&t.pool)
        .await
        .expect("events");
    assert!(payloads
        .iter()
        .any(|p| p.starts_with("user.registered") && p.contains("pv1:")));
    assert!(payloads.iter().all(|p| !p.contains("ann@example.com")));
    assert!(payloads.iter().all(|p| !p.contains("argon2")));
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn one_account_per_email(pool: PgPool) {
    let t = TestApp::new(pool);
    register(&t, "ann@example.com", "correct horse battery")
        .await
        .expect(201);
    register(&t, "ANN@example.com", "another good password")
        .await
        .expect_error(409, "already_exists");
    assert_eq!(t.kernel_events().await, 1, "nothing half written");
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn weak_passwords_and_bad_emails_are_422(pool: PgPool) {
    let t = TestApp::new(pool);
    register(&t, "ann@example.com", "short")
        .await
        .expect_error(422, "validation_failed");
    register(&t, "not-an-email", "correct horse battery")
        .await
        .expect_error(422, "validation_failed");
    t.call(
        Method::POST,
        "/v1/auth/register",
        None,
        Some(json!({"email": "a@b.io", "password": "correct horse battery", "name": ""})),
    )
    .await
    .expect_error(422, "validation_failed");
    t.raw(Method::POST, "/v1/auth/register", None, "{\"email\":")
        .await
        .expect_error(400, "malformed_json");
    t.raw(
        Method::POST,
        "/v1/auth/register",
        None,
        r#"{"email": 5, "password": "x", "name": "y"}"#,
    )
    .await
    .expect_error(400, "invalid_body");
    t.raw(Method::POST, "/v1/auth/register", None, r#"{"email": "a@b.io"}"#)
        .await
        .expect_error(400, "invalid_body");
    let huge = json!({"email": "a@b.io", "password": "x".repeat(2_000_000), "name": "y"});
    t.raw(Method::POST, "/v1/auth/register", None, huge.to_string())
        .await
        .expect_error(413, "payload_too_large");
    let plain = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/v1/auth/register")
        .body(axum::body::Body::from("{}"))
        .expect("req");
    t.send(plain).await.expect_error(415, "unsupported_media_type");
    assert_eq!(t.total_events().await, 0);
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer(pool: PgPool) {
    let t = TestApp::new(pool);
    register(&t, "ann@example.com", "correct horse battery")
        .await
        .expect(201);
    let wrong = login(&t, "ann@example.com", "wrong horse battery")
        .await
        .expect_error(401, "invalid_credentials");
    let unknown = login(&t, "bob@example.com", "correct horse battery")
        .await
        .expect_error(401, "invalid_credentials");
    assert_eq!(wrong.body, unknown.body);
    login(&t, "garbage", "x").await.expect_error(401, "invalid_credentials");
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn refresh_rotates_and_a_reused_token_revokes_its_family(pool: PgPool) {
    let t = TestApp::new(pool);
    let first = register(&t, "ann@example.com", "correct horse battery")
        .await
        .expect(201);
    let r1 = first.body["refresh_token"].as_str().expect("r1").to_owned();
    let second = refresh(&t, &r1).await.expect(200);
    let r2 = second.body["refresh_token"].as_str().expect("r2").to_owned();
    assert_ne!(r1, r2);
    // r1 again: someone replayed it. It fails, and so does r2 from then on.
    refresh(&t, &r1).await.expect_error(401, "invalid_credentials");
    refresh(&t, &r2).await.expect_error(401, "invalid_credentials");
    // A fresh login starts a new family that works.
    let l = login(&t, "ann@example.com", "correct horse battery").await.expect(200);
    refresh(&t, l.body["refresh_token"].as_str().expect("r"))
        .await
        .expect(200);
    refresh(&t, "not-a-token")
        .await
        .expect_error(401, "invalid_credentials");
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn logout_revokes_the_refresh_token(pool: PgPool) {
    let t = TestApp::new(pool);
    let u = t.register("ann").await;
    let out = t
        .call(
            Method::POST,
            "/v1/auth/logout",
            None,
            Some(json!({"refresh_token": u.refresh})),
        )
        .await
        .expect(204);
    assert!(out.body.is_null());
    refresh(&t, &u.refresh).await.expect_error(401, "invalid_credentials");
    t.call(
        Method::POST,
        "/v1/auth/logout",
        None,
        Some(json!({"refresh_token": "unknown"})),
    )
    .await
    .expect(204);
    t.raw(Method::POST, "/v1/auth/logout", None, "[]")
        .await
        .expect_error(400, "invalid_body");
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn commands_refuse_missing_expired_forged_and_alg_none_tokens(pool: PgPool) {
    let t = TestApp::new(pool);
    let u = t.register("ann").await;
    let body = Some(json!({"name": "Acme"}));
    t.call(Method::POST, "/v1/workspaces", None, body.clone())
        .await
        .expect_error(401, "unauthenticated");
    let r = t
        .call(Method::POST, "/v1/workspaces", Some("garbage"), body.clone())
        .await
        .expect_error(401, "invalid_token");
    assert_eq!(
        r.headers.get("www-authenticate").and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );

    let now = chrono::Utc::now().timestamp();
    let expired = json!({"sub": u.id, "exp": now - 120, "iat": now - 1000, "typ": "access"});
    let expired = encode(&Header::default(), &expired, &EncodingKey::from_secret(SECRET)).expect("jwt");
    t.call(Method::POST, "/v1/workspaces", Some(&expired), body.clone())
        .await
        .expect_error(401, "token_expired");

    let claims = json!({"sub": u.id, "exp": now + 600, "iat": now, "typ": "access"});
    let forged = encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(b"not-the-secret"),
    )
    .expect("jwt");
    t.call(Method::POST, "/v1/workspaces", Some(&forged), body.clone())
        .await
        .expect_error(401, "invalid_token");

    let b64 = |s: String| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let none = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"JWT"}"#.into()),
        b64(claims.to_string())
    );
    t.call(Method::POST, "/v1/workspaces", Some(&none), body.clone())
        .await
        .expect_error(401, "invalid_token");

    // HS512 with the right secret is still not our algorithm.
    let hs512 = encode(
        &Header::new(jsonwebtoken::Algorithm::HS512),
        &claims,
        &EncodingKey::from_secret(SECRET),
    )
    .expect("jwt");
    t.call(Method::POST, "/v1/workspaces", Some(&hs512), body)
        .await
        .expect_error(401, "invalid_token");
    assert_eq!(t.kernel_events().await, 1, "only the registration");
}

/// `PRISM_ACCESS_TTL_SECS` and `PRISM_REFRESH_TTL_SECS` reach the tokens: a sign-in says how long
/// its access token lives, and the session ends when its refresh lifetime does.
#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn token_lifetimes_come_from_configuration(pool: PgPool) {
    let store = prism_event_store::PgEventStore::new(pool.clone(), 0);
    let hasher = prism_auth::PasswordHasherId::new(1024, 1).expect("argon2 params");
    let jwt = prism_auth::Jwt::new(SECRET, std::time::Duration::from_secs(120));
    let commands =
        prism_commands::Commands::new(store, jwt, hasher).with_refresh_ttl(std::time::Duration::from_secs(3600));
    let t = TestApp {
        app: prism_write_api::app(prism_write_api::AppState::new(commands.clone())),
        commands,
        pool: pool.clone(),
    };
    let r = register(&t, "ttl@example.com", "correct horse battery")
        .await
        .expect(201);
    assert_eq!(r.body["expires_in"], 120);
    let left: f64 = sqlx::query_scalar("SELECT extract(epoch FROM expires_at - now())::float8 FROM refresh_tokens")
        .fetch_one(&pool)
        .await
        .expect("session");
    assert!((3500.0..=3600.0).contains(&left), "the session lives an hour: {left}");
    // Past its lifetime the refresh token is refused like any unknown one.
    sqlx::query("UPDATE refresh_tokens SET expires_at = now() - interval '1 second'")
        .execute(&pool)
        .await
        .expect("age");
    let token = r.body["refresh_token"].as_str().expect("refresh token");
    refresh(&t, token).await.expect_error(401, "invalid_credentials");
}
