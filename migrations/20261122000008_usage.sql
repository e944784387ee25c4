-- Reflection usage per user, feature and UTC day: `used` counts the requests charged against
-- the plan's daily allowance (taken atomically, given back if the command fails), the token
-- columns meter what the AI gateway spent on them.
CREATE TABLE usage_counters (
    user_id           uuid    NOT NULL,
    feature           text    NOT NULL,
    day               date    NOT NULL,
    used              integer NOT NULL DEFAULT 0,
    prompt_tokens     bigint  NOT NULL DEFAULT 0,
    completion_tokens bigint  NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, feature, day)
);

-- Each user's plan, written in the same transaction as the `entitlement.changed` event that
-- sets it, so the quota check reads it in the statement that charges the allowance (and every
-- write-api process sees a change at once). No row: the free plan.
CREATE TABLE entitlements (
    user_id    uuid PRIMARY KEY,
    plan       text        NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);
