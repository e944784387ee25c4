//! Weekly insights and Lens's daily affirmations, written off the request path by the write
//! node's writers (`prism::writers::once`) with a fake model that reports its usage, and served
//! by the read API from the projections: the insight is rewritten when the week's counts
//! change (and only then), its tokens are counted, and under budget pressure it is written from
//! templates instead of skipped.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use prism_ai_gateway::http::{Answered, HttpConfig, HttpProvider, Lane};
use prism_ai_gateway::Usage;
use prism_auth::{Jwt, PasswordHasherId};
use prism_commands::reflection::{AiFeature, SpendLimits};
use prism_commands::{CommandContext, Commands};
use prism_event_store::PgEventStore;
use prism_projections::{read_models, spectrum, Projector, ProjectorConfig};
use serde_json::{json, Value};
use sqlx::PgPool;
use tower::ServiceExt;

const SECRET: &[u8] = b"writers-tests-writers-tests-writers!!";

/// A model: insights, affirmations and reframes, 30 + 5 tokens each; counts insight calls.
async fn model() -> (String, Arc<AtomicU32>) {
    use axum::routing::post;
    let insights = Arc::new(AtomicU32::new(0));
    let counted = insights.clone();
    let complete = move |axum::Json(req): axum::Json<Value>| {
        let counted = counted.clone();
        async move {
            let system = req["messages"][0]["content"].as_str().unwrap_or_default().to_owned();
            let content = if system.contains("weekly insight") {
                counted.fetch_add(1, Ordering::SeqCst);
                json!({"insight": "A model-written week: you kept showing up."})
            } else if system.contains("affirmations") {
                json!({"affirmations": ["Model affirmation one.", "Model affirmation two."]})
            } else {
                json!({"reframes": ["one", "two", "three"], "micro_action": "breathe"})
            };
            axum::Json(json!({
                "choices": [{"message": {"role": "assistant", "content": content.to_string()}}],
                "usage": {"prompt_tokens": 30, "completion_tokens": 5}
            }))
        }
    };
    let app = axum::Router::new().route("/v1/chat/completions", post(complete));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), insights)
}

