-- The caller's sessions as they see them (`GET /v1/me/sessions`), from `auth.session_*` events:
-- a read model like the others (rebuilt from the log). `user_agent` is sealed with the owner's key.
CREATE TABLE rm_sessions (
    session_id   uuid PRIMARY KEY,
    user_id      uuid NOT NULL,
    user_agent   text,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz NOT NULL,
    ended_at     timestamptz
);
CREATE INDEX rm_sessions_user ON rm_sessions (user_id, session_id);

-- Invitation tokens (command side, like password resets): the digest of the single-use token,
-- which workspace and invitation it opens, and the invited address (normalised) it is for.
CREATE TABLE invitation_tokens (
    token_hash    text PRIMARY KEY,
    invitation_id uuid NOT NULL UNIQUE,
    workspace_id  uuid NOT NULL,
    email         text NOT NULL,
    expires_at    timestamptz NOT NULL,
    used_at       timestamptz
);

-- Pending invitations as admins see them, from the workspace's `invitation.*` events; `email`
-- sealed with the inviter's key for the invitation.
CREATE TABLE rm_invitations (
    invitation_id uuid PRIMARY KEY,
    workspace_id  uuid NOT NULL,
    email         text NOT NULL,
    role          text NOT NULL,
    invited_by    uuid NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    status        text NOT NULL DEFAULT 'pending'
);
CREATE INDEX rm_invitations_workspace ON rm_invitations (workspace_id, invitation_id);
