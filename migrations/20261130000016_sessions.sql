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
