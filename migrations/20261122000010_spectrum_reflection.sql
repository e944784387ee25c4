-- Reflection signals for the spectrum: one row per fact (a session started, a fragment found
-- with its category, a turn, a saved turn, a crisis, a lens action added or completed), at the
-- event's own time; counted per week and month when read. A session's facts go when it is
-- excluded or deleted, every fact of a user on `spectrum.reset` and erasure.
CREATE TABLE spectrum_reflection (
    user_id    uuid        NOT NULL,
    kind       text        NOT NULL,
    session_id uuid,
    category   text,
    at         timestamptz NOT NULL
);
CREATE INDEX spectrum_reflection_user ON spectrum_reflection (user_id, at);
CREATE INDEX spectrum_reflection_session ON spectrum_reflection (session_id) WHERE session_id IS NOT NULL;

-- Sessions their owners left out of the spectrum (facts arriving later are not recorded).
CREATE TABLE spectrum_exclusions (
    user_id    uuid NOT NULL,
    session_id uuid NOT NULL,
    PRIMARY KEY (session_id)
);
