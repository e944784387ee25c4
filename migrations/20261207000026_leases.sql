-- Leases (bus/src/lease.rs): which process is active for a job that runs once per deployment
-- (the relay, each projection's projector on a durable bus). A lease expires on Postgres's clock,
-- so a standby takes over from a hung or partitioned holder as surely as from a dead one.
CREATE TABLE leases (
    name       text PRIMARY KEY,
    holder     uuid NOT NULL,
    expires_at timestamptz NOT NULL,
    since      timestamptz NOT NULL DEFAULT now(),
    -- Who holds it, for an operator: `<PRISM_NODE_ID>:<pid>`.
    holder_name text NOT NULL DEFAULT ''
);
