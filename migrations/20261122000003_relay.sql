-- Where the relay has published up to (the last position NATS acknowledged).
CREATE TABLE relay_checkpoints (
    name       text PRIMARY KEY,
    position   bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Wake the relay as soon as events commit, instead of polling: one notification per append
-- transaction (Postgres folds identical notifications of one transaction into one).
CREATE FUNCTION prism_notify_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('prism_events', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION prism_notify_events();
