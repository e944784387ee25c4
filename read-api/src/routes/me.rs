//! `GET /v1/me`: the caller, with memberships.

use axum::extract::State;
use axum::Json;
use prism_projections::read_models::{users, workspaces};
use serde_json::{json, Value};

use crate::error::ReadError;
use crate::extract::Caller;
use crate::AppState;

#[utoipa::path(get, path = "/v1/me", tag = "me", description = "the caller, with memberships", params(("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")), responses((status = 200), (status = 401), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn me(State(s): State<AppState>, Caller(user): Caller) -> Result<Json<Value>, ReadError> {
    let profile = users::profile(&s.pool, user).await?.ok_or(ReadError::NotFound)?;
    let (mut email, mut name) = (profile.email, profile.name);
    super::open_profiles(&s, vec![(user.0, &mut email), (user.0, &mut name)]).await?;
    let memberships: Vec<Value> = workspaces::of_member(&s.pool, user, None, i64::MAX)
        .await?
        .into_iter()
        .map(|w| json!({"workspace_id": w.id, "name": w.name, "role": w.role}))
        .collect();
    let registered_at = profile.registered_at;
    Ok(Json(
        json!({"user_id": user, "email": email, "name": name, "registered_at": registered_at, "memberships": memberships}),
    ))
}
