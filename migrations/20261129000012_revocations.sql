-- Every API node keeps the set of revoked sessions current from the log; this partial index
-- makes its poll (and its first read of the last hour) touch only revoking events.
CREATE INDEX events_revoking ON events (global_position)
    WHERE event_type IN ('auth.logged_out', 'auth.refresh_reuse_detected', 'auth.session_revoked', 'user.erased');
