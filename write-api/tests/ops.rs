//! `/healthz`, `/readyz`, `/metrics`, `/openapi.json`, unknown routes.

mod common;

use axum::http::Method;
use common::*;
use sqlx::PgPool;

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn health_readiness_metrics_and_openapi(pool: PgPool) {
    let t = TestApp::new(pool);
    assert_eq!(
        t.call(Method::GET, "/healthz", None, None).await.expect(200).body["status"],
        "ok"
    );
    assert_eq!(
        t.call(Method::GET, "/readyz", None, None).await.expect(200).body["status"],
        "ready"
    );
    t.register("ann").await;
    let m = t.call(Method::GET, "/metrics", None, None).await.expect(200);
    assert!(
        m.body.as_str().is_some_and(|s| s.contains("prism_http_requests_total")),
        "{}",
        m.body
    );
    let api = t.call(Method::GET, "/openapi.json", None, None).await.expect(200);
    for p in [
        "/v1/auth/register",
        "/v1/channels/{id}/messages",
        "/v1/docs/{id}/restore",
        "/v1/workspaces/{id}/members/{user_id}",
    ] {
        assert!(api.body["paths"][p].is_object(), "{p} missing from openapi");
    }
    t.call(Method::GET, "/v1/nothing-here", None, None)
        .await
        .expect_error(404, "not_found");
    let r = t.call(Method::GET, "/healthz", None, None).await;
    assert!(r.headers.get("x-request-id").is_some());
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn readyz_says_when_postgres_is_gone(pool: PgPool) {
    let t = TestApp::new(pool.clone());
    pool.close().await;
    let r = t.call(Method::GET, "/readyz", None, None).await.expect(503);
    assert_eq!(r.body["status"], "unavailable");
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn every_operation_declares_what_the_edge_may_answer(pool: PgPool) {
    let t = TestApp::new(pool);
    let doc = t.call(Method::GET, "/openapi.json", None, None).await.expect(200).body;
    let statuses = ["408", "413", "414", "429", "431", "503"];
    {
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
        let paths = doc["paths"].as_object().expect("paths");
        assert!(paths.len() > 20);
        for (path, item) in paths {
            for (method, op) in item.as_object().expect("item") {
                for s in &statuses {
                    assert!(op["responses"][s].is_object(), "{method} {path} does not declare {s}");
                }
            }
        }
    }
}

/// Anyone (a load balancer) learns whether the node is ready; only a platform auditor learns
/// what it checked, as on the read API.
#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn readyz_tells_its_checks_to_auditors_only(pool: PgPool) {
    let t = TestApp::new(pool);
    let anyone = t.call(Method::GET, "/readyz", None, None).await.expect(200);
    assert_eq!(anyone.body, serde_json::json!({"status": "ready"}));
    let ann = t.register("ann").await;
    let member = t.call(Method::GET, "/readyz", Some(&ann.token), None).await.expect(200);
    assert!(member.body.get("checks").is_none(), "{}", member.body);
    let forged = t
        .call(Method::GET, "/readyz", Some("not-a-token"), None)
        .await
        .expect(200);
    assert!(forged.body.get("checks").is_none(), "{}", forged.body);
    assert!(t
        .commands
        .grant_platform_role(prism_domain::UserId(ann.id), "auditor")
        .await
        .expect("grant"));
    let refreshed = t
        .call(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(serde_json::json!({"refresh_token": ann.refresh})),
        )
        .await
        .expect(200);
    let auditor = refreshed.body["access_token"].as_str().expect("token");
    let detailed = t.call(Method::GET, "/readyz", Some(auditor), None).await.expect(200);
    assert_eq!(detailed.body["checks"]["postgres"], "ok", "{}", detailed.body);
}
