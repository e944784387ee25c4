-- Which workspace each webhook endpoint belongs to (command side, for the routes by id).
CREATE TABLE webhook_workspaces (
    webhook_id   uuid PRIMARY KEY,
    workspace_id uuid NOT NULL
);

-- The delivery worker's endpoints, from the workspace's `webhook.*` events; `secret` sealed.
CREATE TABLE webhook_endpoints (
    webhook_id   uuid PRIMARY KEY,
    workspace_id uuid NOT NULL,
    url          text NOT NULL,
    events       text[] NOT NULL,
    description  text,
    secret       text NOT NULL,
    enabled      boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL,
    deleted      boolean NOT NULL DEFAULT false
);
CREATE INDEX webhook_endpoints_workspace ON webhook_endpoints (workspace_id) WHERE NOT deleted;

-- One row per (endpoint, event): written with the worker's checkpoint (exactly once), delivered
-- at least once, parked as `dead` after the last attempt.
CREATE TABLE webhook_deliveries (
    delivery_id     uuid PRIMARY KEY,
    webhook_id      uuid NOT NULL,
    event_id        uuid NOT NULL,
    position        bigint NOT NULL,
    event_type      text NOT NULL,
    status          text NOT NULL DEFAULT 'pending',
    attempts        integer NOT NULL DEFAULT 0,
    last_status     integer,
    last_error      text,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (webhook_id, delivery_id);