async fn get(app: &axum::Router, jwt: &Jwt, who: &CommandContext, path: &str) -> Value {
    let token = jwt.issue(who.actor.user_id, vec![]).expect("token");
    let req = Request::builder()
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    let res = app.clone().oneshot(req).await.expect("response");
    assert_eq!(res.status().as_u16(), 200, "{path}");
    let body = res.into_body().collect().await.expect("body").to_bytes();
    serde_json::from_slice(&body).expect("json")
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn insights_and_affirmations_are_written_off_the_request_path_and_served_from_the_projections(pool: PgPool) {
    let (url, insight_calls) = model().await;
    let store = PgEventStore::new(pool.clone(), 0);
    let jwt = Jwt::new(SECRET, Jwt::DEFAULT_TTL);
    let c = Commands::new(
        store.clone(),
        jwt.clone(),
        PasswordHasherId::new(1024, 1).expect("params"),
    )
    .with_model(HttpProvider::new(HttpConfig::new(url.clone(), "standard-model")).expect("provider"))
    .with_economy_model(HttpProvider::new(HttpConfig::new(url, "economy-model")).expect("provider"))
    .with_spend_limits(SpendLimits {
        user_daily: None,
        monthly: Some(10_000),
    });
    let ann = c
        .register("ann@example.com", "correct horse battery", "Ann", None)
        .await
        .expect("ann");
    let ann = CommandContext::new(ann.user_id);
    let bob = c
        .register("bob@example.com", "correct horse battery", "Bob", None)
        .await
        .expect("bob");
    let bob = CommandContext::new(bob.user_id);
    let cfg = || ProjectorConfig::new(Arc::new(prism_bus::LocalBus::new()), 100);
    let projectors: Vec<Projector> = [
        Arc::new(read_models::ReadModels) as Arc<dyn prism_projections::Projection>,
        Arc::new(spectrum::Spectrum),
    ]
    .into_iter()
    .map(|p| Projector::new(store.clone(), p, cfg()))
    .collect();
    let project = || async {
        for p in &projectors {
            p.catch_up().await.expect("project");
        }
    };
    let read = prism_read_api::app(prism_read_api::AppState::new(pool.clone(), jwt.clone()));

    // Before any writer ran: the templates, and a built-in insight from the counts.
    c.request_turn(&ann, "I always mess up presentations.")
        .await
        .expect("turn");
    project().await;
    let today = get(&read, &jwt, &ann, "/v1/lens/affirmation/today").await;
    assert!(
        prism_ai_gateway::builtin::AFFIRMATIONS.contains(&today["affirmation"].as_str().unwrap_or_default()),
        "{today}"
    );
    let week = get(&read, &jwt, &ann, "/v1/spectrum/weekly").await;
    assert!(
        week["insight"]["text"].as_str().is_some_and(|t| t.contains("1 time")),
        "{week}"
    );

    // One pass writes the day's affirmations and the week's insight, through the model.
    let w = prism::writers::once(&c, &pool).await.expect("writers");
    assert_eq!((w.insights, w.affirmations), (1, true));
    project().await;
    let today = get(&read, &jwt, &ann, "/v1/lens/affirmation/today").await;
    assert!(
        today["affirmation"]
            .as_str()
            .is_some_and(|a| a.starts_with("Model affirmation")),
        "{today}"
    );
    let week = get(&read, &jwt, &ann, "/v1/spectrum/weekly").await;
    assert_eq!(week["insight"]["text"], "A model-written week: you kept showing up.");
    // Nobody else is served it: another user's spectrum has no reflection and no insight.
    let theirs = get(&read, &jwt, &bob, "/v1/spectrum/weekly").await;
    assert!(theirs.get("insight").is_none(), "{theirs}");
    assert!(!theirs.to_string().contains("model-written"));
    // Sealed in the log and the table: the insight is the owner's.
    let stored: String = sqlx::query_scalar("SELECT text FROM spectrum_insights")
        .fetch_one(&pool)
        .await
        .expect("row");
    assert!(!stored.contains("model-written"), "sealed: {stored}");
    // Its tokens count, on the economy lane, for the user.
    let spent: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT feature, model, (prompt_tokens + completion_tokens)::bigint FROM ai_usage WHERE feature IN ('spectrum', 'lens') ORDER BY feature",
    )
    .fetch_all(&pool)
    .await
    .expect("usage");
    assert_eq!(
        spent,
        [("lens", "economy-model", 35), ("spectrum", "economy-model", 35)].map(|(f, m, n)| (
            f.to_owned(),
            m.to_owned(),
            n
        ))
    );

    // Nothing changed: nothing is written again.
    let w = prism::writers::once(&c, &pool).await.expect("writers");
    assert_eq!((w.insights, w.affirmations), (0, false));
    assert_eq!(insight_calls.load(Ordering::SeqCst), 1);

    // The counts change: a new insight. Under pressure (95 % of the cap), from the templates.
    c.ai_spent(
        AiFeature::Turn,
        None,
        Lane::Standard,
        Usage {
            prompt_tokens: 9_500,
            completion_tokens: 0,
        },
        Answered::Model,
    )
    .await;
    c.request_turn(&ann, "Nobody ever listens to me.").await.expect("turn");
    project().await;
    let w = prism::writers::once(&c, &pool).await.expect("writers");
    assert_eq!(w.insights, 1);
    assert_eq!(
        insight_calls.load(Ordering::SeqCst),
        1,
        "Spectrum left the model at 95 %"
    );
    project().await;
    let week = get(&read, &jwt, &ann, "/v1/spectrum/weekly").await;
    assert!(
        week["insight"]["text"].as_str().is_some_and(|t| t.contains("2 times")),
        "{week}"
    );
    let source: String = sqlx::query_scalar("SELECT source FROM spectrum_insights")
        .fetch_one(&pool)
        .await
        .expect("row");
    assert_eq!(source, "builtin");
}
