//! Both APIs wrap their routers in `edge::observed`: every request runs inside a `request` span
//! naming the API, the method, the path and the request id, and the answer carries that id.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use axum::Router;
use tower::ServiceExt;
use tracing::span::{Attributes, Id};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Records every span's name and fields as text.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<String>>>);

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={:?} ", field.name(), value));
    }
}

impl<S: Subscriber> Layer<S> for Spans {
    fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
        let mut f = Fields(format!("{} ", attrs.metadata().name()));
        attrs.record(&mut f);
        self.0.lock().expect("spans").push(f.0);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn every_request_has_a_span_and_a_request_id() {
    let spans = Spans::default();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(spans.clone()));
    let app = prism_telemetry::edge::observed(Router::new().route("/v1/things", get(|| async { "ok" })), "read-api");
    let res = app
        .oneshot(
            Request::builder()
                .uri("/v1/things")
                .header("x-request-id", "client-chosen-42")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("answer");
    assert_eq!(res.headers()["x-request-id"], "client-chosen-42");
    let seen = spans.0.lock().expect("spans").join("\n");
    assert!(seen.contains("request "), "{seen}");
    assert!(seen.contains("service=\"read-api\""), "{seen}");
    assert!(seen.contains("path=/v1/things"), "{seen}");
    assert!(seen.contains("request_id=client-chosen-42"), "{seen}");
}
