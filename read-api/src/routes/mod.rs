//! One file per route group. Every query is filtered by the caller's memberships: a
//! workspace the caller is not in does not exist for them (404), and neither does anything in it.

pub mod audit;
pub mod docs;
pub mod export;
pub mod files;
pub mod history;
pub mod inbox;
pub mod me;
pub mod messages;
pub mod ops;
pub mod reflection;
pub mod search;
pub mod spectrum;
pub mod stream;
pub mod workspaces;

use prism_domain::Role;
use prism_domain::WorkspaceId;
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::ReadError;
use crate::extract::Reader;

/// A cursor-paginated list.
#[derive(Serialize)]
pub struct List<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> List<T> {
    /// `rows` was fetched with `limit + 1` to know whether there is more.
    pub fn page(mut rows: Vec<T>, limit: i64, id: impl Fn(&T) -> Uuid) -> Self {
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if more {
            rows.last().map(|r| id(r).to_string())
        } else {
            None
        };
        Self {
            items: rows,
            next_cursor,
        }
    }
}

/// The caller's role in a live workspace, or 404. An API key is a member of its own
/// workspace and no one anywhere else.
pub async fn role(pool: &PgPool, workspace: WorkspaceId, who: impl Into<Reader>) -> Result<Role, ReadError> {
    use prism_projections::read_models::workspaces;
    match who.into() {
        Reader::User(user) => workspaces::role(pool, workspace, user)
            .await?
            .ok_or(ReadError::NotFound),
        Reader::Key { workspace: own, .. } if own == workspace && workspaces::live(pool, workspace).await? => {
            Ok(Role::Member)
        }
        Reader::Key { .. } => Err(ReadError::NotFound),
    }
}

/// Admins and owners of the workspace, and platform auditors, may read its audit trail and
/// history; other members get 403, everyone else 404.
pub async fn oversee(
    s: &crate::AppState,
    who: &crate::extract::Principal,
    workspace: WorkspaceId,
) -> Result<(), ReadError> {
    if who.auditor {
        return Ok(());
    }
    match role(&s.reads(), workspace, who.user).await? {
        Role::Owner | Role::Admin => Ok(()),
        Role::Member => Err(ReadError::Forbidden("this is for the workspace's admins and owners")),
    }
}

/// Opens sealed profile fields (emails, display names from `user.registered`) in place, with
/// one key lookup for all their owners — and none when nothing is sealed.
pub(crate) async fn open_profiles(s: &crate::AppState, fields: Vec<(Uuid, &mut String)>) -> Result<(), ReadError> {
    let mut users: Vec<Uuid> = fields
        .iter()
        .filter(|(_, v)| prism_vault::is_sealed(v))
        .map(|(u, _)| *u)
        .collect();
    if users.is_empty() {
        return Ok(());
    }
    users.sort_unstable();
    users.dedup();
    let openers = s.vault.user_openers(&users).await?;
    // A page often names one author many times: each sealed value is opened once.
    let mut opened: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for (u, v) in fields {
        if prism_vault::is_sealed(v) {
            if let Some(plain) = opened.get(v.as_str()) {
                *v = plain.clone();
                continue;
            }
            let plain = match openers.get(&u) {
                Some(o) => o.open(v)?,
                None => prism_vault::SHREDDED.to_owned(),
            };
            opened.insert(std::mem::replace(v, plain.clone()), plain);
        }
    }
    Ok(())
}
