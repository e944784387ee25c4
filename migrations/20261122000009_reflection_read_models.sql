-- Reflection read models (the read_models projection). Text columns hold the sealed form from
-- the events (see prism-vault): the read API opens them with the owner's key, so a destroyed
-- key makes every copy unreadable at once; the rows themselves go on deletion or erasure.
CREATE TABLE rm_mirror_sessions (
    session_id    uuid PRIMARY KEY,
    owner_id      uuid        NOT NULL,
    started_at    timestamptz NOT NULL,
    closed_at     timestamptz,
    reflection    text,
    message_count integer     NOT NULL DEFAULT 0,
    crisis_count  integer     NOT NULL DEFAULT 0,
    last_activity timestamptz NOT NULL
);
CREATE INDEX rm_mirror_sessions_owner ON rm_mirror_sessions (owner_id, session_id);

CREATE TABLE rm_mirror_messages (
    message_id uuid PRIMARY KEY,
    session_id uuid        NOT NULL,
    owner_id   uuid        NOT NULL,
    text       text,
    crisis     boolean     NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX rm_mirror_messages_session ON rm_mirror_messages (session_id, message_id);

CREATE TABLE rm_mirror_fragments (
    fragment_id uuid PRIMARY KEY,
    session_id  uuid        NOT NULL,
    message_id  uuid        NOT NULL,
    owner_id    uuid        NOT NULL,
    category    text        NOT NULL,
    start_char  integer     NOT NULL,
    end_char    integer     NOT NULL,
    confidence  real        NOT NULL,
    reframe     text,
    reframed_at timestamptz
);
CREATE INDEX rm_mirror_fragments_session ON rm_mirror_fragments (session_id);

CREATE TABLE rm_turns (
    turn_id      uuid PRIMARY KEY,
    owner_id     uuid        NOT NULL,
    text         text,
    crisis       boolean     NOT NULL,
    reframes     jsonb,
    micro_action text,
    saved        boolean     NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL
);
CREATE INDEX rm_turns_owner ON rm_turns (owner_id, turn_id);

CREATE TABLE rm_lens_goals (
    goal_id    uuid PRIMARY KEY,
    owner_id   uuid        NOT NULL,
    title      text        NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX rm_lens_goals_owner ON rm_lens_goals (owner_id, goal_id);

CREATE TABLE rm_lens_actions (
    action_id    uuid PRIMARY KEY,
    goal_id      uuid        NOT NULL,
    owner_id     uuid        NOT NULL,
    title        text        NOT NULL,
    created_at   timestamptz NOT NULL,
    completed_at timestamptz
);
CREATE INDEX rm_lens_actions_goal ON rm_lens_actions (goal_id, action_id);

ALTER TABLE rm_users ADD COLUMN erased_at timestamptz;
