//! Adapters between crates that must not import each other: the write API reaches the webhook
//! worker's dead letters (a projection's table) only through its `DeadLetters` port.

use futures::future::BoxFuture;
use uuid::Uuid;

/// `prism_write_api::routes::webhooks::DeadLetters` over `prism_projections::webhooks::replay`.
pub struct WebhookDeadLetters(pub sqlx::PgPool);

impl prism_write_api::routes::webhooks::DeadLetters for WebhookDeadLetters {
    fn replay(&self, webhook: Uuid, delivery: Option<Uuid>) -> BoxFuture<'_, Result<u64, String>> {
        Box::pin(async move {
            prism_projections::webhooks::replay(&self.0, webhook, delivery)
                .await
                .map_err(|e| e.to_string())
        })
    }
}
