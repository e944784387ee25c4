-- Impersonations (command side): who acts as whom, until when, and whether it ended. The
-- token's session is the impersonation's id; `impersonation.ended` revokes it everywhere.
CREATE TABLE impersonations (
    impersonation_id uuid PRIMARY KEY,
    admin_id         uuid NOT NULL,
    user_id          uuid NOT NULL,
    started_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    ended_at         timestamptz
);

-- What a user sees of the impersonations of their account (`GET /v1/me/impersonations`): a
-- read model of `impersonation.*` events. `reason` is sealed with the user's key.
CREATE TABLE rm_impersonations (
    impersonation_id uuid PRIMARY KEY,
    user_id          uuid NOT NULL,
    admin_id         uuid NOT NULL,
    reason           text NOT NULL,
    started_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    ended_at         timestamptz,
    ended_by         uuid
);
CREATE INDEX rm_impersonations_user ON rm_impersonations (user_id, impersonation_id);

-- The audit trail names the admin behind an impersonated event.
ALTER TABLE audit_trail ADD COLUMN impersonator uuid;
