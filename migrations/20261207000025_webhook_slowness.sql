-- Slow answers in a row per endpoint (projections/src/webhooks/deliver.rs): each doubles the wait
-- before the endpoint's next delivery, and a write node disables an endpoint that stays slow.
ALTER TABLE webhook_endpoints ADD COLUMN slow_in_a_row int NOT NULL DEFAULT 0;
