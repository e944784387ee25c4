//! Shared by the read API's test crates.

use axum::body::Body;

/// Reads the SSE body until `until` appears in it (or the stream ends, or 10 s pass); answers
/// what was read.
pub async fn read_sse(body: Body, until: &str) -> String {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !text.contains(until) {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            _ => break,
        }
    }
    text
}
