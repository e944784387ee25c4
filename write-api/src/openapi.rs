//! The write API's OpenAPI document, served at `/openapi.json`.

use prism_telemetry::edge::{BearerAuth, EdgeResponses};
use utoipa::OpenApi;

/// What the edge may answer any command (408, 413, 414, 429, 431, 503).
const EDGE: EdgeResponses = EdgeResponses { commands: true };

use crate::routes::*;

#[derive(OpenApi)]
#[openapi(
    info(title = "Prism write API", version = "1", description = "Commands: each answers {id, position, version}. Honours Idempotency-Key and If-Match."),
    paths(
        auth::register, auth::login, auth::refresh, auth::logout, auth::password_reset, auth::password_reset_confirm, auth::verify_email, auth::change_password, me::end_session,
        workspaces::create, workspaces::rename, workspaces::delete, workspaces::join, workspaces::rotate_join_code,
        invitations::invite, invitations::accept, invitations::revoke,
        api_keys::create, api_keys::revoke, admin::start, admin::end,
        webhooks::create, webhooks::update, webhooks::rotate_secret, webhooks::delete, webhooks::replay_one, webhooks::replay_dead,
        members::change_role, members::remove,
        channels::create, channels::rename, channels::delete,
        messages::post, messages::edit, messages::delete, messages::react,
        conversations::start,
        files::upload,
        docs::create, docs::update, docs::archive, docs::restore, docs::delete,
        turns::request, turns::save,
        mirror::start, mirror::message, mirror::reframe, mirror::close, mirror::delete,
        lens::create_goal, lens::add_action, lens::complete_action,
        me::exclude, me::reset, me::erase, me::rename, me::read_notifications,
    ),
    modifiers(&BearerAuth, &EDGE),
    security(("bearer" = []))
)]
pub struct WriteApiDoc;

/// The write API's contract as served: the generated document with the conventions every
/// operation follows (`prism_telemetry::contract`).
pub fn document() -> serde_json::Value {
    static DOC: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        let doc = serde_json::to_value(WriteApiDoc::openapi()).unwrap_or_default();
        prism_telemetry::contract::finish(doc, prism_telemetry::contract::Api::Write)
    })
    .clone()
}
