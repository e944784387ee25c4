-- Platform-wide roles (e.g. `auditor`: may read every workspace's history and audit trail),
-- granted with `prism roles grant`; each grant is also an `auth.platform_role_granted` event.
CREATE TABLE platform_roles (
    user_id    uuid        NOT NULL,
    role       text        NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, role)
);
