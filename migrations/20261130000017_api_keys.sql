-- Which workspace each API key belongs to (for DELETE /v1/api-keys/{id}); the key itself is
-- verified from the log (`api_key.created` names the SHA-256 of its secret).
CREATE TABLE api_keys (
    key_id uuid PRIMARY KEY,
    workspace_id uuid NOT NULL
);

-- Each node keeps its set of live API keys current from the log: the whole history once, then
-- what is new. This index makes both touch only the key events.
CREATE INDEX events_api_keys ON events (global_position)
    WHERE event_type IN ('api_key.created', 'api_key.revoked');

-- The read model of keys: what owners and admins list, and when each was last used.
CREATE TABLE rm_api_keys (
    key_id uuid PRIMARY KEY,
    workspace_id uuid NOT NULL,
    name text NOT NULL,
    scopes text[] NOT NULL,
    expires_at timestamptz,
    created_by uuid NOT NULL,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz,
    last_used_at timestamptz
);
CREATE INDEX rm_api_keys_workspace ON rm_api_keys (workspace_id, key_id);

-- Ending an impersonation ends its token: the revocation poll reads it too.
DROP INDEX events_revoking;
CREATE INDEX events_revoking ON events (global_position)
    WHERE event_type IN ('auth.logged_out', 'auth.refresh_reuse_detected', 'auth.session_revoked', 'user.erased',
                         'auth.password_changed', 'impersonation.ended');
