use prism_domain::aggregates::{User, UserCommand};
use prism_domain::values::{DisplayName, Email};
use prism_domain::UserId;
use prism_event_store::Claim;

use super::{Client, Tokens};
use crate::pipeline::{Decision, Effects};
use crate::{valid, CommandContext, CommandError, Commands};

impl Commands {
    /// `POST /v1/auth/register`: one account per email (a uniqueness claim committed with the
    /// `user.registered` event and the credentials).
    pub async fn register(
        &self,
        email: &str,
        password: &str,
        name: &str,
        client: impl Into<Client>,
    ) -> Result<Tokens, CommandError> {
        let client = client.into();
        let request_id = client.request_id.clone();
        let email = valid(Email::parse(email))?;
        let name = valid(DisplayName::parse(name))?;
        let hash = self.hash_password(password).await?;

        let id = UserId::new();
        let mut ctx = CommandContext::new(id);
        ctx.request_id = request_id;
        let mut tx = self.store.pool().begin().await?;
        let effects = Effects {
            claims: vec![Claim::new("email", email.as_str())],
            ..Effects::created()
        };
        // The log keeps the email and name sealed with the user's own key: erasure makes them
        // unreadable there too. (Login looks the email up in `credentials`, deleted on erasure.)
        // The address is confirmed by a link in a mail (`auth.email_verification_requested`).
        let verify = prism_auth::random_token(32);
        let [sealed_email, sealed_name, sealed_to, sealed_token] = self
            .vault
            .seal_all(
                prism_vault::Scope::user(id),
                [email.as_str(), name.as_str(), email.as_str(), verify.as_str()],
            )
            .await?;
        let cmd = UserCommand::Register {
            id,
            email: sealed_email,
            name: sealed_name,
        };
        self.decide_on(
            Some(&mut tx),
            &ctx,
            Decision::<User>::new(id.0, None, Default::default(), cmd).with(effects),
        )
        .await?;
        sqlx::query("INSERT INTO credentials (user_id, email, password_hash, handle) VALUES ($1, $2, $3, $4)")
            .bind(id.0)
            .bind(email.as_str())
            .bind(&hash)
            .bind(prism_domain::values::handle_of(name.as_str()))
            .execute(&mut *tx)
            .await?;
        self.request_verification(&mut tx, id, sealed_to, sealed_token, &verify, ctx.request_id.clone())
            .await?;
        let tokens = self.issue_tokens(&mut *tx, id, None).await?;
        tx.commit().await?;
        tracing::info!(user_id = %id, "user registered");
        self.started_session(&tokens, &client).await;
        Ok(tokens)
    }
}
