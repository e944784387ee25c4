//! AI spend under control, with a fake model that reports its usage: a user's daily budget, the
//! monthly cap's thresholds (each announced once a month), and the order in which features leave
//! the model under pressure. Nobody is ever refused because of a budget.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use common::*;
use prism_ai_gateway::http::{Answered, HttpConfig, HttpProvider, Lane};
use prism_ai_gateway::Usage;
use prism_commands::reflection::{AiFeature, SpendLimits};
use serde_json::json;
use sqlx::PgPool;

/// A model that reframes every thought the same way and reports 30 + 5 tokens a call.
async fn model() -> (String, Arc<AtomicU32>) {
    let calls = Arc::new(AtomicU32::new(0));
    let counted = calls.clone();
    let url = fake_model(move |_system| {
        let counted = counted.clone();
        async move {
            counted.fetch_add(1, Ordering::SeqCst);
            json!({"reframes": ["one", "two", "three"], "micro_action": "breathe"}).to_string()
        }
    })
    .await;
    (url, calls)
}

async fn app(pool: PgPool, limits: SpendLimits, economy: bool) -> (TestApp, Arc<AtomicU32>) {
    let (url, calls) = model().await;
    let t = TestApp::with(pool, |c| {
        let c = c
            .with_model(HttpProvider::new(HttpConfig::new(url.clone(), "standard-model")).expect("provider"))
            .with_spend_limits(limits);
        if economy {
            c.with_economy_model(HttpProvider::new(HttpConfig::new(url, "economy-model")).expect("provider"))
        } else {
            c
        }
    });
    (t, calls)
}

async fn turn(t: &TestApp, token: &str) -> bool {
    let r = t
        .post("/v1/turns", token, json!({"text": "I always mess up presentations."}))
        .await
        .expect(201);
    r.body["reframes"] == json!(["one", "two", "three"])
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn a_users_daily_budget_moves_them_to_the_builtin_provider_never_to_a_refusal(pool: PgPool) {
    let limits = SpendLimits {
        user_daily: Some(50),
        monthly: None,
    };
    let (t, calls) = app(pool, limits, false).await;
    let ann = t.register("ann").await;
    let bob = t.register("bob").await;
    assert!(turn(&t, &ann.token).await, "35 of 50 tokens");
    assert!(turn(&t, &ann.token).await, "70: the budget is spent by this call");
    assert!(
        !turn(&t, &ann.token).await,
        "over budget: the built-in provider answers"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert!(turn(&t, &bob.token).await, "another user's budget is their own");
    let spent: i64 =
        sqlx::query_scalar("SELECT sum(prompt_tokens + completion_tokens)::bigint FROM ai_usage WHERE user_id = $1")
            .bind(ann.id)
            .fetch_one(&t.pool)
            .await
            .expect("usage");
    assert_eq!(spent, 70, "counted from the model's reported usage");
    let m = t.metrics().await;
    assert!(m.contains(r#"prism_ai_quota_denials_total{feature="turn"}"#), "{m}");
    assert!(
        m.contains(r#"prism_ai_fallbacks_total{feature="turn",reason="user_budget"}"#),
        "{m}"
    );
    assert!(
        m.contains(r#"prism_ai_tokens_total{feature="turn",model="standard-model",kind="prompt"}"#),
        "{m}"
    );
    assert!(
        m.contains(r#"prism_ai_calls_total{feature="turn",model="standard-model"}"#),
        "{m}"
    );
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn each_threshold_of_the_monthly_cap_is_an_event_once_a_month(pool: PgPool) {
    let limits = SpendLimits {
        user_daily: None,
        monthly: Some(100),
    };
    let (t, calls) = app(pool, limits, false).await;
    let ann = t.register("ann").await;
    assert!(turn(&t, &ann.token).await, "35");
    assert!(turn(&t, &ann.token).await, "70: past 50 %");
    assert!(turn(&t, &ann.token).await, "105: past 80 % and 95 %");
    assert!(!turn(&t, &ann.token).await, "at the cap, Turn leaves the model");
    assert!(!turn(&t, &ann.token).await);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let crossed: Vec<serde_json::Value> = sqlx::query_scalar(
        "SELECT payload FROM events WHERE event_type = 'ai.budget_threshold_crossed' ORDER BY global_position",
    )
    .fetch_all(&t.pool)
    .await
    .expect("events");
    let percents: Vec<i64> = crossed.iter().filter_map(|p| p["percent"].as_i64()).collect();
    assert_eq!(percents, [50, 80, 95], "{crossed:?}");
    assert_eq!(crossed[0]["tokens_used"], 70);
    assert_eq!(crossed[0]["cap"], 100);
    let m = t.metrics().await;
    assert!(
        m.contains(r#"prism_ai_budget_threshold_crossed{percent="95"} 1"#),
        "{m}"
    );
    assert!(
        m.contains(r#"prism_ai_fallbacks_total{feature="turn",reason="monthly_budget"}"#),
        "{m}"
    );
}

#[sqlx::test(migrator = "prism_event_store::db::MIGRATOR")]
async fn under_pressure_lens_goes_first_then_spectrum_then_turn_and_mirror(pool: PgPool) {
    let limits = SpendLimits {
        user_daily: None,
        monthly: Some(1000),
    };
    let (t, _calls) = app(pool, limits, true).await;
    let c = &t.commands;
    let spend = |n: u32| Usage {
        prompt_tokens: n,
        completion_tokens: 0,
    };
    let now = |_: ()| async {
        let mut out = Vec::new();
        for f in [
            AiFeature::Lens,
            AiFeature::Spectrum,
            AiFeature::Turn,
            AiFeature::Mirror,
            AiFeature::Safety,
        ] {
            out.push(c.ai_lane(f, None).await);
        }
        out
    };
    use Lane::{Builtin, Economy, Standard};
    assert_eq!(
        now(()).await,
        [Economy, Economy, Standard, Standard, Standard],
        "the lanes: economy for Lens and Spectrum"
    );
    c.ai_spent(AiFeature::Lens, None, Economy, spend(800), Answered::Model)
        .await;
    assert_eq!(
        now(()).await,
        [Builtin, Economy, Standard, Standard, Standard],
        "80 %: Lens uses its templates"
    );
    c.ai_spent(AiFeature::Spectrum, None, Economy, spend(150), Answered::Model)
        .await;
    assert_eq!(
        now(()).await,
        [Builtin, Builtin, Standard, Standard, Standard],
        "95 %: Spectrum pauses"
    );
    c.ai_spent(AiFeature::Turn, None, Standard, spend(50), Answered::Model)
        .await;
    assert_eq!(
        now(()).await,
        [Builtin, Builtin, Builtin, Builtin, Standard],
        "100 %: Turn and Mirror too; never safety"
    );
    let models: Vec<(String, String)> = sqlx::query_as("SELECT feature, model FROM ai_usage ORDER BY feature")
        .fetch_all(&t.pool)
        .await
        .expect("usage");
    assert_eq!(
        models,
        [
            ("lens", "economy-model"),
            ("spectrum", "economy-model"),
            ("turn", "standard-model")
        ]
        .map(|(f, m)| (f.to_owned(), m.to_owned()))
    );
}
