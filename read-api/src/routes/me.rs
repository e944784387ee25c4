//! `GET /v1/me`: the caller, with memberships.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::error::ReadError;
use crate::extract::Caller;
use crate::AppState;

#[utoipa::path(get, path = "/v1/me", tag = "me", description = "the caller, with memberships", params(("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")), responses((status = 200), (status = 401), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn me(State(s): State<AppState>, Caller(user): Caller) -> Result<Json<Value>, ReadError> {
    let row: Option<(String, String, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("SELECT email, name, registered_at FROM rm_users WHERE user_id = $1")
            .bind(user)
            .fetch_optional(&s.pool)
            .await?;
    let (mut email, mut name, registered_at) = row.ok_or(ReadError::NotFound)?;
    super::open_profiles(&s, vec![(user, &mut email), (user, &mut name)]).await?;
    let memberships: Vec<(Uuid, String, String)> = sqlx::query_as(
        "SELECT w.workspace_id, w.name, m.role FROM rm_members m JOIN rm_workspaces w USING (workspace_id)
          WHERE m.user_id = $1 AND NOT w.deleted ORDER BY w.workspace_id",
    )
    .bind(user)
    .fetch_all(&s.pool)
    .await?;
    let memberships: Vec<Value> = memberships
        .into_iter()
        .map(|(id, name, role)| json!({"workspace_id": id, "name": name, "role": role}))
        .collect();
    Ok(Json(
        json!({"user_id": user, "email": email, "name": name, "registered_at": registered_at, "memberships": memberships}),
    ))
}
