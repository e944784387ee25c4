-- Why a key was revoked or an endpoint disabled, when Prism did it rather than a person:
-- `grantor_lost_authority` (its creator was removed, demoted or erased), or the delivery
-- worker's reason for an endpoint that kept failing or was too slow. Null: by hand.
ALTER TABLE rm_api_keys ADD COLUMN revoked_reason text;
ALTER TABLE webhook_endpoints ADD COLUMN disabled_reason text;
