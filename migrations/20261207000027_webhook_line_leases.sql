-- An endpoint's line is leased to one delivery worker at a time, across processes
-- (projections/src/webhooks/deliver.rs): at most one delivery in flight per endpoint, in order,
-- whatever the number of workers. A worker that dies leaves the lease to run out.
ALTER TABLE webhook_endpoints ADD COLUMN line_holder uuid, ADD COLUMN line_until timestamptz;
