-- Mentions resolve against handles (a display name lowercased, without spaces), kept by the
-- command side with the credentials it already owns (and erased with them).
ALTER TABLE credentials ADD COLUMN handle text;
CREATE INDEX credentials_handle ON credentials (handle);

-- Each user's notifications, owned by the `read_models` projection
-- (projections/src/read_models/notifications.rs). Ids are derived from the event and the
-- recipient, so a rebuild makes the same ones; read state comes from `notification.read`.
CREATE TABLE rm_notifications (
    notification_id uuid PRIMARY KEY,
    user_id         uuid NOT NULL,
    workspace_id    uuid NOT NULL,
    -- mention | reply | direct_message | invitation
    kind            text NOT NULL,
    -- the message, doc or invitation
    subject_id      uuid NOT NULL,
    -- the channel or conversation of a message
    channel_id      uuid,
    actor_id        uuid,
    position        bigint NOT NULL,
    created_at      timestamptz NOT NULL,
    read            boolean NOT NULL DEFAULT false
);
CREATE INDEX rm_notifications_user ON rm_notifications (user_id, notification_id DESC);
CREATE INDEX rm_notifications_unread ON rm_notifications (user_id, workspace_id) WHERE NOT read;
CREATE INDEX rm_notifications_subject ON rm_notifications (subject_id);
-- The live feed reads what the projection has added, by position.
CREATE INDEX rm_notifications_position ON rm_notifications (position);

-- A person's inbox lists the conversations they are in.
CREATE INDEX rm_conversations_member_a ON rm_conversations (member_a);
CREATE INDEX rm_conversations_member_b ON rm_conversations (member_b);
