-- Projections: where each one stands, and why it stopped if it did.
CREATE TABLE projection_status (
    name        text PRIMARY KEY,
    position    bigint      NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    last_error  text,
    halted_at   timestamptz
);

-- Relational read models, owned by the `read_models` projection (projections/src/read_models).
CREATE TABLE rm_users (
    user_id       uuid PRIMARY KEY,
    email         text NOT NULL,
    name          text NOT NULL,
    registered_at timestamptz NOT NULL
);

CREATE TABLE rm_workspaces (
    workspace_id uuid PRIMARY KEY,
    name         text NOT NULL,
    owner_id     uuid NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    deleted      boolean NOT NULL DEFAULT false,
    version      bigint NOT NULL
);

CREATE TABLE rm_members (
    workspace_id uuid NOT NULL,
    user_id      uuid NOT NULL,
    role         text NOT NULL,
    joined_at    timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX rm_members_user ON rm_members (user_id);

CREATE TABLE rm_channels (
    channel_id   uuid PRIMARY KEY,
    workspace_id uuid NOT NULL,
    name         text NOT NULL,
    created_by   uuid NOT NULL,
    created_at   timestamptz NOT NULL,
    deleted      boolean NOT NULL DEFAULT false
);
CREATE INDEX rm_channels_workspace ON rm_channels (workspace_id, name);

CREATE TABLE rm_conversations (
    conversation_id uuid PRIMARY KEY,
    workspace_id    uuid NOT NULL,
    member_a        uuid NOT NULL,
    member_b        uuid NOT NULL,
    created_at      timestamptz NOT NULL
);

-- Message ids are UUIDv7: ordering by id is ordering by creation time.
CREATE TABLE rm_messages (
    message_id   uuid PRIMARY KEY,
    workspace_id uuid NOT NULL,
    channel_id   uuid NOT NULL,
    author_id    uuid NOT NULL,
    body         text NOT NULL,
    parent_id    uuid,
    created_at   timestamptz NOT NULL,
    edited_at    timestamptz,
    deleted      boolean NOT NULL DEFAULT false,
    reply_count  integer NOT NULL DEFAULT 0,
    -- emoji → count, kept by the projection so a page of messages is one index scan.
    reactions    jsonb NOT NULL DEFAULT '{}',
    version      bigint NOT NULL
);
CREATE INDEX rm_messages_channel ON rm_messages (channel_id, message_id DESC);

CREATE TABLE rm_reactions (
    message_id uuid NOT NULL,
    emoji      text NOT NULL,
    user_id    uuid NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
);

CREATE TABLE rm_docs (
    doc_id       uuid PRIMARY KEY,
    workspace_id uuid NOT NULL,
    author_id    uuid NOT NULL,
    title        text NOT NULL,
    body         text NOT NULL,
    archived     boolean NOT NULL DEFAULT false,
    deleted      boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    version      bigint NOT NULL
);
CREATE INDEX rm_docs_workspace ON rm_docs (workspace_id, doc_id DESC);

CREATE TABLE rm_doc_versions (
    doc_id    uuid NOT NULL,
    version   bigint NOT NULL,
    title     text NOT NULL,
    body      text NOT NULL,
    edited_by uuid NOT NULL,
    at        timestamptz NOT NULL,
    PRIMARY KEY (doc_id, version)
);
