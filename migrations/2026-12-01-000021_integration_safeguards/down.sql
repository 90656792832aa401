ALTER TABLE api_keys DROP COLUMN token_version;
ALTER TABLE webhooks DROP COLUMN last_failure_at;
ALTER TABLE webhook_deliveries DROP COLUMN claim_token;
DROP TABLE follow_up_notices;
