-- Write-side auth state. Credentials are not events: an exported log must never carry a
-- password hash. The user's existence and email are events (`user.registered`).
CREATE TABLE credentials (
    user_id       uuid PRIMARY KEY,
    email         text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Rotating refresh tokens. Only a SHA-256 of the token is stored. A token is used once; a
-- second use of the same token means it leaked, and revokes its whole family.
CREATE TABLE refresh_tokens (
    token_hash text PRIMARY KEY,
    family_id  uuid        NOT NULL,
    user_id    uuid        NOT NULL,
    issued_at  timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    revoked_at timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
