-- The event log: one table for every aggregate, a superset of postgres-es's `events` schema.
CREATE TABLE events (
    global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        uuid        NOT NULL UNIQUE,
    tenant_id       uuid,
    aggregate_type  text        NOT NULL,
    aggregate_id    uuid        NOT NULL,
    sequence        bigint      NOT NULL CHECK (sequence > 0),
    event_type      text        NOT NULL,
    event_version   integer     NOT NULL,
    payload         jsonb       NOT NULL,
    metadata        jsonb       NOT NULL,
    recorded_at     timestamptz NOT NULL,
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    -- sha256(previous event's hash || canonical bytes of this event); per aggregate.
    hash            bytea       NOT NULL,
    CONSTRAINT events_aggregate_sequence_key UNIQUE (aggregate_type, aggregate_id, sequence)
);
CREATE INDEX events_tenant_position ON events (tenant_id, global_position);

-- Snapshots: the state of an aggregate at a version, with that version's hash (the chain goes on from it).
CREATE TABLE snapshots (
    aggregate_type text        NOT NULL,
    aggregate_id   uuid        NOT NULL,
    version        bigint      NOT NULL,
    last_position  bigint      NOT NULL,
    state          jsonb       NOT NULL,
    hash           bytea       NOT NULL,
    taken_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (aggregate_type, aggregate_id)
);

-- Set-based rules (one account per email, unique channel names per workspace, one conversation
-- per pair) are claims written in the same transaction as the events that need them.
CREATE TABLE uniqueness (
    scope    text NOT NULL,
    value    text NOT NULL,
    owner_id uuid NOT NULL,
    PRIMARY KEY (scope, value)
);

-- Idempotency keys: the first answer, stored with the events it produced.
CREATE TABLE idempotency_keys (
    scope       text        NOT NULL,
    key         text        NOT NULL,
    fingerprint text        NOT NULL,
    status      integer     NOT NULL,
    response    jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);

-- This log's identity: a projector refuses events from another store.
CREATE TABLE store_identity (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    store_id   uuid        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO store_identity (store_id) VALUES (gen_random_uuid());

-- Appends one command's events (and its uniqueness claims and idempotency record) in one
-- statement, so one round trip and one implicit transaction.
--
-- It first takes a shared transaction-level advisory lock: every appender holds it from
-- before it allocates a global position until it commits or aborts. `prism_horizon_probe`
-- reads that lock table to know which positions may still be in flight; see
-- event-store/src/horizon.rs for why `max(global_position)` is not safe to read up to.
CREATE FUNCTION prism_append(
    p_tenant uuid, p_aggregate_type text, p_aggregate_id uuid, p_expected bigint, p_prev_hash bytea,
    p_event_ids uuid[], p_event_types text[], p_event_versions integer[],
    p_payloads jsonb[], p_metadata jsonb[], p_hashes bytea[], p_recorded_at timestamptz,
    p_claim_scopes text[], p_claim_values text[], p_release_scopes text[], p_release_values text[],
    p_idem_scope text, p_idem_key text, p_idem_fingerprint text, p_idem_status integer, p_idem_response jsonb
) RETURNS TABLE (first_position bigint, last_position bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_first bigint;
    v_last bigint;
    v_prev bytea;
    v_claimed integer;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(1347569997, 1);

    -- The expected version must be the aggregate's last event, and the chain must go on from its
    -- hash: a stale or forged expected version can neither leave a gap nor fork the chain.
    IF p_expected > 0 THEN
        SELECT e.hash INTO v_prev FROM events e
         WHERE e.aggregate_type = p_aggregate_type AND e.aggregate_id = p_aggregate_id AND e.sequence = p_expected;
        IF v_prev IS NULL OR v_prev <> p_prev_hash THEN
            RAISE EXCEPTION 'expected version % does not match the log', p_expected USING ERRCODE = 'PR002';
        END IF;
    END IF;

    WITH ins AS (
        INSERT INTO events (event_id, tenant_id, aggregate_type, aggregate_id, sequence, event_type,
                            event_version, payload, metadata, hash, recorded_at)
        SELECT e.id, p_tenant, p_aggregate_type, p_aggregate_id, p_expected + e.ord, e.typ, e.ver, e.pl, e.md, e.h, p_recorded_at
          FROM unnest(p_event_ids, p_event_types, p_event_versions, p_payloads, p_metadata, p_hashes)
               WITH ORDINALITY AS e(id, typ, ver, pl, md, h, ord)
         ORDER BY e.ord
        RETURNING global_position
    )
    SELECT min(global_position), max(global_position) INTO v_first, v_last FROM ins;

    IF p_release_scopes IS NOT NULL AND cardinality(p_release_scopes) > 0 THEN
        DELETE FROM uniqueness u
         USING unnest(p_release_scopes, p_release_values) AS r(scope, value)
         WHERE u.scope = r.scope AND u.value = r.value AND u.owner_id = p_aggregate_id;
    END IF;

    IF p_claim_scopes IS NOT NULL AND cardinality(p_claim_scopes) > 0 THEN
        INSERT INTO uniqueness (scope, value, owner_id)
        SELECT c.scope, c.value, p_aggregate_id FROM unnest(p_claim_scopes, p_claim_values) AS c(scope, value)
        -- Re-claiming what this aggregate already holds is fine; another owner's claim is not.
        ON CONFLICT (scope, value) DO UPDATE SET owner_id = EXCLUDED.owner_id
           WHERE uniqueness.owner_id = EXCLUDED.owner_id;
        GET DIAGNOSTICS v_claimed = ROW_COUNT;
        IF v_claimed < cardinality(p_claim_scopes) THEN
            RAISE EXCEPTION 'uniqueness claim refused' USING ERRCODE = 'PR001',
                DETAIL = (SELECT string_agg(c.scope, ',') FROM unnest(p_claim_scopes, p_claim_values) AS c(scope, value)
                           WHERE EXISTS (SELECT 1 FROM uniqueness u WHERE u.scope = c.scope AND u.value = c.value AND u.owner_id <> p_aggregate_id));
        END IF;
    END IF;

    IF p_idem_key IS NOT NULL THEN
        INSERT INTO idempotency_keys (scope, key, fingerprint, status, response)
        VALUES (p_idem_scope, p_idem_key, p_idem_fingerprint, p_idem_status,
                p_idem_response || jsonb_build_object('position', v_last));
    END IF;

    first_position := v_first;
    last_position := v_last;
    RETURN NEXT;
END
$$;

-- What a reader needs to compute the safe horizon, read in this order: the last position any
-- appender has allocated, then the virtual transaction ids of the appenders still in flight.
CREATE FUNCTION prism_horizon_probe(OUT last_allocated bigint, OUT inflight text[])
LANGUAGE plpgsql AS $$
BEGIN
    SELECT CASE WHEN s.is_called THEN s.last_value ELSE 0 END INTO last_allocated
      FROM events_global_position_seq s;
    SELECT coalesce(array_agg(l.virtualtransaction), '{}') INTO inflight
      FROM pg_locks l
     WHERE l.locktype = 'advisory' AND l.classid = 1347569997 AND l.objid = 1 AND l.objsubid = 2
       AND l.granted
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database());
END
$$;
