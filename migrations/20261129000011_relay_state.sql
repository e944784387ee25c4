-- Whether the relay is stuck, and why: set while it cannot publish, cleared by the next publish.
ALTER TABLE relay_checkpoints
    ADD COLUMN last_error    text,
    ADD COLUMN failing_since timestamptz;
