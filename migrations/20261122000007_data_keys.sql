-- Data keys (see prism-vault): the AES-256-GCM keys that seal users' journal text, stored only
-- wrapped by the master key. A key belongs to one user and has a scope: the user's own id (turns,
-- goals) or one mirror session's id, so deleting a session shreds just its text. Destroying a
-- key sets `wrapped` to NULL and keeps the row as a tombstone; the tombstone of a user's own
-- scope (erasure) refuses every new key for that user.
CREATE TABLE data_keys (
    scope_id     uuid PRIMARY KEY,
    user_id      uuid        NOT NULL,
    wrapped      bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    destroyed_at timestamptz,
    CHECK ((wrapped IS NULL) = (destroyed_at IS NOT NULL))
);
CREATE INDEX data_keys_user ON data_keys (user_id);
