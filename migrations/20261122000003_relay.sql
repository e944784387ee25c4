-- Where the relay has published up to (the last position NATS acknowledged).
CREATE TABLE relay_checkpoints (
    name       text PRIMARY KEY,
    position   bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
