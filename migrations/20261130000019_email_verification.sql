-- Email verification tokens (command side, like password resets): only the digest is kept.
CREATE TABLE email_verifications (
    token_hash text PRIMARY KEY,
    user_id    uuid NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX email_verifications_user ON email_verifications (user_id);

ALTER TABLE credentials ADD COLUMN email_verified_at timestamptz;

-- The read model shows whether the address was confirmed (from `auth.email_verified`).
ALTER TABLE rm_users ADD COLUMN email_verified_at timestamptz;
