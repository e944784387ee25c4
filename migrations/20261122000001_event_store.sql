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

-- Appends the events of one or more commands (each for its own aggregate), with their
-- uniqueness claims and idempotency records, in one statement: one round trip and one
-- transaction. The event store groups concurrent commands into one call (group commit), so a
-- busy server commits many commands per WAL flush; a call that fails is retried command by
-- command, so one command's conflict never fails another's.
--
-- It first takes a shared transaction-level advisory lock: every appender holds it from
-- before it allocates a global position until it commits or aborts. `prism_horizon_probe`
-- reads that lock table to know which positions may still be in flight; see
-- event-store/src/horizon.rs for why `max(global_position)` is not safe to read up to.
--
-- Items are numbered from 1; `e_item`, `c_item` and `r_item` say which item an event, a claim
-- or a release belongs to. Guards (`g_*`) are checked for the whole call.
CREATE FUNCTION prism_append(
    p_tenants uuid[], p_types text[], p_ids uuid[], p_expected bigint[], p_prev_hashes bytea[],
    p_idem_scopes text[], p_idem_keys text[], p_idem_fingerprints text[], p_idem_status integer[], p_idem_responses jsonb[],
    e_item integer[], e_ids uuid[], e_types text[], e_versions integer[], e_payloads jsonb[], e_metadata jsonb[],
    e_hashes bytea[], e_sequences bigint[], e_recorded_at timestamptz[],
    c_item integer[], c_scopes text[], c_values text[],
    r_item integer[], r_scopes text[], r_values text[],
    g_types text[], g_ids uuid[], g_versions bigint[]
) RETURNS TABLE (item integer, first_position bigint, last_position bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_bad integer;
    v_claimed integer;
    v_items integer[];
    v_first bigint[];
    v_last bigint[];
BEGIN
    PERFORM pg_advisory_xact_lock_shared(1347569997, 1);

    -- Each expected version must be its aggregate's last event, and each chain must go on from
    -- that event's hash: a stale or forged expected version can neither leave a gap nor fork
    -- the chain. (A concurrent duplicate is caught by the unique sequence below.)
    SELECT count(*) INTO v_bad
      FROM unnest(p_types, p_ids, p_expected, p_prev_hashes) AS i(typ, id, expected, prev)
     WHERE i.expected > 0
       AND NOT EXISTS (SELECT 1 FROM events e
                        WHERE e.aggregate_type = i.typ AND e.aggregate_id = i.id
                          AND e.sequence = i.expected AND e.hash = i.prev);
    IF v_bad > 0 THEN
        RAISE EXCEPTION 'an expected version does not match the log' USING ERRCODE = 'PR002';
    END IF;

    -- Guards: the other aggregates a command was decided on (the workspace whose member list
    -- authorized it, the channel it posts to) must not have moved since they were read. This
    -- lets the application decide on cached state without a round trip to check freshness.
    IF cardinality(g_ids) > 0 AND EXISTS (
        SELECT 1 FROM unnest(g_types, g_ids, g_versions) AS g(typ, id, ver)
         WHERE EXISTS (SELECT 1 FROM events e
                        WHERE e.aggregate_type = g.typ AND e.aggregate_id = g.id AND e.sequence > g.ver)) THEN
        RAISE EXCEPTION 'an aggregate the command was decided on has changed' USING ERRCODE = 'PR003';
    END IF;

    WITH ins AS (
        INSERT INTO events (event_id, tenant_id, aggregate_type, aggregate_id, sequence, event_type,
                            event_version, payload, metadata, hash, recorded_at)
        SELECT ev.id, p_tenants[ev.item], p_types[ev.item], p_ids[ev.item], ev.seq, ev.typ, ev.ver,
               ev.pl, ev.md, ev.h, ev.at
          FROM unnest(e_item, e_ids, e_types, e_versions, e_payloads, e_metadata, e_hashes, e_sequences, e_recorded_at)
               WITH ORDINALITY AS ev(item, id, typ, ver, pl, md, h, seq, at, ord)
         ORDER BY ev.ord
        RETURNING events.event_id, events.global_position
    )
    SELECT array_agg(x.item ORDER BY x.item), array_agg(x.f ORDER BY x.item), array_agg(x.l ORDER BY x.item)
      INTO v_items, v_first, v_last
      FROM (SELECT m.item, min(ins.global_position) AS f, max(ins.global_position) AS l
              FROM ins JOIN unnest(e_ids, e_item) AS m(id, item) ON m.id = ins.event_id
             GROUP BY m.item) x;

    IF cardinality(r_item) > 0 THEN
        DELETE FROM uniqueness u
         USING unnest(r_item, r_scopes, r_values) AS r(item, scope, value)
         WHERE u.scope = r.scope AND u.value = r.value AND u.owner_id = p_ids[r.item];
    END IF;

    IF cardinality(c_item) > 0 THEN
        INSERT INTO uniqueness (scope, value, owner_id)
        SELECT c.scope, c.value, p_ids[c.item] FROM unnest(c_item, c_scopes, c_values) AS c(item, scope, value)
        -- Re-claiming what this aggregate already holds is fine; another owner's claim is not.
        ON CONFLICT (scope, value) DO UPDATE SET owner_id = EXCLUDED.owner_id
           WHERE uniqueness.owner_id = EXCLUDED.owner_id;
        GET DIAGNOSTICS v_claimed = ROW_COUNT;
        IF v_claimed < cardinality(c_item) THEN
            RAISE EXCEPTION 'uniqueness claim refused' USING ERRCODE = 'PR001',
                DETAIL = coalesce((SELECT string_agg(DISTINCT c.scope, ',')
                                     FROM unnest(c_item, c_scopes, c_values) AS c(item, scope, value)
                                    WHERE EXISTS (SELECT 1 FROM uniqueness u WHERE u.scope = c.scope AND u.value = c.value
                                                    AND u.owner_id <> p_ids[c.item])), 'value');
        END IF;
    END IF;

    INSERT INTO idempotency_keys (scope, key, fingerprint, status, response)
    SELECT i.scope, i.key, i.fp, i.status, i.resp || jsonb_build_object('position', v_last[array_position(v_items, i.ord::integer)])
      FROM unnest(p_idem_scopes, p_idem_keys, p_idem_fingerprints, p_idem_status, p_idem_responses)
           WITH ORDINALITY AS i(scope, key, fp, status, resp, ord)
     WHERE i.key IS NOT NULL;

    RETURN QUERY SELECT * FROM unnest(v_items, v_first, v_last);
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
