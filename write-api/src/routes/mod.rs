//! One file per route group, each with its request types and OpenAPI annotations.

pub mod admin;
pub mod api_keys;
pub mod auth;
pub mod channels;
pub mod conversations;
pub mod docs;
pub mod files;
pub mod invitations;
pub mod lens;
pub mod me;
pub mod members;
pub mod messages;
pub mod mirror;
pub mod ops;
pub mod turns;
pub mod webhooks;
pub mod workspaces;

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// What every command answers (extra fields vary by command).
#[derive(Serialize, ToSchema)]
pub struct CommandAnswer {
    pub id: Uuid,
    /// Global position of the last event appended (read your writes with `X-Min-Position`).
    pub position: i64,
    /// The aggregate's version after the command (send it back as `If-Match`).
    pub version: i64,
}

/// The error shape of every failure.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}
