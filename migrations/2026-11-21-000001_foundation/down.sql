DROP TABLE idempotency_keys;
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE users;
DROP TABLE partners;
DROP FUNCTION haki_touch_updated_at();
