-- Password resets: a single-use token per request, stored as its digest (the token itself goes
-- out only by mail, sealed in the log). Command-side table, like credentials.
CREATE TABLE password_resets (
    token_hash  text PRIMARY KEY,
    user_id     uuid NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX password_resets_user ON password_resets (user_id);

-- The mail outbox, written by the `mail` projection in the same transaction as its checkpoint:
-- one row per message to send, keyed by the event that asked for it (so a replayed event never
-- sends twice). Nothing secret is kept here: the delivery worker renders the message from the
-- event at send time. `dead` rows are the dead letters (`prism outbox list`, `prism outbox retry`).
CREATE TABLE mail_outbox (
    event_id        uuid PRIMARY KEY,
    position        bigint NOT NULL,
    kind            text NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE status = 'pending';

-- A new password ends every session: the revocation poll reads it too.
DROP INDEX events_revoking;
CREATE INDEX events_revoking ON events (global_position)
    WHERE event_type IN ('auth.logged_out', 'auth.refresh_reuse_detected', 'auth.session_revoked', 'user.erased',
                         'auth.password_changed');
