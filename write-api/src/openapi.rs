//! The write API's OpenAPI document, served at `/openapi.json`.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::*;

#[derive(OpenApi)]
#[openapi(
    info(title = "Prism write API", version = "1", description = "Commands: each answers {id, position, version}. Honours Idempotency-Key and If-Match."),
    paths(
        auth::register, auth::login, auth::refresh, auth::logout,
        workspaces::create, workspaces::rename, workspaces::delete, workspaces::join, workspaces::rotate_join_code,
        members::change_role, members::remove,
        channels::create, channels::rename, channels::delete,
        messages::post, messages::edit, messages::delete, messages::react,
        conversations::start,
        docs::create, docs::update, docs::archive, docs::restore, docs::delete,
        turns::request, turns::save,
        mirror::start, mirror::message, mirror::reframe, mirror::close, mirror::delete,
        lens::create_goal, lens::add_action, lens::complete_action,
        me::exclude, me::reset, me::erase,
    ),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct WriteApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(c) = openapi.components.as_mut() {
            c.add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .build(),
                ),
            );
        }
    }
}
