DROP INDEX consents_expiry_idx;
DROP INDEX survivor_services_period_idx;
DROP INDEX referrals_submitted_day_idx;
DROP INDEX suspects_arrested_idx;
DROP INDEX survivors_intake_idx;
DROP INDEX court_sessions_date_idx;
