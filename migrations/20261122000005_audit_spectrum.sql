-- The audit trail: one row per event, as the audit projection saw it. The event's hash is kept
-- so `audit verify` also catches an event deleted from the log after it was audited (the
-- per-aggregate chain alone cannot see its last event go).
CREATE TABLE audit_trail (
    position       bigint PRIMARY KEY,
    event_id       uuid        NOT NULL,
    workspace_id   uuid,
    actor_id       uuid,
    actor_kind     text        NOT NULL,
    action         text        NOT NULL,
    resource_type  text        NOT NULL,
    resource_id    uuid        NOT NULL,
    sequence       bigint      NOT NULL,
    recorded_at    timestamptz NOT NULL,
    request_id     text,
    correlation_id uuid,
    hash           bytea       NOT NULL
);
CREATE INDEX audit_trail_workspace ON audit_trail (workspace_id, position);
CREATE INDEX audit_trail_actor ON audit_trail (actor_id, position);

-- Spectrum: activity counters per subject (a user or a workspace) and period (ISO week or
-- month, by the event's own recorded_at, so a rebuild gives the same numbers).
CREATE TABLE spectrum_buckets (
    subject_kind       text        NOT NULL CHECK (subject_kind IN ('user', 'workspace')),
    subject_id         uuid        NOT NULL,
    period             text        NOT NULL CHECK (period IN ('week', 'month')),
    period_start       date        NOT NULL,
    messages_posted    bigint      NOT NULL DEFAULT 0,
    edits              bigint      NOT NULL DEFAULT 0,
    deletions          bigint      NOT NULL DEFAULT 0,
    reactions_given    bigint      NOT NULL DEFAULT 0,
    reactions_received bigint      NOT NULL DEFAULT 0,
    docs_created       bigint      NOT NULL DEFAULT 0,
    docs_edited        bigint      NOT NULL DEFAULT 0,
    first_activity     timestamptz NOT NULL,
    last_activity      timestamptz NOT NULL,
    PRIMARY KEY (subject_kind, subject_id, period, period_start)
);

-- The days a subject was active (active days and streaks are counted from these).
CREATE TABLE spectrum_days (
    subject_kind text NOT NULL,
    subject_id   uuid NOT NULL,
    day          date NOT NULL,
    PRIMARY KEY (subject_kind, subject_id, day)
);

-- The channels a subject was active in, per period (distinct channels).
CREATE TABLE spectrum_channels (
    subject_kind text NOT NULL,
    subject_id   uuid NOT NULL,
    period       text NOT NULL,
    period_start date NOT NULL,
    channel_id   uuid NOT NULL,
    PRIMARY KEY (subject_kind, subject_id, period, period_start, channel_id)
);

-- Who wrote each message and where, so a reaction can be credited to its receiver and an edit
-- to its channel.
CREATE TABLE spectrum_message_authors (
    message_id uuid PRIMARY KEY,
    author_id  uuid NOT NULL,
    channel_id uuid NOT NULL
);
