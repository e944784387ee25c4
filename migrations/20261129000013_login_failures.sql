-- Failed sign-ins per account, counted across nodes, instead of one permanent event each.
-- `account` is HMAC-SHA256(server key, normalised email): no unkeyed hash of an address, so a
-- guessed email cannot be confirmed from a copy of this table. Rows expire (see the sweeper).
CREATE TABLE login_failures (
    account      bytea       PRIMARY KEY,
    failures     integer     NOT NULL,
    window_start timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz
);
