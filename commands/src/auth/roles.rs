use prism_domain::auth_events::{AuthEvent, PLATFORM_ROLES};
use prism_domain::{DomainError, UserId};

use super::auth_batch;
use crate::{CommandError, Commands};

impl Commands {
    /// `user` has an account (not erased), else 404.
    pub(crate) async fn existing_user(&self, user: UserId) -> Result<(), CommandError> {
        let known: Option<i32> = sqlx::query_scalar("SELECT 1 FROM credentials WHERE user_id = $1")
            .bind(user.0)
            .fetch_optional(self.store.pool())
            .await?;
        match known {
            Some(_) => Ok(()),
            None => Err(DomainError::NotFound("user").into()),
        }
    }

    /// `prism roles grant USER ROLE`: an operator's grant of a platform role, recorded as an
    /// event in the same transaction as the role row. Tokens issued from then on carry it.
    /// Answers false when the user already had the role.
    pub async fn grant_platform_role(&self, user: UserId, role: &str) -> Result<bool, CommandError> {
        if !PLATFORM_ROLES.contains(&role) {
            let message = format!("unknown platform role {role:?} (known: {})", PLATFORM_ROLES.join(", "));
            return Err(DomainError::Invalid { field: "role", message }.into());
        }
        self.existing_user(user).await?;
        let mut tx = self.store.pool().begin().await?;
        let added = sqlx::query("INSERT INTO platform_roles (user_id, role) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(user.0)
            .bind(role)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        if added {
            let event = AuthEvent::PlatformRoleGranted {
                user_id: user,
                role: role.to_owned(),
            };
            let batch = auth_batch(&event, None).map_err(|e| CommandError::Internal(e.to_string()))?;
            self.store.append_on(&mut tx, batch).await?;
        }
        tx.commit().await?;
        Ok(added)
    }
}
