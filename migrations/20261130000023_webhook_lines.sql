-- Each endpoint's pending deliveries in log order: a claim takes the head of each line from
-- this index (projections/src/webhooks/deliver.rs) instead of sorting every pending row.
CREATE INDEX webhook_deliveries_line ON webhook_deliveries (webhook_id, position) WHERE status = 'pending';
